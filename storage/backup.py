"""Checking and filtering database copies with the stdlib sqlite3 module (no aiosqlite needed:
these run on files nobody else has open)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.errors import StorageError
from storage.research import index_pending_sync

# What a public copy keeps: the archive itself. Everything else (subscribers, subscriptions,
# outbox, events, and any table added later) is dropped, so a new private table is hidden
# by default rather than exposed by default.
PUBLIC_TABLES = ("channels", "posts", "post_versions", "detections", "post_search", "posts_fts", "schema_migrations")
PUBLIC_VIEWS = ("posts_latest", "post_versions_view")
# Columns of public tables that are still nobody's business (an account-specific access key).
PRIVATE_COLUMNS = {"channels": ("access_hash",)}


def check_copy(path: str | Path) -> dict[str, int]:
    """Make a copy one self-contained file (no -wal) and run PRAGMA integrity_check on it.

    Returns row counts of the archive tables. Raises StorageError if the copy is damaged.
    """
    try:
        conn = sqlite3.connect(str(path), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
            result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise StorageError(f"the copy {path} failed its integrity check: {'; '.join(result[:5])}")
            counts = {}
            for table in ("posts", "post_versions", "detections", "channels"):
                counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            return counts
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise StorageError(f"cannot check the copy {path}: {e}") from e


def make_public(path: str | Path) -> list[str]:
    """Strip a copy down to the public archive, overwriting freed pages; returns what was dropped.

    secure_delete zeroes the dropped tables' pages and VACUUM rebuilds the file, so nothing of
    them survives even in free pages.
    """
    dropped: list[str] = []
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("BEGIN")
        objects = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') "
            "AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        public = set(PUBLIC_TABLES) | set(PUBLIC_VIEWS)
        fts_shadow = tuple(f"{t}_" for t in PUBLIC_TABLES if t.endswith("_fts"))
        for kind, name in objects:
            if kind == "trigger":
                conn.execute(f'DROP TRIGGER IF EXISTS "{name}"')  # a read-only copy needs none
            elif name in public or name.startswith(fts_shadow):
                continue
            else:
                conn.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
                dropped.append(name)
        index_pending_sync(conn)  # a read-only copy cannot catch its search index up later
        for table, cols in PRIVATE_COLUMNS.items():
            present = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            for col in cols:
                if col in present:
                    conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{col}"')
                    dropped.append(f"{table}.{col}")
        conn.execute("COMMIT")
        conn.execute("VACUUM")
    except sqlite3.Error as e:
        raise StorageError(f"cannot prepare the public copy {path}: {e}") from e
    finally:
        conn.close()
    return dropped
