"""Digests: alerts for digest-mode subscribers wait as outbox rows with status 'digest' and a due
time; `run_digests` (called by the scheduler, or by tests with a fake clock) groups the due ones
into ONE outbox row of kind 'digest' per subscriber, which the delivery loop then sends."""

from __future__ import annotations

import html
import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.alerts import LABEL_ICONS, LABEL_TITLES, clean, split_html
from bot.i18n import t
from bot.models import Detection, Subscription
from handlers.deps import Deps
from storage import bot_queries, channels, detections, outbox, posts, subscribers

# In 'mixed' mode these labels are sent at once; everything else waits for the digest.
INSTANT_IN_MIXED = ("pardon", "release")
DIGEST_ITEMS_SHOWN = 30
SNIPPET_CHARS = 220


def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name; raises ValueError with a usable message otherwise."""
    if not name or len(name) > 64 or not all(c.isalnum() or c in "/_+-" for c in name):
        raise ValueError(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ValueError(name) from e


def next_digest_at(now: datetime, hour: int, tz: str) -> datetime:
    """The next `hour`:00 in zone `tz` strictly after `now`, in UTC (DST-aware)."""
    try:
        zi = zone(tz)
    except ValueError:
        zi = ZoneInfo("UTC")
    local = now.astimezone(zi)
    day: date = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, time(hour % 24), tzinfo=zi)
        if candidate > local:
            return candidate.astimezone(timezone.utc)
        day += timedelta(days=1)
    return (local + timedelta(days=1)).astimezone(timezone.utc)  # unreachable in practice


def plan_delivery(sub_status: str, f: Subscription, detection: Detection, now: datetime) -> tuple[str, datetime | None]:
    """(outbox status, due time) for a new alert: held while paused, pending (instant) or digest."""
    if sub_status == "paused":
        return "held", None
    if f.mode == "instant" or (f.mode == "mixed" and detection.label in INSTANT_IN_MIXED):
        return "pending", None
    return "digest", next_digest_at(now, f.digest_hour, f.timezone)


async def run_digests(deps: Deps, *, subscriber_id: int | None = None) -> int:
    """Queue one digest per subscriber whose waiting alerts are due. Idempotent; returns digests queued."""
    now = deps.clock()
    made = 0
    async with deps.db.transaction():
        for sid, ids in (await bot_queries.due_digest_rows(deps.db, now)).items():
            if subscriber_id is not None and sid != subscriber_id:
                continue
            sub = await subscribers.get(deps.db, sid)
            if sub is None or sub.status != "active":
                continue
            await outbox.enqueue(
                deps.db, subscriber_id=sid, destination=f"{sub.kind}:{sub.address}", kind="digest",
                dedupe_key=f"digest:{min(ids)}:{len(ids)}", payload=json.dumps({"outbox_ids": ids}), now=now,
            )
            await bot_queries.mark_digested(deps.db, ids, now)
            made += 1
    if made:
        deps.wake()
    return made


async def render_digest(outbox_ids: list[int], deps: Deps, lang: str) -> tuple[tuple[str, ...], str, dict]:
    """(html parts, plain text, JSON payload) of a digest of the given alert rows."""
    items_html: list[str] = []
    items_text: list[str] = []
    payload_items: list[dict] = []
    rows = await bot_queries.outbox_rows(deps.db, outbox_ids)
    for r in rows:
        stored = await posts.get(deps.db, r["channel_id"], r["message_id"])
        if stored is None:
            continue
        found = await detections.latest(deps.db, r["channel_id"], r["message_id"])
        det = found[1] if found else Detection("none", 0.0)
        reason = json.loads(r["payload"] or "{}").get("reason", "label")
        ch = await channels.get(deps.db, r["channel_id"])
        p = stored.post
        label = det.label if det.is_positive else "none"
        title = LABEL_TITLES.get(label, label.title())
        if reason.startswith("term:"):
            title += f" · “{reason[5:]}”"
        source = (ch.title if ch and ch.title else None) or (f"@{p.channel_username}" if p.channel_username
                                                             else f"channel {p.channel_id}")
        when = p.posted_at.strftime("%Y-%m-%d %H:%M UTC")
        snippet = " ".join(clean(p.text).split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[:SNIPPET_CHARS] + "…"
        payload_items.append({"channel_id": p.channel_id, "message_id": p.message_id, "permalink": p.permalink,
                              "label": det.label, "reason": reason, "posted_at": p.posted_at.isoformat()})
        if len(items_html) >= DIGEST_ITEMS_SHOWN:
            continue
        icon = LABEL_ICONS.get(label, "🔔")
        items_html.append(
            f"{icon} <b>{html.escape(title, quote=False)}</b> · {html.escape(source, quote=False)} · {when}\n"
            f"{html.escape(snippet, quote=False)}\n<a href=\"{html.escape(p.permalink)}\">{html.escape(p.permalink)}</a>"
        )
        items_text.append(f"{icon} {title} · {source} · {when}\n{snippet}\n{p.permalink}")
    n = len(payload_items)
    head = t(lang, "digest_head", n=n)
    tail = [t(lang, "digest_more", n=n - len(items_html))] if n > len(items_html) else []
    body_html = "\n\n".join([head, *items_html, *tail])
    body_text = "\n\n".join([html.unescape(head.replace("<b>", "").replace("</b>", "")), *items_text, *tail])
    return tuple(split_html(body_html)), body_text, {"event": "digest", "items": payload_items}
