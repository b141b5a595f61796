"""Append-only schema migrations: one small function per change, each applied in one
transaction together with its record in `schema_migrations`. Never edit a released
migration; add a new one. One execute() per statement (executescript() would commit
the open transaction).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Awaitable, Callable

from storage.db import Database

log = logging.getLogger(__name__)

Migration = Callable[[Database], Awaitable[None]]


async def _run(db: Database, *statements: str) -> None:
    for sql in statements:
        await db.execute(sql)


async def m0001_core(db: Database) -> None:
    await _run(
        db,
        """CREATE TABLE channels (
            channel_id INTEGER PRIMARY KEY,
            username TEXT,
            title TEXT,
            access_hash INTEGER,
            last_seen_message_id INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'active',
            added_at TEXT NOT NULL,
            last_capture_at TEXT,
            last_post_at TEXT,
            last_error TEXT,
            status_changed_at TEXT
        )""",
        "CREATE UNIQUE INDEX channels_username ON channels(lower(username)) WHERE username IS NOT NULL",
        """CREATE TABLE posts (
            channel_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            posted_at TEXT NOT NULL,
            edited_at TEXT,
            grouped_id INTEGER,
            album_message_ids TEXT,
            media TEXT,
            views INTEGER,
            forwards INTEGER,
            forwarded_from TEXT,
            permalink TEXT NOT NULL,
            captured_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            source TEXT NOT NULL DEFAULT 'live',
            PRIMARY KEY (channel_id, message_id)
        )""",
        "CREATE INDEX posts_posted_at ON posts(posted_at)",
        "CREATE INDEX posts_grouped ON posts(channel_id, grouped_id) WHERE grouped_id IS NOT NULL",
        """CREATE TABLE post_versions (
            channel_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            text TEXT NOT NULL,
            text_sha256 TEXT NOT NULL,
            edited_at TEXT,
            media TEXT,
            captured_at TEXT NOT NULL,
            PRIMARY KEY (channel_id, message_id, version),
            FOREIGN KEY (channel_id, message_id) REFERENCES posts(channel_id, message_id) ON DELETE CASCADE
        )""",
        """CREATE TABLE detections (
            detection_id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            label TEXT NOT NULL,
            confidence REAL NOT NULL,
            count INTEGER,
            names TEXT NOT NULL DEFAULT '[]',
            names_normalized TEXT NOT NULL DEFAULT '[]',
            countries TEXT NOT NULL DEFAULT '[]',
            evidence TEXT NOT NULL DEFAULT '[]',
            extra_labels TEXT NOT NULL DEFAULT '[]',
            detector_version TEXT NOT NULL,
            detected_at TEXT NOT NULL,
            UNIQUE (channel_id, message_id, version, detector_version),
            FOREIGN KEY (channel_id, message_id) REFERENCES posts(channel_id, message_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX detections_post ON detections(channel_id, message_id, detection_id)",
        "CREATE INDEX detections_label ON detections(label, detected_at)",
        """CREATE TABLE subscribers (
            subscriber_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            address TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active',
            language TEXT NOT NULL DEFAULT 'en',
            display_name TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (kind, address)
        )""",
        """CREATE TABLE subscriptions (
            subscriber_id INTEGER PRIMARY KEY REFERENCES subscribers(subscriber_id) ON DELETE CASCADE,
            labels TEXT NOT NULL DEFAULT '[]',
            channel_ids TEXT NOT NULL DEFAULT '[]',
            min_confidence REAL NOT NULL DEFAULT 0,
            terms TEXT NOT NULL DEFAULT '[]',
            mode TEXT NOT NULL DEFAULT 'instant',
            digest_hour INTEGER NOT NULL DEFAULT 9,
            timezone TEXT NOT NULL DEFAULT 'UTC'
        )""",
        """CREATE TABLE outbox (
            outbox_id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers(subscriber_id) ON DELETE CASCADE,
            destination TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'alert',
            dedupe_key TEXT NOT NULL,
            channel_id INTEGER,
            message_id INTEGER,
            detection_id INTEGER,
            payload TEXT,
            random_id INTEGER NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            sent_message_ids TEXT,
            UNIQUE (subscriber_id, dedupe_key)
        )""",
        "CREATE INDEX outbox_due ON outbox(status, next_attempt_at)",
        "CREATE INDEX outbox_post ON outbox(channel_id, message_id)",
        """CREATE TABLE events (
            event_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            detail TEXT,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX events_kind ON events(kind, subject, event_id)",
    )


async def m0300_channel_sync(db: Database) -> None:
    # The history pass's own cursor: every id <= history_cursor_id was read from history or
    # seen live without a hole. channels.last_seen_message_id moves with any live post, so it
    # cannot tell the history pass what the live path skipped.
    await _run(
        db,
        """CREATE TABLE channel_sync (
            channel_id INTEGER PRIMARY KEY REFERENCES channels(channel_id) ON DELETE CASCADE,
            history_cursor_id INTEGER NOT NULL DEFAULT 0,
            top_message_id INTEGER NOT NULL DEFAULT 0,
            last_checked_at TEXT,
            last_history_at TEXT
        )""",
    )


async def m0500_bot_audit_invites(db: Database) -> None:
    """Operator audit trail and invite codes (issue 5)."""
    await _run(
        db,
        """CREATE TABLE audit (
            audit_id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator_id INTEGER,
            action TEXT NOT NULL,
            subscriber_id INTEGER,
            detail TEXT
        )""",
        "CREATE INDEX audit_subscriber ON audit(subscriber_id) WHERE subscriber_id IS NOT NULL",
        """CREATE TABLE invites (
            code TEXT PRIMARY KEY,
            created_by INTEGER,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            uses_left INTEGER NOT NULL DEFAULT 1,
            revoked_at TEXT
        )""",
        "CREATE INDEX outbox_subscriber_status ON outbox(subscriber_id, status)",
    )


async def m0700_subscription_generation(db: Database) -> None:
    """A token that changes whenever subscribers or their filters change (any process, via triggers),
    so the matching set can be cached per connection and reloaded only when it changed. A random
    token, not a counter: a rolled-back change must never leave a number a later change reuses."""
    await db.execute("CREATE TABLE cache_generations (name TEXT PRIMARY KEY, generation INTEGER NOT NULL)")
    await db.execute("INSERT INTO cache_generations(name, generation) VALUES ('subscriptions', random())")
    for table in ("subscribers", "subscriptions"):
        for op in ("INSERT", "UPDATE", "DELETE"):
            await db.execute(
                f"CREATE TRIGGER {table}_{op.lower()}_generation AFTER {op} ON {table} BEGIN "
                "UPDATE cache_generations SET generation = random() WHERE name = 'subscriptions'; END"
            )


# Append new migrations at the end; never reorder or edit released ones.
MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_core", m0001_core),
    ("0300_channel_sync", m0300_channel_sync),
    ("0500_bot_audit_invites", m0500_bot_audit_invites),
    ("0700_subscription_generation", m0700_subscription_generation),
]


async def applied(db: Database) -> set[str]:
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return {r[0] for r in await db.fetchall("SELECT name FROM schema_migrations")}


async def apply_migrations(db: Database) -> list[str]:
    """Apply every pending migration, each in its own transaction. Idempotent; returns names applied."""
    async with db.transaction():
        done = await applied(db)
    new: list[str] = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        async with db.transaction():
            # Re-check inside the lock: another process may have applied it meanwhile.
            if await db.fetchone("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)):
                continue
            await fn(db)
            await db.execute(
                "INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)",
                (name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
        log.info("applied migration %s", name)
        new.append(name)
    return new
