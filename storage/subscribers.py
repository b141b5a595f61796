"""The subscribers and subscriptions tables: who receives alerts, and their filters."""

from __future__ import annotations

import json
from datetime import datetime
from sqlite3 import Row

from bot.models import Subscriber, Subscription
from bot.timeutil import iso, parse_iso
from storage.db import Database


def _subscriber(r: Row) -> Subscriber:
    return Subscriber(
        subscriber_id=r["subscriber_id"],
        kind=r["kind"],
        address=r["address"],
        status=r["status"],
        language=r["language"],
        created_at=parse_iso(r["created_at"]),
    )


def _subscription(r: Row) -> Subscription:
    return Subscription(
        subscriber_id=r["subscriber_id"],
        labels=tuple(json.loads(r["labels"])),
        channel_ids=tuple(json.loads(r["channel_ids"])),
        min_confidence=r["min_confidence"],
        terms=tuple(json.loads(r["terms"])),
        mode=r["mode"],
        digest_hour=r["digest_hour"],
        timezone=r["timezone"],
    )


async def upsert(
    db: Database, kind: str, address: str, now: datetime, *, status: str = "active", language: str = "en",
    display_name: str | None = None,
) -> int:
    """Create a subscriber with default filters, or return the existing one's id. Needs a transaction."""
    await db.execute(
        """INSERT INTO subscribers(kind, address, status, language, display_name, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(kind, address) DO NOTHING""",
        (kind, address, status, language, display_name, iso(now), iso(now)),
    )
    sid = await db.fetchval("SELECT subscriber_id FROM subscribers WHERE kind = ? AND address = ?", (kind, address))
    await db.execute("INSERT OR IGNORE INTO subscriptions(subscriber_id) VALUES (?)", (sid,))
    return sid


async def get(db: Database, subscriber_id: int) -> Subscriber | None:
    r = await db.fetchone("SELECT * FROM subscribers WHERE subscriber_id = ?", (subscriber_id,))
    return _subscriber(r) if r else None


async def find(db: Database, kind: str, address: str) -> Subscriber | None:
    r = await db.fetchone("SELECT * FROM subscribers WHERE kind = ? AND address = ?", (kind, address))
    return _subscriber(r) if r else None


async def set_status(db: Database, subscriber_id: int, status: str, now: datetime) -> bool:
    """Returns True when it changed. Needs a transaction."""
    n = await db.execute_rowcount(
        "UPDATE subscribers SET status = ?, updated_at = ? WHERE subscriber_id = ? AND status != ?",
        (status, iso(now), subscriber_id, status),
    )
    return n > 0


async def save_subscription(db: Database, s: Subscription) -> None:
    """Needs a transaction."""
    await db.execute(
        """INSERT INTO subscriptions(subscriber_id, labels, channel_ids, min_confidence, terms, mode, digest_hour, timezone)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(subscriber_id) DO UPDATE SET labels = excluded.labels, channel_ids = excluded.channel_ids,
             min_confidence = excluded.min_confidence, terms = excluded.terms, mode = excluded.mode,
             digest_hour = excluded.digest_hour, timezone = excluded.timezone""",
        (
            s.subscriber_id, json.dumps(list(s.labels)), json.dumps(list(s.channel_ids)), s.min_confidence,
            json.dumps(list(s.terms), ensure_ascii=False), s.mode, s.digest_hour, s.timezone,
        ),
    )


async def subscription(db: Database, subscriber_id: int) -> Subscription:
    r = await db.fetchone("SELECT * FROM subscriptions WHERE subscriber_id = ?", (subscriber_id,))
    return _subscription(r) if r else Subscription(subscriber_id)


async def delete(db: Database, subscriber_id: int) -> None:
    """Forget a subscriber entirely (subscription and outbox rows cascade). Needs a transaction."""
    await db.execute("DELETE FROM subscribers WHERE subscriber_id = ?", (subscriber_id,))
