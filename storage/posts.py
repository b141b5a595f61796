"""The posts and post_versions tables: captured text is never overwritten or erased.

The `posts` row holds the latest version; `post_versions` holds every version
(version 1 is the original). Deletion only sets `deleted_at`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from sqlite3 import Row

from bot.models import Post
from bot.timeutil import iso, parse_iso
from storage.db import Database


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class StoredPost:
    post: Post
    version: int
    captured_at: datetime
    deleted_at: datetime | None
    source: str


def _post(r: Row) -> StoredPost:
    album = tuple(json.loads(r["album_message_ids"])) if r["album_message_ids"] else ()
    username = r["username"] if "username" in r.keys() else None
    post = Post(
        channel_id=r["channel_id"],
        message_id=r["message_id"],
        text=r["text"],
        posted_at=parse_iso(r["posted_at"]),
        edited_at=parse_iso(r["edited_at"]),
        grouped_id=r["grouped_id"],
        media=r["media"],
        views=r["views"],
        forwards=r["forwards"],
        channel_username=username,
        forwarded_from=r["forwarded_from"],
        album_message_ids=album,
    )
    return StoredPost(post, r["version"], parse_iso(r["captured_at"]), parse_iso(r["deleted_at"]), r["source"])


_SELECT = "SELECT p.*, c.username FROM posts p LEFT JOIN channels c ON c.channel_id = p.channel_id"


async def get(db: Database, channel_id: int, message_id: int) -> StoredPost | None:
    r = await db.fetchone(_SELECT + " WHERE p.channel_id = ? AND p.message_id = ?", (channel_id, message_id))
    return _post(r) if r else None


async def get_by_album_member(db: Database, channel_id: int, grouped_id: int) -> StoredPost | None:
    r = await db.fetchone(
        _SELECT + " WHERE p.channel_id = ? AND p.grouped_id = ? ORDER BY p.message_id LIMIT 1", (channel_id, grouped_id)
    )
    return _post(r) if r else None


_INSERT_SQL = """INSERT INTO posts(channel_id, message_id, text, posted_at, edited_at, grouped_id, album_message_ids,
     media, views, forwards, forwarded_from, permalink, captured_at, updated_at, version, source)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)"""
_VERSION_SQL = """INSERT OR IGNORE INTO post_versions(channel_id, message_id, version, text, text_sha256, edited_at, media,
     captured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
_EDIT_SQL = """UPDATE posts SET text = ?, edited_at = ?, media = ?, views = coalesce(?, views),
     forwards = coalesce(?, forwards), album_message_ids = coalesce(?, album_message_ids),
     version = ?, updated_at = ?
   WHERE channel_id = ? AND message_id = ?"""
_TOUCH_SQL = """UPDATE posts SET views = coalesce(?, views), forwards = coalesce(?, forwards),
     album_message_ids = coalesce(?, album_message_ids)
   WHERE channel_id = ? AND message_id = ?"""


def _album(post: Post) -> str | None:
    return json.dumps(list(post.album_message_ids)) if post.album_message_ids else None


def _insert_row(post: Post, now: str, source: str) -> tuple:
    return (post.channel_id, post.message_id, post.text, iso(post.posted_at), iso(post.edited_at), post.grouped_id,
            _album(post), post.media, post.views, post.forwards, post.forwarded_from, post.permalink, now, now, source)


def _version_row(post: Post, version: int, now: str) -> tuple:
    return (post.channel_id, post.message_id, version, post.text, sha256(post.text), iso(post.edited_at), post.media,
            now)


def _edit_row(post: Post, version: int, now: str) -> tuple:
    return (post.text, iso(post.edited_at), post.media, post.views, post.forwards, _album(post), version, now,
            post.channel_id, post.message_id)


def _touch_row(post: Post) -> tuple:
    return (post.views, post.forwards, _album(post), post.channel_id, post.message_id)


async def insert(db: Database, post: Post, now: datetime, source: str) -> None:
    """Insert a new post with its version 1. Needs a transaction."""
    await db.execute(_INSERT_SQL, _insert_row(post, iso(now), source))
    await db.execute(_VERSION_SQL, _version_row(post, 1, iso(now)))


async def add_version(db: Database, post: Post, version: int, now: datetime) -> None:
    """Record an edit as a new version and make it the current text. Needs a transaction."""
    await db.execute(_EDIT_SQL, _edit_row(post, version, iso(now)))
    await db.execute(_VERSION_SQL, _version_row(post, version, iso(now)))


async def touch(db: Database, post: Post, now: datetime) -> None:
    """Same text seen again: refresh counters only. Needs a transaction."""
    await db.execute(_TOUCH_SQL, _touch_row(post))


async def current_many(db: Database, channel_id: int, message_ids: list[int]) -> dict[int, Row]:
    """message_id -> (message_id, text, media, edited_at, version) of the stored posts among these ids."""
    found: dict[int, Row] = {}
    for i in range(0, len(message_ids), 500):
        part = message_ids[i:i + 500]
        for r in await db.fetchall(
            "SELECT message_id, text, media, edited_at, version FROM posts "
            f"WHERE channel_id = ? AND message_id IN ({', '.join('?' * len(part))})", (channel_id, *part),
        ):
            found[r[0]] = r
    return found


async def write_many(db: Database, now: datetime, source: str, changed: list[tuple[Post, int]],
                     touched: list[Post]) -> None:
    """The bulk form of insert (version 1) / add_version (version > 1) / touch, for posts with
    distinct keys. Needs a transaction. Rows go in list order, so rowids (and the FTS search_id
    the insert trigger assigns) come out as if the posts had been stored one by one."""
    at = iso(now)
    new = [_insert_row(p, at, source) for p, v in changed if v == 1]
    edits = [_edit_row(p, v, at) for p, v in changed if v != 1]
    if new:
        await db.executemany(_INSERT_SQL, new)
    if edits:
        await db.executemany(_EDIT_SQL, edits)
    if touched:
        await db.executemany(_TOUCH_SQL, [_touch_row(p) for p in touched])
    if changed:
        await db.executemany(_VERSION_SQL, [_version_row(p, v, at) for p, v in changed])


async def mark_deleted(db: Database, channel_id: int, message_ids: list[int], now: datetime) -> list[int]:
    """Mark posts deleted (text kept); returns the ids newly marked. Needs a transaction."""
    marked: list[int] = []
    for mid in message_ids:
        n = await db.execute_rowcount(
            "UPDATE posts SET deleted_at = ? WHERE channel_id = ? AND message_id = ? AND deleted_at IS NULL",
            (iso(now), channel_id, mid),
        )
        if n:
            marked.append(mid)
    return marked


async def versions(db: Database, channel_id: int, message_id: int) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM post_versions WHERE channel_id = ? AND message_id = ? ORDER BY version",
        (channel_id, message_id),
    )


async def count(db: Database) -> int:
    return await db.fetchval("SELECT count(*) FROM posts")
