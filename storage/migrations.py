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


# --- research archive (issue 6): full-text index and readable views --------------------------
# The FTS rowid must survive VACUUM, which may renumber the implicit rowid of `posts`; so
# post_search gives every post a stable INTEGER PRIMARY KEY that the index is keyed on.
# posts_fts is contentless with two columns: `text` (the post text with ё folded to е; unicode61
# folds case) and `stems` (bot.textsearch.stems_of, computed in Python, kept in post_search so
# the triggers can delete exactly what was indexed). Indexing is deferred: FTS5 written from a
# trigger flushes a segment per statement (~150 us a post), so triggers only mark a post
# `indexed = 0` and storage.research.index_pending() indexes marked posts in batches (every
# search, every import batch, every backup). Invariant: indexed = 1 <=> posts_fts holds
# (folded current text, post_search.stems), which is what a contentless 'delete' needs.
_UNINDEX_OLD = (
    "INSERT INTO posts_fts(posts_fts, rowid, text, stems) "
    "SELECT 'delete', search_id, replace(replace(old.text, 'ё', 'е'), 'Ё', 'Е'), stems FROM post_search "
    "WHERE channel_id = old.channel_id AND message_id = old.message_id AND indexed = 1"
)


async def m0600_research_fts(db: Database) -> None:
    await _run(
        db,
        """CREATE TABLE post_search (
            search_id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            indexed INTEGER NOT NULL DEFAULT 0,
            stems TEXT,
            UNIQUE (channel_id, message_id)
        )""",
        "CREATE INDEX post_search_pending ON post_search(search_id) WHERE indexed = 0",
        "CREATE VIRTUAL TABLE posts_fts USING fts5(text, stems, content='', tokenize='unicode61 remove_diacritics 2')",
        """CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
            INSERT OR IGNORE INTO post_search(channel_id, message_id) VALUES (new.channel_id, new.message_id);
        END""",
        f"""CREATE TRIGGER posts_fts_update AFTER UPDATE OF text ON posts WHEN new.text IS NOT old.text BEGIN
            {_UNINDEX_OLD};
            UPDATE post_search SET indexed = 0, stems = NULL
              WHERE channel_id = new.channel_id AND message_id = new.message_id;
        END""",
        f"""CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
            {_UNINDEX_OLD};
            DELETE FROM post_search WHERE channel_id = old.channel_id AND message_id = old.message_id;
        END""",
        # Existing posts are indexed by the first search, import or backup after this migration.
        "INSERT INTO post_search(channel_id, message_id) SELECT channel_id, message_id FROM posts ORDER BY posted_at",
    )


# The latest detection of a post (or of one version): the highest detection_id.
_LATEST_DETECTION = (
    "d.detection_id = (SELECT max(x.detection_id) FROM detections x "
    "WHERE x.channel_id = {a}.channel_id AND x.message_id = {a}.message_id{extra})"
)


async def m0601_research_views(db: Database) -> None:
    await _run(
        db,
        f"""CREATE VIEW posts_latest AS SELECT
            p.channel_id, c.username AS channel_username, c.title AS channel_title, p.message_id, p.permalink,
            p.posted_at, p.edited_at, p.captured_at, p.updated_at, p.deleted_at, p.version, p.text,
            p.views, p.forwards, p.grouped_id, p.media, p.forwarded_from, p.source,
            d.label, d.confidence, d.count, d.names, d.countries, d.extra_labels, d.detector_version,
            d.detected_at, s.search_id
          FROM posts p
          LEFT JOIN channels c ON c.channel_id = p.channel_id
          LEFT JOIN detections d ON {_LATEST_DETECTION.format(a="p", extra="")}
          LEFT JOIN post_search s ON s.channel_id = p.channel_id AND s.message_id = p.message_id""",
        f"""CREATE VIEW post_versions_view AS SELECT
            v.channel_id, c.username AS channel_username, v.message_id, p.permalink, v.version,
            p.posted_at, v.edited_at, v.captured_at, p.deleted_at, v.text, v.text_sha256,
            p.views, p.forwards, p.grouped_id, v.media, p.forwarded_from, p.source,
            d.label, d.confidence, d.count, d.names, d.countries, d.extra_labels, d.detector_version,
            d.detected_at
          FROM post_versions v
          JOIN posts p ON p.channel_id = v.channel_id AND p.message_id = v.message_id
          LEFT JOIN channels c ON c.channel_id = v.channel_id
          LEFT JOIN detections d ON {_LATEST_DETECTION.format(a="v", extra=" AND x.version = v.version")}""",
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


async def m0800_alert_fanouts(db: Database) -> None:
    """Two-stage capture (handlers/capture.py): a post's transaction records a durable fan-out intent;
    follow-up transactions expand it into per-subscriber outbox rows, `done_through` (a subscriber_id)
    committed with each chunk, so a crash between them neither loses nor repeats a row.
    outbox_subscriber_status goes: every new outbox row paid for it, and the unique
    (subscriber_id, dedupe_key) index serves the per-subscriber queries that used it."""
    await _run(
        db,
        """CREATE TABLE alert_fanouts (
            fanout_id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            detection_id INTEGER NOT NULL,
            changes TEXT,
            created_at TEXT NOT NULL,
            done_through INTEGER NOT NULL DEFAULT 0,
            FOREIGN KEY (channel_id, message_id) REFERENCES posts(channel_id, message_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX alert_fanouts_post ON alert_fanouts(channel_id, message_id)",
        "DROP INDEX IF EXISTS outbox_subscriber_status",
    )


# --- research export speed (issue 6) ---------------------------------------------------------
# The export reads 1,000,000 posts with their latest detection; finding that detection with a
# max(detection_id) per post is an index search plus a table search per row (~3 us, half the
# read). posts.latest_detection_id holds the answer, kept by triggers on detections, so the export
# joins detections by primary key. posts_export_order is the export's ORDER BY, so no sort runs.
async def m0900_export_read(db: Database) -> None:
    await _run(
        db,
        "ALTER TABLE posts ADD COLUMN latest_detection_id INTEGER",
        """UPDATE posts SET latest_detection_id = (SELECT max(d.detection_id) FROM detections d
             WHERE d.channel_id = posts.channel_id AND d.message_id = posts.message_id)""",
        """CREATE TRIGGER detections_latest_insert AFTER INSERT ON detections BEGIN
            UPDATE posts SET latest_detection_id = new.detection_id
              WHERE channel_id = new.channel_id AND message_id = new.message_id
                AND (latest_detection_id IS NULL OR latest_detection_id < new.detection_id);
        END""",
        """CREATE TRIGGER detections_latest_delete AFTER DELETE ON detections BEGIN
            UPDATE posts SET latest_detection_id = (SELECT max(x.detection_id) FROM detections x
                WHERE x.channel_id = old.channel_id AND x.message_id = old.message_id)
              WHERE channel_id = old.channel_id AND message_id = old.message_id
                AND latest_detection_id = old.detection_id;
        END""",
        # Nothing updates these columns today; if something does, recompute both posts involved.
        """CREATE TRIGGER detections_latest_update AFTER UPDATE OF detection_id, channel_id, message_id
          ON detections BEGIN
            UPDATE posts SET latest_detection_id = (SELECT max(x.detection_id) FROM detections x
                WHERE x.channel_id = posts.channel_id AND x.message_id = posts.message_id)
              WHERE (channel_id = old.channel_id AND message_id = old.message_id)
                 OR (channel_id = new.channel_id AND message_id = new.message_id);
        END""",
        "CREATE INDEX posts_export_order ON posts(posted_at, channel_id, message_id)",
    )


# --- two-level outbox (issue 7, load target) -------------------------------------------------
async def m1000_alert_recipients(db: Database) -> None:
    """A planned fan-out's recipients, one slim row each, written in the planning transaction: the
    per-subscriber queue of a post is durable ~6 ms after matching (2,000 rows), where the wide
    outbox rows (five b-trees, the unique (subscriber_id, dedupe_key) index scattering each chunk over
    its leaf pages) take seconds; handlers/fanout.py expands them into outbox rows afterwards.
    `reason` NULL: a subscriber already alerted, who may get an edit follow-up. `planned` = 1 once
    the intent's recipient rows are committed (0: plan again at resume). A trigger, not a foreign key:
    with the key, writing 2,000 recipients took 10-50% longer and deleting them ~10x (0.7 -> 7-8 ms,
    measured); the trigger also runs when a deleted post takes its intents along."""
    await _run(
        db,
        """CREATE TABLE alert_recipients (
            fanout_id INTEGER NOT NULL,
            subscriber_id INTEGER NOT NULL,
            reason TEXT,
            PRIMARY KEY (fanout_id, subscriber_id)
        ) WITHOUT ROWID""",
        "ALTER TABLE alert_fanouts ADD COLUMN planned INTEGER NOT NULL DEFAULT 0",
        """CREATE TRIGGER alert_fanouts_recipients_delete AFTER DELETE ON alert_fanouts BEGIN
            DELETE FROM alert_recipients WHERE fanout_id = old.fanout_id;
        END""",
    )


# Append new migrations at the end; never reorder or edit released ones.
MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_core", m0001_core),
    ("0300_channel_sync", m0300_channel_sync),
    ("0500_bot_audit_invites", m0500_bot_audit_invites),
    ("0600_research_fts", m0600_research_fts),
    ("0601_research_views", m0601_research_views),
    ("0700_subscription_generation", m0700_subscription_generation),
    ("0800_alert_fanouts", m0800_alert_fanouts),
    ("0900_export_read", m0900_export_read),
    ("1000_alert_recipients", m1000_alert_recipients),
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
