"""One way in for Telegram posts (live, history pass, backfill): fold album parts into the stored
album post, run handle_post, and keep the history cursor moving when nothing was skipped."""

from __future__ import annotations

import logging

from bot.models import Post
from bot.telegram.albums import merge_with_stored
from handlers.deps import Deps
from handlers.posts import PostResult, handle_post
from storage import channel_sync, posts

log = logging.getLogger(__name__)


async def with_stored_album(post: Post, deps: Deps) -> Post:
    """Album parts arriving after the album was stored belong to the stored post, not a new one."""
    if post.grouped_id is None:
        return post
    stored = await posts.get_by_album_member(deps.db, post.channel_id, post.grouped_id)
    if stored is None:
        return post
    return merge_with_stored(stored.post, post)


async def ingest(post: Post, deps: Deps, *, source: str, alert: bool = True,
                 follow: tuple[int, int] | None = None) -> PostResult:
    """Store one (album-combined) post through handle_post (follow: handle_post's). Idempotent."""
    post = await with_stored_album(post, deps)
    return await handle_post(post, deps, alert=alert, source=source, follow=follow)


def id_range(post: Post) -> tuple[int, int]:
    ids = post.album_message_ids or (post.message_id,)
    return min(ids), max(ids)


async def advance_live_cursor(deps: Deps, channel_id: int, first_id: int, last_id: int) -> bool:
    """Live message ids right after the history cursor move it (no history read needed then)."""
    async with deps.db.transaction():
        return await channel_sync.advance_if_contiguous(deps.db, channel_id, first_id, last_id)
