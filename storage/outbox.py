"""The alert outbox: durable rows written with the post, drained after commit.

A row's `random_id` is fixed when the row is created, before any attempt, so a
resend after a crash is deduplicated by Telegram (and by webhook receivers through
the idempotency key). `(subscriber_id, dedupe_key)` is unique: enqueuing the same
alert twice does nothing.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from sqlite3 import Row

from bot.models import OutboxItem
from bot.timeutil import iso, parse_iso
from storage.db import Database


def new_random_id() -> int:
    # Telegram's random_id is a signed 64-bit integer; never 0.
    return secrets.randbits(63) or 1


def _item(r: Row) -> OutboxItem:
    return OutboxItem(
        outbox_id=r["outbox_id"],
        subscriber_id=r["subscriber_id"],
        destination=r["destination"],
        channel_id=r["channel_id"],
        message_id=r["message_id"],
        kind=r["kind"],
        random_id=r["random_id"],
        status=r["status"],
        attempts=r["attempts"],
        next_attempt_at=parse_iso(r["next_attempt_at"]),
        last_error=r["last_error"],
        payload=r["payload"],
        created_at=parse_iso(r["created_at"]),
        sent_at=parse_iso(r["sent_at"]),
    )


async def enqueue(
    db: Database, *, subscriber_id: int, destination: str, kind: str, dedupe_key: str, now: datetime,
    channel_id: int | None = None, message_id: int | None = None, detection_id: int | None = None,
    payload: str | None = None, status: str = "pending", due_at: datetime | None = None,
) -> bool:
    """Add a row unless the same (subscriber, dedupe_key) exists. Returns True if added. Needs a transaction."""
    n = await db.execute_rowcount(
        """INSERT OR IGNORE INTO outbox(subscriber_id, destination, kind, dedupe_key, channel_id, message_id,
             detection_id, payload, random_id, status, next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            subscriber_id, destination, kind, dedupe_key, channel_id, message_id, detection_id, payload,
            new_random_id(), status, iso(due_at or now), iso(now),
        ),
    )
    return n > 0


async def due(db: Database, now: datetime, limit: int) -> list[OutboxItem]:
    rows = await db.fetchall(
        """SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?
           ORDER BY next_attempt_at, outbox_id LIMIT ?""",
        (iso(now), limit),
    )
    return [_item(r) for r in rows]


async def next_due_at(db: Database) -> datetime | None:
    return parse_iso(await db.fetchval("SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'"))


async def mark_sent(db: Database, outbox_id: int, now: datetime, message_ids: list[int] | None = None) -> None:
    """Needs a transaction."""
    await db.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL, sent_message_ids = ? "
        "WHERE outbox_id = ? AND status != 'sent'",
        (iso(now), json.dumps(message_ids) if message_ids is not None else None, outbox_id),
    )


async def mark_retry(db: Database, outbox_id: int, now: datetime, after_s: float, error: str) -> None:
    """Needs a transaction."""
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE outbox_id = ?",
        (iso(now + timedelta(seconds=after_s)), error[:500], outbox_id),
    )


async def mark_failed(db: Database, outbox_id: int, now: datetime, error: str, status: str = "failed") -> None:
    """Permanent failure ('failed' = rejected by destination, 'dead' = out of attempts). Needs a transaction."""
    await db.execute(
        "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE outbox_id = ?",
        (status, error[:500], iso(now), outbox_id),
    )


async def drop_pending_for(db: Database, subscriber_id: int, reason: str, now: datetime) -> int:
    """Stop retrying everything queued for a subscriber who blocked us. Needs a transaction."""
    return await db.execute_rowcount(
        "UPDATE outbox SET status = 'failed', last_error = ?, next_attempt_at = ? WHERE subscriber_id = ? AND status = 'pending'",
        (reason[:500], iso(now), subscriber_id),
    )


async def pending_count(db: Database) -> int:
    return await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'")


async def oldest_pending_at(db: Database) -> datetime | None:
    return parse_iso(await db.fetchval("SELECT min(created_at) FROM outbox WHERE status = 'pending'"))


async def for_post(db: Database, channel_id: int, message_id: int) -> list[OutboxItem]:
    rows = await db.fetchall(
        "SELECT * FROM outbox WHERE channel_id = ? AND message_id = ? ORDER BY outbox_id", (channel_id, message_id)
    )
    return [_item(r) for r in rows]


async def sent_message_ids(db: Database, outbox_id: int) -> list[int]:
    v = await db.fetchval("SELECT sent_message_ids FROM outbox WHERE outbox_id = ?", (outbox_id,))
    return json.loads(v) if v else []


async def counts_by_status(db: Database) -> dict[str, int]:
    return {r[0]: r[1] for r in await db.fetchall("SELECT status, count(*) FROM outbox GROUP BY status")}
