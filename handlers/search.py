"""Full-text search over captured posts (SQLite FTS5), tolerant of Russian/Belarusian inflection.

A person's query is never passed to FTS5 as syntax: it is split into words, each word is
cut to a light stem (common Russian and Belarusian endings removed) and sent as a quoted
prefix term ("помилов"*), so `помиловал`, `помилования` and `помилованы` all find each other.
Words are AND-ed; an upper-case OR between words means either; "quoted words" are an exact
phrase. ё is read as е and case is ignored, as in the index. The bot's /search calls
`search_posts` with the same filters as the CLI.
"""

from __future__ import annotations

import logging
import re
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.detection.terms import text_matches_term
from bot.errors import StorageError, UserError
from bot.timeutil import parse_iso
from storage.db import Database
from storage.research import ArchiveFilters, has_pending_index, index_pending, iter_search

log = logging.getLogger(__name__)

__all__ = ["ArchiveFilters", "SearchHit", "build_fts_query", "light_stem", "refresh_index", "search_posts"]

MAX_LIMIT = 1000
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PART = re.compile(r'"([^"]*)"|(\S+)')
# Inflectional endings, longest first. Russian nouns/adjectives/verbs/participles and the
# Belarusian forms that differ (ў, і, -аму, -ага, -ыя, -цца ...). A stem keeps >= 4 letters.
_ENDINGS = sorted(
    {
        # reflexive and verb forms
        "ться", "тись", "ешься", "ется", "ются", "ются", "ится", "ятся", "ался", "ался", "ась", "ись", "ся", "сь", "цца",
        "ать", "ять", "ить", "еть", "уть", "ыть", "аць", "яць", "іць", "ець",
        "ала", "ало", "али", "ила", "ило", "или", "ела", "ели", "ела", "ыла", "ыли", "ал", "ял", "ил", "ел", "ыл",
        "аў", "яў", "іў", "ыў", "ў",
        "ает", "яет", "ует", "ит", "ет", "ут", "ют", "ат", "ят", "ем", "им", "ешь", "ишь",
        # nouns and adjectives
        "ами", "ями", "амі", "ямі", "ого", "его", "ому", "ему", "ага", "ога", "аму", "ыми", "ими", "ымі", "імі",
        "ах", "ях", "ов", "ев", "ей", "ам", "ям", "ом", "ой", "ою", "ею", "ий", "ый", "ая", "яя", "ое", "ее", "ые",
        "ие", "ую", "юю", "ых", "их", "ым", "ія", "ыя", "ае", "ія", "іх", "ім",
        "ия", "ие", "ию", "ии", "ья", "ье", "ью", "ьи", "ьё",
        "а", "я", "о", "е", "ы", "и", "і", "у", "ю", "ь", "й",
        # English plural/past, so 'released'/'pardons' also reach their stems
        "ed", "es", "s",
    },
    key=len,
    reverse=True,
)
_MIN_STEM = 4
# Participle/verbal-noun tails left after the ending is gone (помилован-ие -> помилов, the stem
# of помиловал; освобожден-ие -> освобожд; памілаванн-е -> памілав).
_TAILS = ("анн", "янн", "енн", "онн", "ан", "ян", "ен")


def fold(text: str) -> str:
    """Lower case with ё read as е: how the index sees text."""
    return text.lower().replace("ё", "е")


def light_stem(word: str) -> str:
    """Cut one common ending off a folded word, keeping at least four letters."""
    w = fold(word)
    if w.isdigit() or len(w) <= _MIN_STEM:
        return w
    for end in _ENDINGS:
        if w.endswith(end) and len(w) - len(end) >= _MIN_STEM:
            w = w[: -len(end)]
            break
    for tail in _TAILS:
        if w.endswith(tail) and len(w) - len(tail) >= _MIN_STEM:
            return w[: -len(tail)]
    return w


def _term(word: str) -> str:
    w = fold(word)
    if w.isdigit() or len(w) < 3:
        return f'"{w}"'
    return f'"{light_stem(w)}"*'


def build_fts_query(query: str) -> str:
    """Turn a person's query into a safe FTS5 expression; raises UserError if it has no words."""
    groups: list[list[str]] = [[]]
    for m in _PART.finditer(query or ""):
        phrase, bare = m.group(1), m.group(2)
        if bare == "OR":
            if groups[-1]:
                groups.append([])
            continue
        if bare == "AND":  # words are AND-ed anyway
            continue
        if phrase is not None:
            words = _WORD.findall(fold(phrase))
            if words:
                groups[-1].append('"' + " ".join(words) + '"')
            continue
        groups[-1].extend(_term(w) for w in _WORD.findall(bare))
    groups = [g for g in groups if g]
    if not groups:
        raise UserError(
            "the search query has no words to look for; give one or more words, e.g. `помилование Иванов`"
        )
    ands = ["(" + " AND ".join(g) + ")" if len(g) > 1 else g[0] for g in groups]
    return " OR ".join(ands)


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
    for w in _WORD.findall(fold(query)):
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


async def refresh_index(db: Database) -> int:
    """Index posts stored since the last search (see storage.research.index_pending); returns how many.

    On a read-only database the index stays as it is and the newest posts may be missing.
    """
    if not await has_pending_index(db):
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
        async with aclosing(iter_search(_db(deps_or_db), fts, filters)) as rows:
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
