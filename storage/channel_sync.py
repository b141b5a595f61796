"""The channel_sync table: how far the history pass has read each channel (its cursor) and
what Telegram last reported as the channel's top message id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.timeutil import iso, parse_iso
from storage.db import Database


@dataclass(frozen=True)
class SyncState:
    channel_id: int
    history_cursor_id: int
    top_message_id: int
    last_checked_at: datetime | None
    last_history_at: datetime | None


async def get_all(db: Database) -> dict[int, SyncState]:
    rows = await db.fetchall("SELECT * FROM channel_sync")
    return {
        r["channel_id"]: SyncState(r["channel_id"], r["history_cursor_id"], r["top_message_id"],
                                   parse_iso(r["last_checked_at"]), parse_iso(r["last_history_at"]))
        for r in rows
    }


async def get(db: Database, channel_id: int) -> SyncState | None:
    return (await get_all_for(db, [channel_id])).get(channel_id)


async def get_all_for(db: Database, channel_ids: list[int]) -> dict[int, SyncState]:
    if not channel_ids:
        return {}
    marks = ",".join("?" * len(channel_ids))
    rows = await db.fetchall(f"SELECT * FROM channel_sync WHERE channel_id IN ({marks})", channel_ids)
    return {
        r["channel_id"]: SyncState(r["channel_id"], r["history_cursor_id"], r["top_message_id"],
                                   parse_iso(r["last_checked_at"]), parse_iso(r["last_history_at"]))
        for r in rows
    }


async def set_cursor(db: Database, channel_id: int, cursor_id: int, now: datetime, *, history: bool = True) -> None:
    """Move the cursor forward (never back); creates the row. Needs a transaction."""
    await db.execute(
        """INSERT INTO channel_sync(channel_id, history_cursor_id, last_history_at) VALUES (?, ?, ?)
           ON CONFLICT(channel_id) DO UPDATE SET
             history_cursor_id = max(channel_sync.history_cursor_id, excluded.history_cursor_id),
             last_history_at = coalesce(excluded.last_history_at, channel_sync.last_history_at)""",
        (channel_id, cursor_id, iso(now) if history else None),
    )


ADVANCE_IF_CONTIGUOUS_SQL = """UPDATE channel_sync SET history_cursor_id = ?
           WHERE channel_id = ? AND history_cursor_id >= ? - 1 AND history_cursor_id < ?"""


async def advance_if_contiguous(db: Database, channel_id: int, first_id: int, last_id: int) -> bool:
    """A live post [first_id..last_id] right after the cursor moves it; a hole leaves it for the
    history pass. True when it moved. Needs a transaction."""
    n = await db.execute_rowcount(ADVANCE_IF_CONTIGUOUS_SQL, (last_id, channel_id, first_id, last_id))
    return n > 0


async def set_top(db: Database, tops: dict[int, int], now: datetime) -> None:
    """Record the top message ids learned from one dialogs request (rows must exist). Needs a transaction."""
    for channel_id, top in tops.items():
        await db.execute(
            "UPDATE channel_sync SET top_message_id = ?, last_checked_at = ? WHERE channel_id = ?",
            (top, iso(now), channel_id),
        )
