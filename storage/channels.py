"""The channels table: what is watched and how far we have read."""

from __future__ import annotations

from datetime import datetime
from sqlite3 import Row

from bot.models import Channel
from bot.timeutil import iso, parse_iso
from storage.db import Database


def _channel(r: Row) -> Channel:
    return Channel(
        channel_id=r["channel_id"],
        username=r["username"],
        title=r["title"],
        access_hash=r["access_hash"],
        last_seen_message_id=r["last_seen_message_id"],
        status=r["status"],
        added_at=parse_iso(r["added_at"]),
        last_capture_at=parse_iso(r["last_capture_at"]),
        last_error=r["last_error"],
    )


async def upsert(db: Database, ch: Channel, now: datetime) -> None:
    """Add a channel or refresh its name/hash; keeps last_seen_message_id. Needs a transaction."""
    await db.execute(
        """INSERT INTO channels(channel_id, username, title, access_hash, status, added_at, status_changed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(channel_id) DO UPDATE SET
             username = coalesce(excluded.username, channels.username),
             title = coalesce(excluded.title, channels.title),
             access_hash = coalesce(excluded.access_hash, channels.access_hash),
             status = CASE WHEN channels.status = 'removed' THEN excluded.status ELSE channels.status END""",
        (ch.channel_id, ch.username, ch.title, ch.access_hash, ch.status, iso(now), iso(now)),
    )


async def ensure(db: Database, channel_id: int, username: str | None, now: datetime) -> None:
    """Make sure a row exists for a channel seen in a post (replay, import). Needs a transaction."""
    await db.execute(
        """INSERT INTO channels(channel_id, username, added_at) VALUES (?, ?, ?)
           ON CONFLICT(channel_id) DO UPDATE SET username = coalesce(channels.username, excluded.username)""",
        (channel_id, username, iso(now)),
    )


async def get(db: Database, channel_id: int) -> Channel | None:
    r = await db.fetchone("SELECT * FROM channels WHERE channel_id = ?", (channel_id,))
    return _channel(r) if r else None


async def find(db: Database, ref: str) -> Channel | None:
    """By @username, username, t.me link or numeric id."""
    ref = ref.strip()
    for prefix in ("https://t.me/", "http://t.me/", "t.me/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):].split("/")[0]
    ref = ref.lstrip("@")
    if ref.lstrip("-").isdecimal():
        n = int(ref)
        return await get(db, n) if -(2**63) <= n < 2**63 else None  # SQLite integers are 64-bit
    r = await db.fetchone("SELECT * FROM channels WHERE lower(username) = lower(?)", (ref,))
    return _channel(r) if r else None


async def list_all(db: Database, *, include_removed: bool = False) -> list[Channel]:
    sql = "SELECT * FROM channels"
    if not include_removed:
        sql += " WHERE status != 'removed'"
    return [_channel(r) for r in await db.fetchall(sql + " ORDER BY lower(coalesce(username, '')), channel_id")]


async def advance(db: Database, channel_id: int, message_id: int, posted_at: datetime, now: datetime) -> None:
    """Move last_seen_message_id forward (never back). Needs a transaction."""
    await db.execute(
        """UPDATE channels SET
             last_seen_message_id = max(last_seen_message_id, ?),
             last_capture_at = ?,
             last_post_at = CASE WHEN last_post_at IS NULL OR last_post_at < ? THEN ? ELSE last_post_at END
           WHERE channel_id = ?""",
        (message_id, iso(now), iso(posted_at), iso(posted_at), channel_id),
    )


async def ensure_many(db: Database, seen: list[tuple[int, str | None]], now: datetime) -> None:
    """ensure() for each (channel_id, username) in order (repeats dropped). Needs a transaction."""
    pairs = list(dict.fromkeys(seen))
    if pairs:
        await db.executemany(
            """INSERT INTO channels(channel_id, username, added_at) VALUES (?, ?, ?)
               ON CONFLICT(channel_id) DO UPDATE SET username = coalesce(channels.username, excluded.username)""",
            [(c, u, iso(now)) for c, u in pairs],
        )


async def advance_many(db: Database, reached: dict[int, tuple[int, str]], now: datetime) -> None:
    """advance() once per channel with the highest message id and the latest ISO posted_at of a batch
    (the same end state as advancing post by post). Needs a transaction."""
    if reached:
        await db.executemany(
            """UPDATE channels SET
                 last_seen_message_id = max(last_seen_message_id, ?),
                 last_capture_at = ?,
                 last_post_at = CASE WHEN last_post_at IS NULL OR last_post_at < ? THEN ? ELSE last_post_at END
               WHERE channel_id = ?""",
            [(mid, iso(now), at, at, cid) for cid, (mid, at) in reached.items()],
        )


async def set_status(db: Database, channel_id: int, status: str, now: datetime, error: str | None = None) -> bool:
    """Returns True when the status actually changed (so callers notify once). Needs a transaction."""
    changed = await db.execute_rowcount(
        """UPDATE channels SET status = ?, last_error = ?, status_changed_at = ?
           WHERE channel_id = ? AND (status != ? OR coalesce(last_error, '') != coalesce(?, ''))""",
        (status, error, iso(now), channel_id, status, error),
    )
    return changed > 0
