"""Capturing posts: the one use case every source (live, history pass, import, replay) goes through.

`handle_post` stores the post (or a new version when the text changed), runs the
detector, and queues alerts for matching subscribers: the post, its detection, a durable intent to
queue its alerts and (for a new post) every recipient's queue row in ONE transaction, the outbox
rows right after (handlers/capture.py, handlers/capture_post.py, handlers/fanout.py). Running it again with the same post
changes nothing. Nothing here touches the network: delivery happens after commit, from the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.models import Post
from handlers.capture import Capture, writer_for
from handlers.capture_post import Batch, Request, capture
from handlers.deps import Deps
from handlers.fanout import expand, plan, subscriber_index
from handlers.post_rules import PostResult, alert_key, is_stale, safe_detect, storable
from storage import bot_queries, outbox, posts

__all__ = ["PostResult", "alert_key", "handle_deletion", "handle_post", "is_stale", "safe_detect", "storable", "submit_post"]

log = logging.getLogger(__name__)


async def handle_post(post: Post, deps: Deps, *, alert: bool = True, source: str = "live",
                      follow: tuple[int, int] | None = None) -> PostResult:
    """Store, detect and queue alerts for one post. Idempotent.

    Posts arriving together are committed together (handlers/capture.py: one transaction, each post
    isolated in a savepoint); returns once all of this post's alerts are queued.
    `alert=False` (imports, redetect) records detections without queueing anything.
    `follow=(first_id, last_id)` (live posts) moves the channel's history cursor in the same
    transaction when the ids follow it (result.cursor_moved).
    """
    if deps.db.joins_open_batch:
        return await capture_in_open_batch(storable(post), deps, alert=alert, source=source, follow=follow)
    return await submit_post(post, deps, alert=alert, source=source, follow=follow).done


def submit_post(post: Post, deps: Deps, *, alert: bool = True, source: str = "live",
                follow: tuple[int, int] | None = None) -> Capture:
    """handle_post in its stages: await `.captured` for the post, its detection and its fan-out intent
    committed, `.queued` for every recipient's queue row as well (a small fan-out's outbox rows, a big
    one's alert_recipients rows), `.done` for every outbox row."""
    return writer_for(deps.db).submit(storable(post), deps, alert=alert, source=source, follow=follow)


async def capture_in_open_batch(post: Post, deps: Deps, *, alert: bool, source: str,
                                follow: tuple[int, int] | None = None) -> PostResult:
    """handle_post inside a transaction the caller holds (storage.direct's batch()): everything,
    fan-out included, in that transaction; an error propagates and the caller's batch rolls back."""
    request = Request(post, deps.detector, deps.clock(), alert, source, follow)
    cache = deps.db.cache

    def job(conn) -> PostResult:
        batch = Batch(cache, plan_new=False)
        got = capture(conn, request, batch)
        batch.flush(conn)
        if got.fanout is None:
            return got.result
        fo = got.fanout
        index = subscriber_index(conn, cache)
        plan(conn, index, fo)
        while not fo.finished:
            fo.position, alerts, followups = expand(conn, fo, None, index)
            fo.alerts, fo.followups = fo.alerts + alerts, fo.followups + followups
        return replace(got.result, alerts_queued=got.result.alerts_queued + fo.alerts,
                       followups_queued=got.result.followups_queued + fo.followups)

    result = await deps.db.run_job(job)
    if result.alerts_queued or result.followups_queued:
        deps.wake()
    return result


async def handle_deletion(channel_id: int, message_ids: list[int], deps: Deps) -> list[int]:
    """Mark posts deleted (captured text stays) and queue 'deleted' follow-ups for subscribers whose
    alert was sent (a still-queued alert is rendered with the 'deleted' header instead).

    Idempotent; returns the message ids newly marked.
    """
    now = deps.clock()
    queued = 0
    async with deps.db.transaction():
        marked = await posts.mark_deleted(deps.db, channel_id, message_ids, now)
        for mid in marked:
            for item in await outbox.for_post(deps.db, channel_id, mid):
                if item.kind != "alert" or item.status != "sent":
                    continue
                await bot_queries.supersede_followups(deps.db, item.subscriber_id, channel_id, mid, now)
                queued += int(
                    await outbox.enqueue(
                        deps.db,
                        subscriber_id=item.subscriber_id,
                        destination=item.destination,
                        kind="deleted",
                        dedupe_key=f"delete:{channel_id}:{mid}",
                        channel_id=channel_id,
                        message_id=mid,
                        now=now,
                    )
                )
    if queued:
        deps.wake()
    return marked
