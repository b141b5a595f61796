"""Who receives a post, and the per-subscriber outbox rows it causes; runs on the database thread
inside the capture writer's jobs (handlers/capture.py), with storage.capture's plain sqlite3 calls.

The subscribers' filters are compiled once per subscription generation (any change to subscribers
or subscriptions, from any process, changes it) into groups of subscribers with the same filter;
a post is matched once per group (handlers.matching.match_reason, unchanged) and only the groups it
matches are walked. Rows are built as tuples with bulk random_ids and written with one executemany.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from heapq import merge
from typing import Any

from bot.models import Detection, Post, Subscription
from bot.timeutil import iso
from handlers.digest import plan_delivery
from handlers.followups import merge_changes
from handlers.matching import match_reason
from storage import capture as sql

_INDEX_KEY = "capture.subscriber_index"


@dataclass(frozen=True)
class Member:
    subscriber_id: int
    destination: str
    status: str
    filters: Subscription


@dataclass
class Group:
    """Subscribers whose filters match exactly the same posts."""
    filters: Subscription
    members: list[Member] = field(default_factory=list)


@dataclass(frozen=True)
class SubscriberIndex:
    everywhere: tuple[Group, ...]  # no channel filter
    by_channel: dict[int, tuple[Group, ...]]
    members: dict[int, Member]

    def matching(self, post: Post, detection: Detection) -> list[tuple[Member, str]]:
        """(member, reason) for every subscriber whose filters want this post, by subscriber_id."""
        runs = []
        for group in self.everywhere + self.by_channel.get(post.channel_id, ()):
            if not detection.is_positive and not group.filters.terms:
                continue  # label-only filters never take a non-announcement
            reason = match_reason(post, detection, group.filters)
            if reason is not None:
                runs.append([(m, reason) for m in group.members])
        if len(runs) == 1:
            return runs[0]
        return list(merge(*runs, key=lambda pair: pair[0].subscriber_id))


def compile_index(receiving: list) -> SubscriberIndex:
    groups: dict[tuple, Group] = {}
    members: dict[int, Member] = {}
    for sub, f in receiving:
        key = (frozenset(f.labels), frozenset(f.channel_ids), f.min_confidence, f.terms)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(f)
        member = Member(sub.subscriber_id, f"{sub.kind}:{sub.address}", sub.status, f)
        group.members.append(member)  # `receiving` is ordered by subscriber_id, so each group is too
        members[sub.subscriber_id] = member
    everywhere = tuple(g for g in groups.values() if not g.filters.channel_ids)
    by_channel: dict[int, list[Group]] = {}
    for g in groups.values():
        for cid in set(g.filters.channel_ids):
            by_channel.setdefault(cid, []).append(g)
    return SubscriberIndex(everywhere, {c: tuple(gs) for c, gs in by_channel.items()}, members)


def subscriber_index(conn: Any, cache: dict) -> SubscriberIndex:
    """The compiled index, rebuilt only when the subscription generation changed (read inside the
    caller's transaction, so it includes the transaction's own changes)."""
    generation = sql.subscription_generation(conn)
    hit = cache.get(_INDEX_KEY)
    if hit is not None and generation is not None and hit[0] == generation:
        return hit[1]
    index = compile_index(sql.receiving(conn))
    if generation is not None:
        cache[_INDEX_KEY] = (generation, index)
    return index


@dataclass
class Fanout:
    """One post version's alerts and follow-ups still to queue, in subscriber_id order.

    `targets` are (member, reason or None): matched subscribers and, for an edit with changes,
    the ones already alerted (who may get a follow-up instead). `fanout_id` is its durable intent
    row (None while it is expanded inside the capture transaction itself)."""
    post: Post
    detection: Detection
    detection_id: int
    version: int
    changes: dict | None
    now: datetime
    targets: list[tuple[Member, str | None]]
    fanout_id: int | None = None
    position: int = 0  # targets[:position] are done and committed
    alerts: int = 0
    followups: int = 0


def plan_fanout(conn: Any, index: SubscriberIndex, post: Post, detection: Detection, detection_id: int,
                version: int, changes: dict | None, now: datetime, done_through: int = 0) -> Fanout:
    """Who this post version may concern, as handlers.posts queued it: matching subscribers, plus for an
    edit with changes the receiving subscribers already alerted about it (their alert row decides)."""
    matched = index.matching(post, detection)
    if changes is not None:
        alerted = sql.alert_states(conn, post.channel_id, post.message_id)
        extra = [(index.members[sid], None) for sid in sorted(alerted) if sid in index.members]
        if extra:
            seen = {m.subscriber_id for m, _ in matched}
            matched = list(merge(matched, [t for t in extra if t[0].subscriber_id not in seen],
                                 key=lambda pair: pair[0].subscriber_id))
    targets = [t for t in matched if t[0].subscriber_id > done_through]
    return Fanout(post, detection, detection_id, version, changes, now, targets)


def expand(conn: Any, fo: Fanout, limit: int | None) -> tuple[int, int, int]:
    """Queue the next targets (at most `limit`; None: all, up to RANDOM_ID_ROOM) inside the caller's transaction.

    Returns (new position, alerts added, follow-ups added); the caller applies them to `fo` once the
    transaction committed, so a failed chunk is simply done again."""
    post, now = fo.post, iso(fo.now)
    cid, mid = post.channel_id, post.message_id
    end = min(len(fo.targets), fo.position + min(limit or sql.RANDOM_ID_ROOM, sql.RANDOM_ID_ROOM))
    chunk = fo.targets[fo.position:end]
    if not chunk:
        return end, 0, 0
    states = sql.alert_states(conn, cid, mid, chunk[0][0].subscriber_id, chunk[-1][0].subscriber_id)
    key = f"alert:{cid}:{mid}"
    plans: dict[tuple, tuple[str, str]] = {}
    payloads: dict[str, str] = {}
    rows: list[tuple] = []
    followups = 0
    base = sql.random_base()
    for member, reason in chunk:
        sid = member.subscriber_id
        if sid in states:
            if fo.changes is not None and states[sid] == "sent":
                followups += _followup(conn, fo, member, now)
            continue
        if reason is None:
            continue
        f = member.filters
        plan_key = (member.status, f.mode, f.digest_hour, f.timezone)
        plan = plans.get(plan_key)
        if plan is None:
            status, due_at = plan_delivery(member.status, f, fo.detection, fo.now)
            plan = plans[plan_key] = (status, iso(due_at) if due_at else now)
        payload = payloads.get(reason)
        if payload is None:
            payload = payloads[reason] = json.dumps({"reason": reason, "version": fo.version})
        rows.append((sid, member.destination, "alert", key, cid, mid, fo.detection_id, payload, base + len(rows) + 1,
                     plan[0], plan[1], now))
    alerts = sql.insert_outbox(conn, rows) if rows else 0
    if fo.fanout_id is not None:
        sql.fanout_progress(conn, fo.fanout_id, None if end == len(fo.targets) else fo.targets[end - 1][0].subscriber_id)
    return end, alerts, followups


def _followup(conn: Any, fo: Fanout, member: Member, now: str) -> int:
    """An edit of a post this subscriber was alerted about: an 'edited' follow-up replacing any pending one."""
    cid, mid = fo.post.channel_id, fo.post.message_id
    merged = fo.changes
    for old in sql.supersede_followups(conn, member.subscriber_id, cid, mid, now):
        merged = merge_changes(json.loads(old).get("changes"), merged)
    return sql.insert_outbox(conn, [(
        member.subscriber_id, member.destination, "followup", f"edit:{cid}:{mid}:v{fo.version}", cid, mid,
        fo.detection_id, json.dumps({"version": fo.version, "changes": merged}, ensure_ascii=False),
        sql.random_base() + 1, "pending", now, now,
    )])
