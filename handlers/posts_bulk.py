"""handle_post for many posts at once (imports): the same rows, written with a few executemany per batch.

Per post the outcome is exactly handle_post's (new / edited version / unchanged, a detection per
stored version, the channel cursor advanced, idempotent); what changes is the cost: existing posts
are looked up per batch with one IN query per channel, and every table gets one executemany,
in post order, so rowids and detection_ids come out as if the posts had been stored one by one.
tests/test_posts_bulk.py checks the database content against handle_post's, byte for byte.
"""

from __future__ import annotations

import functools

import logging
from collections import defaultdict
from datetime import datetime
from typing import Iterable, Mapping

from bot.models import Detection, Post
from bot.timeutil import iso, parse_iso
from handlers.deps import Deps
from handlers.posts import PostResult, handle_post, safe_detect, storable
from storage import channels, detections
from storage import posts as stored_posts

log = logging.getLogger(__name__)


async def handle_posts_bulk(
    posts: Iterable[Post], deps: Deps, *, alert: bool = False, source: str = "import",
    verdicts: Mapping[str, Detection] | None = None,
) -> list[PostResult]:
    """Store and detect many posts in ONE transaction (joining an open BatchDatabase.batch()).

    `verdicts` maps texts to detections computed elsewhere (handlers.detect_pool); a text missing
    from it is detected here. `alert=True` goes post by post through handle_post (alerts need the
    per-post outbox logic), so only imports without alerts take the bulk path.
    """
    if alert:
        return [await handle_post(p, deps, alert=True, source=source) for p in posts]
    now = deps.clock()
    cache: dict[str, Detection] = dict(verdicts or {})
    results: list[PostResult] = []
    async with deps.db.transaction():
        run: list[Post] = []
        keys: set[tuple[int, int]] = set()
        for post in map(storable, posts):
            key = (post.channel_id, post.message_id)
            if key in keys:  # the same post twice: store what came before first, as one by one would
                results += await _store_run(run, deps, now, source, cache)
                run, keys = [], set()
            run.append(post)
            keys.add(key)
        if run:
            results += await _store_run(run, deps, now, source, cache)
    return results


def _is_stale(post: Post, stored_edited_at: str | None) -> bool:
    """handlers.posts._is_stale on the stored ISO text (parsed only when it matters)."""
    if stored_edited_at is None:
        return False
    return post.edited_at is None or post.edited_at < parse_iso(stored_edited_at)


async def _store_run(
    run: list[Post], deps: Deps, now: datetime, source: str, cache: dict[str, Detection]
) -> list[PostResult]:
    """Posts with distinct keys: ensure channels, look up, write, advance, record verdicts."""
    db = deps.db
    await channels.ensure_many(db, [(p.channel_id, p.channel_username) for p in run], now)
    ids: dict[int, list[int]] = defaultdict(list)
    for p in run:
        ids[p.channel_id].append(p.message_id)
    stored = {(cid, mid): r for cid, mids in ids.items()
              for mid, r in (await stored_posts.current_many(db, cid, mids)).items()}
    changed: list[tuple[Post, int]] = []
    touched: list[Post] = []
    verdict_rows: list[tuple[int, int, int, Detection]] = []
    reached: dict[int, tuple[int, str]] = {}
    results: list[PostResult] = []
    detect = functools.partial(safe_detect, deps.detector)
    for p in run:
        top, at = max(p.message_id, *p.album_message_ids or (0,)), iso(p.posted_at)
        seen = reached.get(p.channel_id)
        reached[p.channel_id] = (top, at) if seen is None else (max(seen[0], top), max(seen[1], at))
        r = stored.get((p.channel_id, p.message_id))
        if r is None:
            version, outcome = 1, "new"
        elif (r["text"] == p.text and r["media"] == p.media) or _is_stale(p, r["edited_at"]):
            touched.append(p)
            results.append(PostResult("unchanged", r["version"], None))
            continue
        else:
            version, outcome = r["version"] + 1, "edited"
        d = cache.get(p.text)
        if d is None:
            d = cache[p.text] = detect(p.text)
        changed.append((p, version))
        verdict_rows.append((p.channel_id, p.message_id, version, d))
        results.append(PostResult(outcome, version, d))
    await stored_posts.write_many(db, now, source, changed, touched)
    await channels.advance_many(db, reached, now)
    await detections.record_many(db, verdict_rows, now)
    log.debug("bulk: %d posts, %d stored, %d unchanged", len(run), len(changed), len(touched))
    return results
