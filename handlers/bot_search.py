"""`/search` over captured posts: every word must appear (any spelling or case form, as watch terms).

A bounded scan of the newest posts, no index. Kept behind `search_posts` so the FTS5 search
(`handlers/search.py`, another branch) can replace it without touching the bot commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.detection.terms import text_matches_term, word_keys
from bot.timeutil import parse_iso
from bot.models import permalink
from handlers.deps import Deps

SCAN_LIMIT = 20_000
SNIPPET_CHARS = 200


@dataclass(frozen=True)
class SearchHit:
    channel_id: int
    message_id: int
    channel_username: str | None
    posted_at: datetime
    snippet: str
    permalink: str


def _snippet(text: str, words: list[str]) -> str:
    flat = " ".join(text.split())
    low = flat.casefold()
    pos = min((i for i in (low.find(w.casefold()) for w in words) if i >= 0), default=0)
    start = max(0, pos - SNIPPET_CHARS // 3)
    out = flat[start:start + SNIPPET_CHARS]
    return ("…" if start else "") + out + ("…" if start + SNIPPET_CHARS < len(flat) else "")


async def search_posts(deps: Deps, query: str, *, limit: int = 10) -> list[SearchHit]:
    """Newest posts containing every word of `query` (transliteration- and case-tolerant)."""
    words = [w for w in query.split() if word_keys(w)][:8]
    if not words:
        return []
    hits: list[SearchHit] = []
    scanned = 0
    async for r in deps.db.iterate(
        """SELECT p.channel_id, p.message_id, p.text, p.posted_at, c.username FROM posts p
           LEFT JOIN channels c ON c.channel_id = p.channel_id ORDER BY p.posted_at DESC LIMIT ?""",
        (SCAN_LIMIT,),
    ):
        scanned += 1
        text = r["text"] or ""
        if all(text_matches_term(text, w) for w in words):
            hits.append(SearchHit(r["channel_id"], r["message_id"], r["username"], parse_iso(r["posted_at"]),
                                  _snippet(text, words), permalink(r["channel_id"], r["message_id"], r["username"])))
            if len(hits) >= limit:
                break
    return hits
