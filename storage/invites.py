"""The invites table: codes operators hand out when access mode is 'invite'."""

from __future__ import annotations

from datetime import datetime
from sqlite3 import Row

from bot.timeutil import iso
from storage.db import Database


async def create(db: Database, code: str, created_by: int | None, now: datetime, expires_at: datetime,
                 uses: int) -> None:
    """Needs a transaction."""
    await db.execute(
        "INSERT INTO invites(code, created_by, created_at, expires_at, uses_left) VALUES (?, ?, ?, ?, ?)",
        (code, created_by, iso(now), iso(expires_at), uses),
    )


async def use(db: Database, code: str, now: datetime) -> bool:
    """Spend one use of a valid code; False when unknown, expired, revoked or used up. Needs a transaction."""
    n = await db.execute_rowcount(
        """UPDATE invites SET uses_left = uses_left - 1
           WHERE code = ? AND uses_left > 0 AND revoked_at IS NULL AND expires_at > ?""",
        (code, iso(now)),
    )
    return n > 0


async def revoke(db: Database, code: str, now: datetime) -> bool:
    """Needs a transaction."""
    n = await db.execute_rowcount(
        "UPDATE invites SET revoked_at = ? WHERE code = ? AND revoked_at IS NULL", (iso(now), code)
    )
    return n > 0


async def active(db: Database, now: datetime) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM invites WHERE uses_left > 0 AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at",
        (iso(now),),
    )
