"""Queries the bot's commands, digests and health checks need over subscribers, outbox and posts."""

from __future__ import annotations

import json
from datetime import datetime
from sqlite3 import Row

from bot.timeutil import iso
from storage.db import Database


async def set_display_name(db: Database, subscriber_id: int, name: str | None) -> None:
    """Needs a transaction."""
    await db.execute("UPDATE subscribers SET display_name = ? WHERE subscriber_id = ?", (name, subscriber_id))


async def set_language(db: Database, subscriber_id: int, language: str, now: datetime) -> None:
    """Needs a transaction."""
    await db.execute(
        "UPDATE subscribers SET language = ?, updated_at = ? WHERE subscriber_id = ?",
        (language, iso(now), subscriber_id),
    )


async def display_name(db: Database, subscriber_id: int) -> str | None:
    return await db.fetchval("SELECT display_name FROM subscribers WHERE subscriber_id = ?", (subscriber_id,))


async def hold_queue(db: Database, subscriber_id: int) -> int:
    """Pause: what is queued (instant or digest) waits as 'held'. Needs a transaction."""
    return await db.execute_rowcount(
        "UPDATE outbox SET status = 'held' WHERE subscriber_id = ? AND status IN ('pending', 'digest') "
        "AND kind IN ('alert', 'digest', 'followup', 'deleted')",
        (subscriber_id,),
    )


async def drop_queue(db: Database, subscriber_id: int, reason: str, now: datetime) -> int:
    """Stop, revoke: nothing queued for this subscriber will be sent. Needs a transaction."""
    return await db.execute_rowcount(
        "UPDATE outbox SET status = 'failed', last_error = ?, next_attempt_at = ? "
        "WHERE subscriber_id = ? AND status IN ('pending', 'digest', 'held')",
        (reason[:500], iso(now), subscriber_id),
    )


async def release_held_to_digest(db: Database, subscriber_id: int, now: datetime) -> int:
    """Resume: held alerts become one digest due now; held digests and follow-ups are sent as they are.
    Returns how many alerts were held. Needs a transaction."""
    await db.execute(
        "UPDATE outbox SET status = 'pending' WHERE subscriber_id = ? AND status = 'held' "
        "AND kind IN ('digest', 'followup', 'deleted')",
        (subscriber_id,),
    )
    return await db.execute_rowcount(
        "UPDATE outbox SET status = 'digest', next_attempt_at = ? WHERE subscriber_id = ? AND status = 'held'",
        (iso(now), subscriber_id),
    )


async def reschedule_digest(db: Database, subscriber_id: int, due_at: datetime) -> int:
    """A changed digest hour, zone or mode moves what waits for the digest. Needs a transaction."""
    return await db.execute_rowcount(
        "UPDATE outbox SET next_attempt_at = ? WHERE subscriber_id = ? AND status = 'digest'",
        (iso(due_at), subscriber_id),
    )


async def due_digest_rows(db: Database, now: datetime) -> dict[int, list[int]]:
    """subscriber_id -> outbox ids of alerts waiting for a digest that is due."""
    out: dict[int, list[int]] = {}
    for r in await db.fetchall(
        "SELECT subscriber_id, outbox_id FROM outbox WHERE status = 'digest' AND next_attempt_at <= ? "
        "ORDER BY subscriber_id, outbox_id",
        (iso(now),),
    ):
        out.setdefault(r["subscriber_id"], []).append(r["outbox_id"])
    return out


async def mark_digested(db: Database, outbox_ids: list[int], now: datetime) -> None:
    """Needs a transaction."""
    for oid in outbox_ids:
        await db.execute(
            "UPDATE outbox SET status = 'digested', sent_at = ? WHERE outbox_id = ? AND status = 'digest'",
            (iso(now), oid),
        )


async def outbox_rows(db: Database, outbox_ids: list[int]) -> list[Row]:
    rows = []
    for oid in outbox_ids:
        r = await db.fetchone("SELECT * FROM outbox WHERE outbox_id = ?", (oid,))
        if r is not None:
            rows.append(r)
    return rows


# A post's pending follow-ups for one subscriber. The dedupe_key range (follow-ups are keyed
# edit:<channel>:<message>:v<N>) lets the unique (subscriber_id, dedupe_key) index find them directly.
SUPERSEDE_WHERE = ("subscriber_id = ? AND channel_id = ? AND message_id = ? AND kind = 'followup' "
                   "AND status = 'pending' AND dedupe_key >= ? AND dedupe_key < ?")


def supersede_args(subscriber_id: int, channel_id: int, message_id: int) -> tuple:
    return (subscriber_id, channel_id, message_id, f"edit:{channel_id}:{message_id}:",
            f"edit:{channel_id}:{message_id};")


async def supersede_followups(db: Database, subscriber_id: int, channel_id: int, message_id: int,
                              now: datetime) -> list[str]:
    """An older pending follow-up is replaced by a newer one (or by deletion); returns the old payloads.
    Needs a transaction."""
    args = supersede_args(subscriber_id, channel_id, message_id)
    rows = await db.fetchall(f"SELECT payload FROM outbox WHERE {SUPERSEDE_WHERE} ORDER BY outbox_id", args)
    if rows:
        await db.execute(
            f"UPDATE outbox SET status = 'skipped', last_error = 'superseded', next_attempt_at = ? "
            f"WHERE {SUPERSEDE_WHERE}", (iso(now), *args),
        )
    return [r["payload"] or "{}" for r in rows]


async def queued_for(db: Database, subscriber_id: int) -> dict[str, int]:
    rows = await db.fetchall(
        # `+status`: look up the subscriber's rows (unique index), not every pending row of everyone.
        "SELECT status, count(*) FROM outbox WHERE subscriber_id = ? AND +status IN ('pending', 'digest', 'held') "
        "GROUP BY status",
        (subscriber_id,),
    )
    return {r[0]: r[1] for r in rows}


async def subscriber_counts(db: Database) -> dict[tuple[str, str], int]:
    rows = await db.fetchall("SELECT kind, status, count(*) FROM subscribers GROUP BY kind, status")
    return {(r[0], r[1]): r[2] for r in rows}


async def pending_requests(db: Database, limit: int = 20) -> list[Row]:
    return await db.fetchall(
        "SELECT subscriber_id, address, display_name, created_at FROM subscribers "
        "WHERE status = 'pending' ORDER BY created_at LIMIT ?",
        (limit,),
    )


async def stats_since(db: Database, since: datetime) -> dict[str, int]:
    s = iso(since)
    one = db.fetchval
    return {
        "alerts_sent": await one(
            "SELECT count(*) FROM outbox WHERE kind = 'alert' AND status = 'sent' AND sent_at >= ?", (s,)),
        "followups_sent": await one(
            "SELECT count(*) FROM outbox WHERE kind IN ('followup', 'deleted') AND status = 'sent' AND sent_at >= ?",
            (s,)),
        "digests_sent": await one(
            "SELECT count(*) FROM outbox WHERE kind = 'digest' AND status = 'sent' AND sent_at >= ?", (s,)),
        "queue_pending": await one("SELECT count(*) FROM outbox WHERE status = 'pending'"),
        "queue_digest": await one("SELECT count(*) FROM outbox WHERE status IN ('digest', 'held')"),
        "failed": await one(
            "SELECT count(*) FROM outbox WHERE status = 'failed' AND next_attempt_at >= ?", (s,)),
        "dead": await one("SELECT count(*) FROM outbox WHERE status = 'dead' AND next_attempt_at >= ?", (s,)),
        "retrying": await one("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0"),
        "flood_waits": await one("SELECT count(*) FROM events WHERE kind = 'flood_wait' AND at >= ?", (s,)),
        "posts_captured": await one("SELECT count(*) FROM posts WHERE captured_at >= ?", (s,)),
    }


async def destination_failures(db: Database) -> list[Row]:
    """Per subscriber: rows retrying after 3+ attempts, and dead-lettered rows (a webhook's rejected rows too)."""
    return await db.fetchall(
        """SELECT s.subscriber_id, s.kind, s.address,
             sum(CASE WHEN o.status = 'pending' AND o.attempts >= 3 THEN 1 ELSE 0 END) AS retrying,
             sum(CASE WHEN o.status = 'dead' OR (s.kind = 'webhook' AND o.status = 'failed') THEN 1 ELSE 0 END)
               AS dead
           FROM subscribers s JOIN outbox o USING (subscriber_id)
           WHERE s.status IN ('active', 'paused') AND o.kind != 'notice'
           GROUP BY s.subscriber_id"""
    )


async def recent_posts(db: Database, limit: int) -> list[Row]:
    return await db.fetchall(
        "SELECT channel_id, message_id FROM posts ORDER BY posted_at DESC LIMIT ?", (limit,)
    )


async def known_labels(db: Database) -> list[str]:
    labels = {r[0] for r in await db.fetchall("SELECT DISTINCT label FROM detections WHERE label != 'none'")}
    for r in await db.fetchall("SELECT DISTINCT extra_labels FROM detections WHERE extra_labels != '[]'"):
        labels.update(json.loads(r[0]))
    return sorted(labels)


async def forget(db: Database, subscriber_id: int) -> None:
    """Delete a subscriber and every row about them. Needs a transaction."""
    await db.execute("DELETE FROM outbox WHERE subscriber_id = ?", (subscriber_id,))
    await db.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", (subscriber_id,))
    await db.execute("DELETE FROM events WHERE subject = ?", (f"subscriber:{subscriber_id}",))
    await db.execute("DELETE FROM subscribers WHERE subscriber_id = ?", (subscriber_id,))


async def channel_post_times(db: Database, channel_id: int, limit: int = 21) -> list[str]:
    """The newest post dates of a channel (ISO strings, newest first)."""
    rows = await db.fetchall(
        "SELECT posted_at FROM posts WHERE channel_id = ? ORDER BY posted_at DESC LIMIT ?", (channel_id, limit)
    )
    return [r[0] for r in rows]
