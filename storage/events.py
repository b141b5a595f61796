"""The events table: state changes operators must hear about once (session revoked, channel private...).

`transition()` records a new state for (kind, subject) only when it differs from the
last one recorded, so a notice is sent once per state change, not once per check.
"""

from __future__ import annotations

from datetime import datetime
from sqlite3 import Row

from bot.timeutil import iso
from storage.db import Database


async def current(db: Database, kind: str, subject: str = "") -> str | None:
    return await db.fetchval(
        "SELECT state FROM events WHERE kind = ? AND subject = ? ORDER BY event_id DESC LIMIT 1", (kind, subject)
    )


async def transition(db: Database, kind: str, subject: str, state: str, now: datetime, detail: str | None = None) -> bool:
    """Record the state if it changed; True when it did. Needs a transaction."""
    if await current(db, kind, subject) == state:
        return False
    await db.execute(
        "INSERT INTO events(kind, subject, state, detail, at) VALUES (?, ?, ?, ?, ?)",
        (kind, subject, state, detail, iso(now)),
    )
    return True


async def recent(db: Database, since: datetime, kind: str | None = None) -> list[Row]:
    if kind:
        return await db.fetchall("SELECT * FROM events WHERE at >= ? AND kind = ? ORDER BY event_id", (iso(since), kind))
    return await db.fetchall("SELECT * FROM events WHERE at >= ? ORDER BY event_id", (iso(since),))
