"""The audit table: every operator action (approve, deny, revoke, invite, watch...), append-only.

`forget_subscriber` is the one exception: a journalist's right to be forgotten removes who
they were from the trail while keeping that an action happened.
"""

from __future__ import annotations

from datetime import datetime
from sqlite3 import Row

from bot.timeutil import iso
from storage.db import Database


async def add(db: Database, now: datetime, operator_id: int | None, action: str, *,
              subscriber_id: int | None = None, detail: str | None = None) -> None:
    """Needs a transaction."""
    await db.execute(
        "INSERT INTO audit(at, operator_id, action, subscriber_id, detail) VALUES (?, ?, ?, ?, ?)",
        (iso(now), operator_id, action, subscriber_id, (detail or "")[:500] or None),
    )


async def recent(db: Database, limit: int = 50) -> list[Row]:
    return await db.fetchall("SELECT * FROM audit ORDER BY audit_id DESC LIMIT ?", (limit,))


async def forget_subscriber(db: Database, subscriber_id: int) -> None:
    """Anonymise every mention of a subscriber. Needs a transaction."""
    await db.execute(
        "UPDATE audit SET subscriber_id = NULL, detail = 'forgotten subscriber' WHERE subscriber_id = ?",
        (subscriber_id,),
    )
