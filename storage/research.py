"""Read-only queries for researchers: archive filters, export rows, full-text search, one post's record.

Everything here reads the `posts_latest` / `post_versions_view` views and the `posts_fts`
index created by the 0600_* migrations; nothing writes.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from sqlite3 import Row
from typing import Any, AsyncIterator

from bot.timeutil import iso
from storage.db import Database
from bot.textsearch import stems_of

# The export schema, in order (documented field by field in README.md, "Data dictionary").
EXPORT_COLUMNS: tuple[str, ...] = (
    "channel_id", "channel_username", "message_id", "permalink", "posted_at", "edited_at", "captured_at",
    "deleted_at", "text", "views", "forwards", "grouped_id", "media", "label", "confidence", "count",
    "names", "countries", "detector_version",
)
VERSION_COLUMN = "version"
TEXT_INDEX = EXPORT_COLUMNS.index("text")


@dataclass(frozen=True)
class ArchiveFilters:
    """What to select from the archive. Empty tuples mean 'all'.

    since is inclusive and until exclusive, both on posted_at (UTC). labels and detected_only
    look at the row's own detection (with versions: that version's detection). terms are
    watch terms matched in Python with bot.detection.terms.text_matches_term (any term matches).
    """

    channel_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    labels: tuple[str, ...] = ()
    detected_only: bool = False
    terms: tuple[str, ...] = ()
    include_deleted: bool = False


_VIEW_COLUMNS = {"channel_id": "channel_id", "posted_at": "posted_at", "label": "label", "deleted_at": "deleted_at"}


def where_sql(f: ArchiveFilters, columns: dict[str, str] = _VIEW_COLUMNS) -> tuple[str, list[Any]]:
    """SQL condition and its parameters (watch terms excluded: they are matched in Python).

    `columns` names the channel_id, posted_at, label and deleted_at expressions (default: the views').
    """
    ch, at, label, deleted = (columns[k] for k in ("channel_id", "posted_at", "label", "deleted_at"))
    parts: list[str] = []
    params: list[Any] = []
    if f.channel_ids:
        parts.append(f"{ch} IN ({', '.join('?' * len(f.channel_ids))})")
        params.extend(f.channel_ids)
    if f.since is not None:
        parts.append(f"{at} >= ?")
        params.append(iso(f.since))
    if f.until is not None:
        parts.append(f"{at} < ?")
        params.append(iso(f.until))
    if f.labels:
        parts.append(f"{label} IN ({', '.join('?' * len(f.labels))})")
        params.extend(f.labels)
    if f.detected_only:
        parts.append(f"{label} IS NOT NULL AND {label} != 'none'")
    if not f.include_deleted:
        parts.append(f"{deleted} IS NULL")
    return (" AND ".join(parts) or "1"), params


def export_columns(versions: bool) -> tuple[str, ...]:
    return EXPORT_COLUMNS + ((VERSION_COLUMN,) if versions else ())


def export_sql(f: ArchiveFilters, versions: bool, select: str) -> tuple[str, list[Any]]:
    """SELECT `select` FROM the export view WHERE the filters (no ORDER BY)."""
    view = "post_versions_view" if versions else "posts_latest"
    cond, params = where_sql(f)
    return f"SELECT {select} FROM {view} WHERE {cond}", params


async def iter_export_batches(
    db: Database, f: ArchiveFilters, *, versions: bool, batch: int = 2000, select: str | None = None
) -> AsyncIterator[list[Row]]:
    """Stream export rows in posted_at order, `batch` rows at a time.

    Rows hold the columns of export_columns(), or the `select` expressions if given. Memory
    stays bounded: the cursor is read with fetchmany; posted_at is indexed, so SQLite sorts
    only rows that share a posted_at.
    """
    order = "posted_at, channel_id, message_id" + (", version" if versions else "")
    sql, params = export_sql(f, versions, select or ", ".join(export_columns(versions)))
    rows: list[Row] = []
    async with aclosing(db.iterate(f"{sql} ORDER BY {order}", params, batch=batch)) as it:
        async for r in it:
            rows.append(r)
            if len(rows) >= batch:
                yield rows
                rows = []
    if rows:
        yield rows


async def has_pending_index(db: Database) -> bool:
    return await db.fetchone("SELECT 1 FROM post_search WHERE indexed = 0 LIMIT 1") is not None


# The folded text comes from SQLite's own replace() so that it is byte-for-byte what the
# triggers pass to the contentless 'delete' later.
PENDING_SQL = (
    "SELECT s.search_id, replace(replace(p.text, 'ё', 'е'), 'Ё', 'Е') FROM post_search s "
    "JOIN posts p ON p.channel_id = s.channel_id AND p.message_id = s.message_id "
    "WHERE s.indexed = 0 ORDER BY s.search_id LIMIT ?"
)
# The pending rows after a search_id: what PENDING_SQL gives once the rows up to it are indexed.
PENDING_AFTER_SQL = PENDING_SQL.replace("WHERE s.indexed = 0", "WHERE s.indexed = 0 AND s.search_id > ?")
INSERT_FTS_SQL = "INSERT INTO posts_fts(rowid, text, stems) VALUES (?, ?, ?)"
MARK_SQL = "UPDATE post_search SET indexed = 1, stems = ? WHERE search_id = ?"


def fold_text(text: str) -> str:
    """The folded text PENDING_SQL reads (the same replace, done in Python)."""
    return text.replace("ё", "е").replace("Ё", "Е")


def stem_rows(rows: list, known: dict[str, str] | None = None) -> tuple[list[tuple], list[tuple]]:
    """Pending (search_id, folded text) rows -> FTS rows and post_search updates.

    `known` maps folded texts to stems computed elsewhere (handlers.detect_pool)."""
    fts, marks = [], []
    for search_id, folded in rows:
        stems = known.get(folded) if known else None
        if stems is None:
            stems = stems_of(folded)
        fts.append((search_id, folded, stems))
        marks.append((stems, search_id))
    return fts, marks


async def index_pending(db: Database, *, batch: int = 5000, limit: int | None = None,
                        known: dict[str, str] | None = None) -> int:
    """Add posts stored or edited since the last call to the full-text index (at most `limit`).
    Needs a transaction."""
    done = 0
    while (limit is None or done < limit) and (
            rows := await db.fetchall(PENDING_SQL, (batch if limit is None else min(batch, limit - done),))):
        fts, marks = stem_rows([tuple(r) for r in rows], known)
        await db.executemany(INSERT_FTS_SQL, fts)
        await db.executemany(MARK_SQL, marks)
        done += len(rows)
    return done


def index_pending_sync(conn: Any, *, batch: int = 5000) -> int:
    """index_pending for a plain sqlite3 connection (copies, benchmarks). Needs a transaction."""
    done = 0
    while rows := conn.execute(PENDING_SQL, (batch,)).fetchall():
        fts, marks = stem_rows([tuple(r) for r in rows])
        conn.executemany(INSERT_FTS_SQL, fts)
        conn.executemany(MARK_SQL, marks)
        done += len(rows)
    return done


_SEARCH_SQL = """
SELECT p.channel_id, c.username AS channel_username, p.message_id, p.permalink, p.posted_at, p.deleted_at,
       p.text, d.label, d.confidence
FROM posts_fts f
JOIN post_search s ON s.search_id = f.rowid
JOIN posts p ON p.channel_id = s.channel_id AND p.message_id = s.message_id
LEFT JOIN channels c ON c.channel_id = p.channel_id
LEFT JOIN detections d ON d.detection_id = p.latest_detection_id
WHERE posts_fts MATCH ? AND {cond}
ORDER BY f.rowid DESC
"""


_SEARCH_COLUMNS = {"channel_id": "p.channel_id", "posted_at": "p.posted_at", "label": "d.label", "deleted_at": "p.deleted_at"}


async def iter_search(db: Database, fts_query: str, f: ArchiveFilters, *, batch: int = 200) -> AsyncIterator[Row]:
    """Posts whose current text matches an FTS5 query (already built safely), newest capture first."""
    cond, params = where_sql(f, _SEARCH_COLUMNS)
    async with aclosing(db.iterate(_SEARCH_SQL.format(cond=cond), [fts_query, *params], batch=batch)) as rows:
        async for r in rows:
            yield r


async def post_record(db: Database, channel_id: int, message_id: int) -> Row | None:
    return await db.fetchone(
        "SELECT p.*, c.username AS channel_username, c.title AS channel_title FROM posts p "
        "LEFT JOIN channels c ON c.channel_id = p.channel_id WHERE p.channel_id = ? AND p.message_id = ?",
        (channel_id, message_id),
    )


async def post_versions(db: Database, channel_id: int, message_id: int) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM post_versions WHERE channel_id = ? AND message_id = ? ORDER BY version", (channel_id, message_id)
    )


async def post_detections(db: Database, channel_id: int, message_id: int) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM detections WHERE channel_id = ? AND message_id = ? ORDER BY detection_id", (channel_id, message_id)
    )


async def post_messages_sent(db: Database, channel_id: int, message_id: int) -> list[Row]:
    """What tgwatch sent or queued about a post: kind, status and times only; never who received it."""
    return await db.fetchall(
        "SELECT kind, status, created_at, sent_at FROM outbox WHERE channel_id = ? AND message_id = ? "
        "ORDER BY created_at, outbox_id",
        (channel_id, message_id),
    )
