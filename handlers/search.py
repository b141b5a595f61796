"""Full-text search over captured posts (SQLite FTS5), tolerant of Russian/Belarusian inflection.

Query language and stemming live in bot.textsearch: every word is reduced to a light stem and
looked up as a quoted token, so a person's query is never FTS5 syntax. The bot's /search calls
`search_posts` with the same filters as the CLI.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.detection.terms import text_matches_term
from bot.errors import StorageError, UserError
from bot.textsearch import WORD, build_fts_query, fold, light_stem
from bot.timeutil import parse_iso
from storage.db import Database
from storage.research import PENDING_AFTER_SQL, ArchiveFilters, has_pending_index, index_pending, iter_search

log = logging.getLogger(__name__)

__all__ = ["ArchiveFilters", "SearchHit", "build_fts_query", "light_stem", "refresh_index", "search_posts"]

MAX_LIMIT = 1000


@dataclass(frozen=True)
class SearchHit:
    channel_id: int
    channel_username: str | None
    message_id: int
    permalink: str
    posted_at: datetime
    deleted_at: datetime | None
    label: str | None
    confidence: float | None
    snippet: str
    text: str


def _snippet(text: str, query: str, width: int = 160) -> str:
    folded = fold(text)
    pos = -1
    for w in WORD.findall(fold(query)):
        if w == "or":
            continue
        pos = folded.find(light_stem(w) if len(w) >= 3 else w)
        if pos >= 0:
            break
    flat = " ".join(text.split())
    if pos < 0 or len(flat) <= width:
        return flat[:width] + ("…" if len(flat) > width else "")
    # Map the position in the raw text onto the whitespace-collapsed text approximately.
    start = max(0, len(" ".join(text[:pos].split())) - width // 3)
    cut = flat[start : start + width]
    return ("…" if start else "") + cut + ("…" if start + width < len(flat) else "")


def _hit(r: Any, query: str) -> SearchHit:
    return SearchHit(
        channel_id=r["channel_id"], channel_username=r["channel_username"], message_id=r["message_id"],
        permalink=r["permalink"], posted_at=parse_iso(r["posted_at"]), deleted_at=parse_iso(r["deleted_at"]),
        label=r["label"], confidence=r["confidence"], snippet=_snippet(r["text"], query), text=r["text"],
    )


async def refresh_index_in_steps(deps, *, step: int = 500) -> int:
    """The service's periodic job: index what was captured since the last run, in small transactions,
    so the live path never waits long for the write lock and Datasette users see fresh posts."""
    db = deps.db if hasattr(deps, "db") else deps
    done = 0
    while await has_pending_index(db):
        async with db.transaction():
            n = await index_pending(db, batch=step, limit=step)
        if n == 0:
            break
        done += n
    return done


# Below this many pending posts, worker start-up (~0.5 s) costs more than the stems it computes.
PARALLEL_INDEX_MIN = 20_000


async def catch_up_index(db: Database, *, step: int = 500) -> int:
    """refresh_index_in_steps for a batch job (`tgwatch import`): the same transactions of `step`
    posts, the same rows, but each step's stems (~50 us a post, a third of indexing) are computed
    in worker processes while the previous step is written. Every step re-reads its rows in its own
    transaction, so a post edited meanwhile is indexed as it now is (its stems computed here)."""
    from handlers.detect_pool import DetectionPool, worker_count

    pending = await db.fetchval("SELECT count(*) FROM post_search WHERE indexed = 0")
    if pending < PARALLEL_INDEX_MIN or worker_count() < 2:
        return await refresh_index_in_steps(db, step=step)
    done = 0
    with DetectionPool(None, worker_count()) as pool:
        after, ahead = -1, []
        while True:
            while len(ahead) < 2 and after is not None:  # two steps ahead: the workers never wait
                rows = await db.fetchall(PENDING_AFTER_SQL, (after, step))
                after = rows[-1][0] if rows else None
                if rows:
                    ahead.append(pool.stems([r[1] for r in rows]))
            if not ahead:
                break
            known = await ahead.pop(0)
            async with db.transaction():
                n = await index_pending(db, batch=step, limit=step, known=known)
            if n == 0:
                break
            done += n
    return done + await refresh_index_in_steps(db, step=step)  # anything left (posts edited meanwhile)


async def refresh_index(db: Database) -> int:
    """Index posts stored since the last search (see storage.research.index_pending); returns how many.

    On a read-only database, or when called inside a transaction (the write lock is not
    re-entrant), the index stays as it is and the newest posts may be missing.
    """
    if db.in_transaction or not await has_pending_index(db):
        return 0
    try:
        async with db.transaction():
            return await index_pending(db)
    except StorageError as e:
        log.warning("search index not refreshed: %s", e)
        return 0


def _db(deps_or_db: Any) -> Database:
    return deps_or_db if isinstance(deps_or_db, Database) else deps_or_db.db


async def search_posts(
    deps_or_db: Any, query: str, *, filters: ArchiveFilters = ArchiveFilters(), limit: int = 20
) -> list[SearchHit]:
    """The newest-captured posts whose current text matches `query`, at most `limit` (<= 1000).

    Takes Deps or a Database. Raises UserError for a query with no words or a bad limit.
    Deleted posts are left out unless filters.include_deleted.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise UserError(f"the result limit must be from 1 to {MAX_LIMIT}")
    fts = build_fts_query(query)
    await refresh_index(_db(deps_or_db))
    hits: list[SearchHit] = []
    try:
        # Fetch about as many rows as wanted: each row costs joins, and most searches stop at `limit`.
        async with aclosing(iter_search(_db(deps_or_db), fts, filters, batch=limit + 5)) as rows:
            async for r in rows:
                if filters.terms and not any(text_matches_term(r["text"], t) for t in filters.terms):
                    continue
                hits.append(_hit(r, query))
                if len(hits) >= limit:
                    break
    except StorageError as e:
        # build_fts_query emits only quoted terms, so this is not the person's fault; say so plainly.
        raise StorageError(f"the full-text search failed ({e}); run `tgwatch migrate` and try again") from e
    return hits
