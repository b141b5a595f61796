"""Who receives a post, and the per-subscriber outbox rows it causes; runs on the database thread
inside the capture writer's jobs (handlers/capture.py), with storage.capture's plain sqlite3 calls.

The subscribers' filters are compiled once per subscription generation (any change to subscribers
or subscriptions, from any process, changes it) into groups of subscribers with the same filter;
a post is matched once per group (handlers.matching.match_reason, unchanged) and only the groups it
matches are walked. A two-level outbox: `plan` finds the recipients, which the planning transaction
commits as slim alert_recipients rows (`record`; ~1 us a row, where a wide outbox row with its five
indexes costs 15-30 us); `expand` turns them into outbox rows chunk by chunk, built as tuples with
bulk random_ids and written with one executemany, looking each subscriber up again (one who stopped
meanwhile gets nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from collections.abc import Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from bot.models import Detection, Post, Subscription
from bot.timeutil import iso
from handlers.digest import plan_delivery
from handlers.followups import merge_changes
from handlers.matching import match_reason
from handlers.analysis_pool import Analysis
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
    number: int
    filters: Subscription
    ids: list[int] = field(default_factory=list)  # the members' subscriber_ids, in order


@dataclass(frozen=True)
class SubscriberIndex:
    everywhere: tuple[Group, ...]  # no channel filter
    by_channel: dict[int, tuple[Group, ...]]
    members: dict[int, Member]
    terms: frozenset[str] = frozenset()  # every watch term of every filter
    generation: int | None = None  # the subscription generation it was compiled at

    def groups_for(self, channel_id: int) -> tuple[Group, ...]:
        return self.everywhere + self.by_channel.get(channel_id, ())

    def hits(self, slot: Analysis | None) -> frozenset[str] | None:
        """The terms found in the post's text by the analysis worker, if it answered for this generation."""
        if slot is None or slot.generation is None or slot.generation != self.generation:
            return None
        return slot.hits

    def may_concern(self, post: Post, detection: Detection, term_hits: frozenset[str] | None = None) -> bool:
        """Cheap: could any filter take this post? (Announcements: any filter on its channel; other
        posts: only watch terms, whose matching is the costly part, left to matching() unless the
        analysis worker already found which occur.)"""
        if detection.is_positive:
            return bool(self.groups_for(post.channel_id))
        return any(g.filters.terms and (term_hits is None or not term_hits.isdisjoint(g.filters.terms))
                   for g in self.groups_for(post.channel_id))

    def matching(self, post: Post, detection: Detection, term_hits: frozenset[str] | None = None) -> list[Target]:
        """(subscriber_id, reason) for every subscriber whose filters want this post, by subscriber_id.
        `term_hits`: the terms known to occur in the post's text (self.hits), else matched here."""
        reasons: dict[int, str] = {}
        matched: list[Group] = []
        for group in self.groups_for(post.channel_id):
            if not detection.is_positive and not group.filters.terms:
                continue  # label-only filters never take a non-announcement
            reason = match_reason(post, detection, group.filters, term_hits)
            if reason is not None:
                reasons[group.number] = reason
                matched.append(group)
        return Targets([(g.ids, reasons[g.number]) for g in matched])


Target = tuple[int, str | None]  # (subscriber_id, reason); reason None: already alerted, a follow-up at most
_FIRST = itemgetter(0)


class Targets(Sequence):
    """A fan-out's (subscriber_id, reason) in subscriber_id order, kept as runs of ids with one reason
    each (the matched groups' id lists, shared with the index: never changed): a big fan-out's
    recipient rows are written per reason straight from the runs, and the sorted pairs that
    expansion walks are built only when it first needs them, after the burst that brought the post.
    A subscriber is in one run only. (A Python loop over the 2,000 subscribers of an announcement
    cost ~1 ms of the writer's core, inside the post's capture.)"""

    def __init__(self, runs: list[tuple[list[int], str | None]]):
        self.runs = [(ids, reason) for ids, reason in runs if ids]
        self._n = sum(len(ids) for ids, _ in self.runs)
        self._pairs: list[Target] | None = None

    def pairs(self) -> list[Target]:
        if self._pairs is None:
            its = [zip(ids, repeat(reason)) for ids, reason in self.runs]
            self._pairs = list(its[0]) if len(its) == 1 else sorted(chain.from_iterable(its), key=_FIRST)
        return self._pairs

    def by_reason(self) -> dict[str | None, list[int]]:
        out: dict[str | None, list[int]] = {}
        for ids, reason in self.runs:
            out.setdefault(reason, []).extend(ids)
        return out

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        return self.pairs()[i]

    def __iter__(self):
        return iter(self.pairs())


def compile_index(receiving: list) -> SubscriberIndex:
    groups: dict[tuple, Group] = {}
    members: dict[int, Member] = {}
    for sub, f in receiving:
        key = (frozenset(f.labels), frozenset(f.channel_ids), f.min_confidence, f.terms)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(len(groups), f)
        group.ids.append(sub.subscriber_id)  # `receiving` is ordered by subscriber_id, so each group is too
        members[sub.subscriber_id] = Member(sub.subscriber_id, f"{sub.kind}:{sub.address}", sub.status, f)
    everywhere = tuple(g for g in groups.values() if not g.filters.channel_ids)
    by_channel: dict[int, list[Group]] = {}
    for g in groups.values():
        for cid in set(g.filters.channel_ids):
            by_channel.setdefault(cid, []).append(g)
    return SubscriberIndex(everywhere, {c: tuple(gs) for c, gs in by_channel.items()}, members,
                           frozenset(t for g in groups.values() for t in g.filters.terms))


def subscriber_index(conn: Any, cache: dict) -> SubscriberIndex:
    """The compiled index, rebuilt only when the subscription generation changed (read inside the
    caller's transaction, so it includes the transaction's own changes)."""
    generation = sql.subscription_generation(conn)
    hit = cache.get(_INDEX_KEY)
    if hit is not None and generation is not None and hit[0] == generation:
        return hit[1]
    index = replace(compile_index(sql.receiving(conn)), generation=generation)
    if generation is not None:
        cache[_INDEX_KEY] = (generation, index)
    return index


def cached_index(cache: dict) -> SubscriberIndex | None:
    """The index compiled last (maybe of an older generation), without a database read."""
    hit = cache.get(_INDEX_KEY)
    return None if hit is None else hit[1]


@dataclass
class Fanout:
    """One post version's alerts and follow-ups still to queue, in subscriber_id order, from its
    durable intent row `fanout_id`.

    `targets` (None until planned) are (subscriber_id, reason or None): matched subscribers and, for
    an edit with changes, the ones already alerted (who may get a follow-up instead); once the
    planning transaction committed, also durable as the intent's alert_recipients rows."""
    post: Post
    detection: Detection
    detection_id: int
    version: int
    changes: dict | None
    now: datetime
    fanout_id: int | None = None
    done_through: int = 0  # subscribers up to this id were handled by an earlier run
    analysis: Analysis | None = None  # the analysis worker's answer for the text, when it comes
    targets: Sequence[Target] | None = None  # Targets when planned here, a list when resumed
    position: int = 0  # targets[:position] are done and committed
    alerts: int = 0
    followups: int = 0

    @property
    def finished(self) -> bool:
        return self.targets is not None and self.position >= len(self.targets)


def plan(conn: Any, index: SubscriberIndex, fo: Fanout) -> None:
    """Who this post version concerns, as handlers.posts always queued it: matching subscribers, plus
    for an edit with changes the receiving subscribers already alerted about it (their alert row
    decides). Needs the post's earlier fan-outs finished (their alerts are what an edit follows up)."""
    matched = index.matching(fo.post, fo.detection, index.hits(fo.analysis))
    if fo.changes is not None:
        alerted = sql.alert_states(conn, fo.post.channel_id, fo.post.message_id)
        seen = {sid for ids, _ in matched.runs for sid in ids}
        extra = sorted(sid for sid in alerted if sid in index.members and sid not in seen)
        if extra:
            matched = Targets(matched.runs + [(extra, None)])
    if fo.done_through:
        matched = Targets([([sid for sid in ids if sid > fo.done_through], reason) for ids, reason in matched.runs])
    fo.targets = matched


SMALL_ROWS = 100  # a fan-out of at most this many targets gets its outbox rows when it is planned


def plan_and_queue(conn: Any, index: SubscriberIndex, fo: Fanout) -> tuple[int, int, int]:
    """Plan `fo` inside the caller's transaction and commit to its recipients: a small fan-out's outbox
    rows at once, a big one's alert_recipients rows (all of them: a fan-out is never planned in part).
    Returns expand()'s (new position, alerts added, follow-ups added), applied once it committed."""
    plan(conn, index, fo)
    assert fo.targets is not None
    if len(fo.targets) - fo.position <= SMALL_ROWS:
        return expand(conn, fo, SMALL_ROWS, index)
    record(conn, fo)
    return fo.position, 0, 0


def record(conn: Any, fo: Fanout) -> None:
    """Commit a planned fan-out's targets with the caller's transaction (a statement per reason): from then
    on each of its per-subscriber queue rows is durable, only not yet in the outbox's shape."""
    assert isinstance(fo.targets, Targets) and fo.fanout_id is not None, "plan() a writer's fan-out first"
    sql.add_recipients(conn, fo.fanout_id, fo.targets.by_reason())


def expand(conn: Any, fo: Fanout, limit: int | None, index: SubscriberIndex) -> tuple[int, int, int]:
    """Queue the next targets (at most `limit`; None: all, up to RANDOM_ID_ROOM) inside the caller's
    transaction, for the subscribers `index` (current) still has; when the last target is done, the
    intent and its recipient rows go in the same transaction.

    Returns (new position, alerts added, follow-ups added); the caller applies them to `fo` once the
    transaction committed, so a failed chunk is simply done again."""
    assert fo.targets is not None, "plan() first"
    post, now = fo.post, iso(fo.now)
    cid, mid = post.channel_id, post.message_id
    end = min(len(fo.targets), fo.position + min(limit or sql.RANDOM_ID_ROOM, sql.RANDOM_ID_ROOM))
    chunk = fo.targets[fo.position:end]
    if not chunk:
        if fo.fanout_id is not None:
            sql.fanout_progress(conn, fo.fanout_id, None)
        return end, 0, 0
    states = sql.alert_states(conn, cid, mid, chunk[0][0], chunk[-1][0])
    key = f"alert:{cid}:{mid}"
    plans: dict[tuple, tuple[str, str]] = {}
    payloads: dict[str, str] = {}
    rows: list[tuple] = []
    followups = 0
    base = sql.random_base()
    for sid, reason in chunk:
        member = index.members.get(sid)
        if member is None:
            continue  # stopped (or gone) since planning: as if the post had come after
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
        sql.fanout_progress(conn, fo.fanout_id, None if end == len(fo.targets) else fo.targets[end - 1][0])
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
