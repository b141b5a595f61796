"""The export read in chunks: plain sqlite3 SQL for one posted_at window, and the window planner.

An export is cut into windows of whole posted_at values, [start, end), of about `rows` posts
each, so that each window can be read and formatted on its own (by a worker process, see
handlers.export_parallel) and the outputs concatenated in window order give exactly the
single-query order (posted_at, channel_id, message_id[, version]). The latest-post read joins
detections through posts.latest_detection_id and walks posts_export_order (migration 0900), so
SQLite neither searches for the latest detection nor sorts; the text comes as UTF-8 bytes (a
CSV/JSONL writer copies it as is, ~2 us a row less than decoding and re-encoding it).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from storage.research import ArchiveFilters, export_columns, where_sql

_LATEST_FROM = (
    "posts p INDEXED BY posts_export_order LEFT JOIN channels c ON c.channel_id = p.channel_id "
    "LEFT JOIN detections d ON d.detection_id = p.latest_detection_id"
)
_LATEST_EXPR = {
    "channel_username": "c.username", "text": "CAST(p.text AS BLOB)",
    **{k: f"d.{k}" for k in ("label", "confidence", "count", "names", "countries", "detector_version")},
}
_LATEST_WHERE = {"channel_id": "p.channel_id", "posted_at": "p.posted_at", "label": "d.label",
                 "deleted_at": "p.deleted_at"}


def connect_ro(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def window_sql(f: ArchiveFilters, versions: bool, *, last: bool) -> tuple[str, list[Any]]:
    """SELECT of the export columns (text as a BLOB) for one window: append the window's start
    and, unless it is the `last` (open-ended) window, its end to the returned parameters. (One SQL
    per case: `end IS NULL OR posted_at < end` would keep SQLite scanning to the last post.)"""
    if versions:
        cols = ", ".join("CAST(text AS BLOB)" if c == "text" else c for c in export_columns(True))
        cond, params = where_sql(f)
        end = "" if last else " AND posted_at < ?"
        return (f"SELECT {cols} FROM post_versions_view WHERE {cond} AND posted_at >= ?{end} "
                "ORDER BY posted_at, channel_id, message_id, version", params)
    cols = ", ".join(_LATEST_EXPR.get(c, f"p.{c}") for c in export_columns(False))
    cond, params = where_sql(f, _LATEST_WHERE)
    end = "" if last else " AND p.posted_at < ?"
    return (f"SELECT {cols} FROM {_LATEST_FROM} WHERE {cond} AND p.posted_at >= ?{end} "
            "ORDER BY p.posted_at, p.channel_id, p.message_id", params)


def count_sql(f: ArchiveFilters, versions: bool) -> tuple[str, list[Any]]:
    """count(*) of what the export reads (before watch terms). Unused joins are dropped by SQLite."""
    if versions:
        cond, params = where_sql(f)
        return f"SELECT count(*) FROM post_versions_view WHERE {cond}", params
    cond, params = where_sql(f, _LATEST_WHERE)
    return f"SELECT count(*) FROM {_LATEST_FROM} WHERE {cond}", params


def first_start(f: ArchiveFilters) -> str:
    """The first window's start: the `since` filter, else before every ISO time."""
    from bot.timeutil import iso

    return iso(f.since) if f.since is not None else ""


def next_end(conn: sqlite3.Connection, start: str, until: str | None, rows: int) -> str | None:
    """The end of the window that starts at `start`: the posted_at about `rows` posts later (the
    next distinct one if a tie is that long), or None when the window reaches the end."""
    bound = "" if until is None else " AND posted_at < ?"
    extra = () if until is None else (until,)
    found = conn.execute(
        f"SELECT posted_at FROM posts INDEXED BY posts_export_order WHERE posted_at >= ?{bound} "
        "ORDER BY posted_at LIMIT 1 OFFSET ?", (start, *extra, rows)).fetchone()
    if found is None:
        return None
    if found[0] > start:
        return found[0]
    later = conn.execute(
        f"SELECT min(posted_at) FROM posts INDEXED BY posts_export_order WHERE posted_at > ?{bound}",
        (start, *extra)).fetchone()[0]
    return later
