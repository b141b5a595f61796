"""One post's capture, as the capture writer runs it on the database thread inside the batch
transaction (handlers/capture.py): exactly handle_post's rules (storage.capture's plain sqlite3
calls instead of one thread hop per statement).

Stored post (or new version), channel cursor, detection, and when the post may concern any
subscriber a durable fan-out intent row. For a new post, also which subscribers it concerns, in a
savepoint of its own: a small fan-out's outbox rows or a big one's alert_recipients rows
(handlers/fanout.py). An edit's recipients, and the outbox rows of big fan-outs, are worked out by
the writer afterwards, in follow-up transactions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.models import Detection, Post
from bot.timeutil import iso, parse_iso
from handlers.fanout import Fanout, SubscriberIndex, plan_and_queue, subscriber_index
from handlers.analysis_pool import Analysis
from handlers.followups import describe_changes
from handlers.post_rules import PostResult, is_stale, log, safe_detect
from storage import capture as sql

@dataclass(frozen=True)
class Request:
    post: Post
    detector: Any
    now: datetime
    alert: bool
    source: str
    follow: tuple[int, int] | None = None  # a live post's id range: move the history cursor with it
    analysis: Analysis | None = None  # asked of the analysis worker as the post arrived (analysis_pool.py)




@dataclass
class Captured:
    result: PostResult
    fanout: Fanout | None = None  # to expand (or still to plan), with its intent row committed
    planned: tuple[int, int, int] | None = None  # fanout planned in this transaction: plan_and_queue's result


def capture(conn: Any, req: Request, batch: "Batch") -> Captured:
    """Store, detect and record the intent to alert about one post; with req.follow, move the live
    history cursor in the same transaction (storage.channel_sync.advance_if_contiguous). Idempotent.
    Needs a transaction, and batch.flush(conn) before it commits (the channel rows)."""
    if req.follow is None:
        return _capture(conn, req, batch)
    # First: the cursor's UPDATE is undone with the post's savepoint if anything below fails.
    moved = sql.advance_live_cursor(conn, req.post.channel_id, *req.follow)
    got = _capture(conn, req, batch)
    got.result = replace(got.result, cursor_moved=moved)
    return got


def _capture(conn: Any, req: Request, batch: "Batch") -> Captured:
    post, now = req.post, iso(req.now)
    cid, mid = post.channel_id, post.message_id
    existing = sql.get_post(conn, cid, mid)
    top = max(mid, *post.album_message_ids or (0,))
    previous: tuple[str, Detection | None] | None = None
    if existing is None:
        sql.insert_post(conn, post, now, req.source)
        version, outcome = 1, "new"
    elif (existing.post.text == post.text and existing.post.media == post.media) or is_stale(post, existing.post):
        # Same content, or an older version arriving late (a restarted replay, Telethon's catch_up
        # re-delivering the original after its edit): never record an old text as a new version.
        sql.touch(conn, post)
        batch.channel_seen(post, top, now)
        return Captured(PostResult("unchanged", existing.version, None))
    else:
        version, outcome = existing.version + 1, "edited"
        found = sql.latest_detection(conn, cid, mid)
        previous = (existing.post.text, found[1] if found else None)
        sql.add_version(conn, post, version, now)

    detection = _detect(req)
    detection_id = sql.record_detection(conn, cid, mid, version, detection, now)
    return _stored(conn, req, batch, outcome, version, previous, detection, detection_id)


def capture_many(conn: Any, reqs: list[Request], batch: "Batch") -> list[Captured]:
    """capture() for each request, in order, with the same end state; the new posts among them
    (the bulk of a burst) are stored in a few multi-row statements instead of five statements each
    (live ones too, when the whole batch is new). Raises like capture(); the caller's savepoint
    undoes the lot."""
    keys = [(r.post.channel_id, r.post.message_id) for r in reqs]
    stored = sql.stored_keys(conn, keys) if len(set(keys)) == len(keys) else None
    fresh = [] if stored is None else [i for i, k in enumerate(keys) if k not in stored]
    all_fresh = len(fresh) == len(reqs)
    if not all_fresh:
        # Live posts move their channel's history cursor in arrival order; mixed with posts taking
        # the one-by-one path, that order holds only if they take it too.
        fresh = [i for i in fresh if reqs[i].follow is None]
    out: list[Captured | None] = [None] * len(reqs)
    if len(fresh) > 1:
        moved = {i: sql.advance_live_cursor(conn, reqs[i].post.channel_id, *reqs[i].follow)
                 for i in fresh if reqs[i].follow is not None}  # in arrival order, as capture() does
        new = [(reqs[i].post, _detect(reqs[i]), iso(reqs[i].now), reqs[i].source) for i in fresh]
        ids = sql.insert_new_posts(conn, new)
        if ids is None:
            raise sql.BulkMismatch("the new posts' rows did not go in as expected")
        for i, (_, detection, _, _), detection_id in zip(fresh, new, ids):
            got = _stored(conn, reqs[i], batch, "new", 1, None, detection, detection_id)
            if i in moved:
                got.result = replace(got.result, cursor_moved=moved[i])
            out[i] = got
    return [got if got is not None else capture(conn, req, batch) for got, req in zip(out, reqs)]


def _detect(req: Request) -> Detection:
    found = req.analysis.detection_by(req.detector) if req.analysis is not None else None
    return found if found is not None else safe_detect(req.detector, req.post.text)


def _stored(conn: Any, req: Request, batch: "Batch", outcome: str, version: int,
            previous: tuple[str, Detection | None] | None, detection: Detection, detection_id: int) -> Captured:
    """After the post (or version) and its detection are stored: the fan-out intent (and a new
    post's recipients), and the channel's marks."""
    post, now = req.post, iso(req.now)
    cid, mid = post.channel_id, post.message_id
    top = max(mid, *post.album_message_ids or (0,))
    fanout = None
    if req.alert:
        # An edit matters to those already alerted only when the text or the detected facts changed.
        changes = describe_changes(previous[0], previous[1], post.text, detection) if previous else None
        index = batch.index(conn)
        if (index.may_concern(post, detection, index.hits(req.analysis))
                or (changes is not None and sql.has_alerts(conn, cid, mid))):
            fanout = Fanout(post, detection, detection_id, version, changes, req.now, analysis=req.analysis)
            fanout.fanout_id = sql.add_fanout(conn, cid, mid, version, detection_id,
                                              json.dumps(changes, ensure_ascii=False) if changes else None, now)
    planned = _plan_now(conn, batch, fanout) if fanout is not None and outcome == "new" else None
    batch.channel_seen(post, top, now)  # last: a post undone by its savepoint moves no channel
    log.debug("post %s/%s %s v%d label=%s%s", cid, mid, outcome, version, detection.label,
              (" recipients queued" if planned else " fan-out to plan") if fanout else "")
    return Captured(PostResult(outcome, version, detection), fanout, planned)


def _plan_now(conn: Any, batch: "Batch", fo: Fanout) -> tuple[int, int, int] | None:
    """A new post's recipients, committed with the post itself (the load target of issue 7: every
    per-subscriber queue row durable as soon as the post is): matching, then a small fan-out's outbox
    rows or a big one's alert_recipients rows, in a savepoint of their own. Not when an older fan-out
    of the same post is unfinished (a post deleted and captured again: it goes first), and never at
    the post's expense: if planning fails, it is undone alone and the writer plans the intent later,
    as it does an edit's (whose follow-ups wait for the alerts before them)."""
    if not batch.plan_new or (fo.post.channel_id, fo.post.message_id) in batch.busy:
        return None
    try:
        with sql.Savepoint(conn, "plan_post"):
            return plan_and_queue(conn, batch.index(conn), fo)
    except Exception:  # noqa: BLE001 - the intent stays; planning it again later reports the error
        if sql.Savepoint.batch_lost(conn):
            raise
        log.debug("planning post %s/%s with its capture failed; deferred", fo.post.channel_id, fo.post.message_id,
                  exc_info=True)
        fo.targets, fo.position = None, 0
        return None


class Batch:
    """What the posts of one transaction share: the subscriber index (looked up at most once, and only
    if a post needs it) and the channel rows, written once per channel when the batch ends (the same
    end state as channels.ensure + advance post by post: first username, highest id and date)."""

    def __init__(self, cache: dict, busy: frozenset[tuple[int, int]] = frozenset(), *, plan_new: bool = True):
        self.cache = cache
        self.busy = busy  # (channel_id, message_id) of the writer's unfinished fan-outs
        # False: the caller plans and expands every fan-out in the same transaction itself (an import
        # batch), so recipient rows would be written only to be deleted again.
        self.plan_new = plan_new
        self._index: SubscriberIndex | None = None
        self._channels: dict[int, list] = {}  # channel_id -> [username, top id, latest posted_at, now]

    def index(self, conn: Any) -> SubscriberIndex:
        if self._index is None:
            self._index = subscriber_index(conn, self.cache)
        return self._index

    def channel_seen(self, post: Post, top: int, now: str) -> None:
        at = iso(post.posted_at)
        seen = self._channels.get(post.channel_id)
        if seen is None:
            self._channels[post.channel_id] = [post.channel_username, top, at, now]
        else:
            seen[:] = [seen[0] or post.channel_username, max(seen[1], top), max(seen[2], at), now]

    def flush(self, conn: Any) -> None:
        moves, self._channels = self._channels, {}
        sql.ensure_channels(conn, [(cid, username, now) for cid, (username, _, _, now) in moves.items()])
        sql.advance_channels(conn, [(cid, top, at, now) for cid, (_, top, at, now) in moves.items()])


def resume(conn: Any, cache: dict) -> list[Fanout]:
    """The fan-outs a previous run committed but did not finish, rebuilt from their intent rows
    (the version's text, its detection, the subscribers already done), oldest first: a planned one
    with its remaining recipients (expansion looks each up again), an unplanned one to plan again.
    Compiles the subscriber index too, so the first posts do not wait for it."""
    subscriber_index(conn, cache)
    out: list[Fanout] = []
    for row in sql.pending_fanouts(conn):
        stored = sql.get_post(conn, row.channel_id, row.message_id)
        text = sql.version_text(conn, row.channel_id, row.message_id, row.version)
        detection = sql.detection(conn, row.detection_id)
        if stored is None or text is None or detection is None:  # the post was forgotten meanwhile
            sql.fanout_progress(conn, row.fanout_id, None)
            continue
        post = replace(stored.post, text=text[0], media=text[1])
        changes = json.loads(row.changes) if row.changes else None
        fo = Fanout(post, detection, row.detection_id, row.version, changes, parse_iso(row.created_at),
                    fanout_id=row.fanout_id, done_through=row.done_through)
        if row.planned:
            fo.targets = sql.recipients(conn, row.fanout_id, row.done_through)
        out.append(fo)
    return out
