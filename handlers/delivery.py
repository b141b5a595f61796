"""Delivering the outbox: after commit, outside any post transaction.

`deliver_due` takes due rows, renders them, hands them to the Sender for the
subscriber's kind, and records the outcome in its own small transaction:
sent, retry later (capped exponential backoff, or the wait the destination asked
for), or rejected for good (the subscriber is deactivated and stops being retried).
A flood wait pauses the whole queue. A crash between send and mark-sent resends
with the same random_id / idempotency key, which the destination deduplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping, Protocol

from bot.alerts import render_alert
from bot.errors import DeliveryRejected, RetryLater
from bot.i18n import raw
from bot.models import Detection, OutboxItem, Post
from bot.timeutil import iso
from handlers.deps import Deps
from handlers.digest import render_digest
from handlers.followups import change_line
from storage import bot_queries, channels, detections, events, outbox, posts, subscribers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    outbox_id: int
    kind: str  # alert | followup | deleted | notice
    subscriber_kind: str  # telegram | webhook | console
    address: str
    random_id: int
    html_parts: tuple[str, ...]
    text: str
    payload: dict = field(default_factory=dict)
    # For follow-ups: the Telegram message ids of the alert to edit.
    edit_message_ids: tuple[int, ...] = ()


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> list[int]:
        """Deliver one message; return the ids the destination gave it (may be empty).

        Raises RetryLater (transient, flood=True pauses the queue) or DeliveryRejected (permanent).
        """


@dataclass
class DeliveryRound:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    paused_until: datetime | None = None


def backoff_s(attempts: int, deps: Deps) -> float:
    return min(deps.delivery.backoff_max_s, deps.delivery.backoff_base_s * (2 ** max(0, attempts)))


def alert_payload(post: Post, detection: Detection, item: OutboxItem, reason: str) -> dict:
    """The documented JSON body of a webhook alert (see README, 'Webhooks')."""
    return {
        "event": {"alert": "alert.created", "followup": "alert.edited", "deleted": "alert.source_deleted"}.get(
            item.kind, item.kind
        ),
        "idempotency_key": str(item.random_id),
        "reason": reason,
        "channel": {"id": post.channel_id, "username": post.channel_username},
        "post": {
            "message_id": post.message_id,
            "permalink": post.permalink,
            "posted_at": post.posted_at.isoformat(),
            "edited_at": post.edited_at.isoformat() if post.edited_at else None,
            "text": post.text,
        },
        "detection": {
            "label": detection.label,
            "confidence": detection.confidence,
            "count": detection.count,
            "names": list(detection.names),
            "countries": list(detection.countries),
            "evidence": [
                {"rule_id": e.rule_id, "start": e.start, "end": e.end, "text": e.text, "role": e.role}
                for e in detection.evidence
            ],
            "detector_version": detection.detector_version,
        },
    }


async def build_message(item: OutboxItem, deps: Deps, sub_kind: str, address: str, *,
                        language: str = "en") -> OutgoingMessage | None:
    """Render an outbox row from what is stored now (so a pending alert shows the latest text)."""
    db = deps.db
    if item.kind == "digest":
        ids = json.loads(item.payload or "{}").get("outbox_ids", [])
        parts, text, payload = await render_digest(ids, deps, language)
        payload["idempotency_key"] = str(item.random_id)
        return OutgoingMessage(item.outbox_id, "digest", sub_kind, address, item.random_id, parts, text, payload)
    if item.kind == "notice":
        text = json.loads(item.payload or "{}").get("text", "")
        import html as _html

        return OutgoingMessage(item.outbox_id, "notice", sub_kind, address, item.random_id,
                               (_html.escape(text, quote=False),), text, {"event": "notice", "text": text,
                                                                          "idempotency_key": str(item.random_id)})
    stored = await posts.get(db, item.channel_id, item.message_id)
    if stored is None:
        return None
    found = await detections.latest(db, item.channel_id, item.message_id)
    detection = found[1] if found else Detection("none", 0.0)
    ch = await channels.get(db, item.channel_id)
    meta = json.loads(item.payload or "{}")
    reason = meta.get("reason", "label")
    header = None
    edit_ids: tuple[int, ...] = ()
    if item.kind in ("followup", "deleted"):
        alert_row = await db.fetchone(
            "SELECT outbox_id, status, sent_message_ids, payload FROM outbox WHERE subscriber_id = ? AND dedupe_key = ?",
            (item.subscriber_id, f"alert:{item.channel_id}:{item.message_id}"),
        )
        if alert_row is None:
            return None
        edit_ids = tuple(json.loads(alert_row["sent_message_ids"] or "[]"))
        reason = json.loads(alert_row["payload"] or "{}").get("reason", reason)  # render as the alert was
        when = (stored.post.edited_at or deps.clock()).strftime("%Y-%m-%d %H:%M UTC")
        if item.kind == "followup":
            what = change_line(meta.get("changes"), language)
            header = raw(language, "edited_header", when=when, what=f": {what}" if what else "")
        else:
            header = raw(language, "deleted_header")
    elif stored.deleted_at is not None:
        header = raw(language, "deleted_header")
    rendered = render_alert(stored.post, detection, channel_title=ch.title if ch else None, reason=reason, header=header)
    payload = alert_payload(stored.post, detection, item, reason)
    if item.kind == "followup":
        payload["changes"] = meta.get("changes") or {}
    return OutgoingMessage(
        outbox_id=item.outbox_id,
        kind=item.kind,
        subscriber_kind=sub_kind,
        address=address,
        random_id=item.random_id,
        html_parts=rendered.html_parts,
        text=rendered.text,
        payload=payload,
        edit_message_ids=edit_ids,
    )


async def deliver_due(deps: Deps, senders: Mapping[str, Sender], *, limit: int | None = None,
                      should_stop: Callable[[], bool] | None = None) -> DeliveryRound:
    """Send what is due now. Safe to call concurrently with handle_post; call it again to continue.

    `should_stop` is asked before each send: a shutdown waits for the sends in flight, not a batch.

    Rows of one subscriber go out in order (an alert before its follow-up); different subscribers
    are sent concurrently, up to [delivery] concurrency in flight, so throughput is bounded by the
    pacer's rate and not by one network round trip per message. A flood wait stops every lane from
    starting another send; rows not attempted stay due and nothing is dropped.
    """
    rnd = DeliveryRound()
    lanes: dict[int, list[OutboxItem]] = {}
    for item in await outbox.due(deps.db, deps.clock(), limit or deps.delivery.batch_size):
        lanes.setdefault(item.subscriber_id, []).append(item)
    gate = asyncio.Semaphore(max(1, deps.delivery.concurrency))
    tasks: list[asyncio.Task] = []

    def stop_other_lanes() -> None:
        # Synchronous, before any await: no other lane gets past its current await to send more.
        me = asyncio.current_task()
        for t in tasks:
            if t is not me:
                t.cancel()

    async def lane(items: list[OutboxItem]) -> None:
        try:
            for item in items:
                async with gate:
                    if rnd.paused_until is not None or (should_stop is not None and should_stop()):
                        return
                    if not await _deliver_one(item, deps, senders, rnd, stop_other_lanes):
                        return  # keep this subscriber's order: later rows wait for this one
        except asyncio.CancelledError:
            raise
        except BaseException:
            stop_other_lanes()
            raise

    tasks.extend(asyncio.create_task(lane(items)) for items in lanes.values())
    # A lane cancelled mid-send leaves its row pending; the resend reuses its random_id (deduplicated).
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    return rnd


async def _deliver_one(item: OutboxItem, deps: Deps, senders: Mapping[str, Sender], rnd: DeliveryRound,
                       on_flood: Callable[[], None] = lambda: None) -> bool:
    """Attempt one row; False when it stays queued (retry, pause), so its lane keeps its order."""
    db = deps.db
    sub = await subscribers.get(db, item.subscriber_id)
    now = deps.clock()
    if sub is not None and sub.status == "paused" and item.kind in ("alert", "digest", "followup", "deleted"):
        async with db.transaction():  # paused after this row was queued: keep it for /resume
            await bot_queries.hold_queue(db, sub.subscriber_id)
        rnd.skipped += 1
        return True
    # Operator notices reach an operator whatever their own subscription is doing.
    deliverable = ("active", "operator", "paused", "stopped", "pending") if item.kind == "notice" else ("active",)
    if sub is None or sub.status not in deliverable:
        async with db.transaction():
            await outbox.mark_failed(db, item.outbox_id, now, "subscriber is no longer active")
        rnd.failed += 1
        return True
    sender = senders.get(sub.kind)
    if sender is None:
        async with db.transaction():
            await outbox.mark_retry(db, item.outbox_id, now, 60.0, f"no sender configured for {sub.kind}")
        rnd.retried += 1
        return False
    message = await build_message(item, deps, sub.kind, sub.address, language=sub.language)
    if message is None:
        async with db.transaction():
            await outbox.mark_failed(db, item.outbox_id, now, "nothing to send (post or alert missing)", "skipped")
        rnd.skipped += 1
        return True
    if rnd.paused_until is not None:  # another lane hit a flood wait while this one was preparing
        return False
    try:
        ids = await sender.send(message)
    except RetryLater as e:
        now = deps.clock()
        if e.flood:  # pause everything at once, before this lane awaits anything
            rnd.paused_until = now + timedelta(seconds=e.after_s)
            on_flood()
        # A flood wait is the bot's pause, not this row's failure: it never dead-letters the row.
        if not e.flood and item.attempts + 1 >= deps.delivery.max_attempts:
            async with db.transaction():
                await outbox.mark_failed(db, item.outbox_id, now, f"dead after {item.attempts + 1} attempts: {e}", "dead")
            log.warning("outbox %d dead-lettered after %d attempts", item.outbox_id, item.attempts + 1)
            rnd.failed += 1
            return True
        wait = e.after_s if e.flood else max(e.after_s, backoff_s(item.attempts, deps))
        async with db.transaction():
            await outbox.mark_retry(db, item.outbox_id, now, wait, str(e))
            if e.flood:  # counted by /stats ("flood waits in the last 24 h")
                await events.transition(db, "flood_wait", sub.kind, iso(now), now, detail=f"{e.after_s:.0f} s")
        rnd.retried += 1
        if e.flood:
            log.warning("flood wait: delivery paused for %.0f s", e.after_s)
        return False
    except DeliveryRejected as e:
        now = deps.clock()
        async with db.transaction():
            await outbox.mark_failed(db, item.outbox_id, now, str(e))
            if e.deactivate:
                await subscribers.set_status(db, sub.subscriber_id, "blocked", now)
                await outbox.drop_pending_for(db, sub.subscriber_id, f"subscriber deactivated: {e}", now)
        # Outbox ids only at INFO: subscriber identity stays out of the logs (DEBUG has it).
        log.info("outbox %d rejected by its %s destination%s", item.outbox_id, sub.kind,
                 "; subscriber deactivated" if e.deactivate else "")
        log.debug("outbox %d: subscriber %d rejected: %s", item.outbox_id, sub.subscriber_id, e)
        rnd.failed += 1
        return True
    async with db.transaction():
        await outbox.mark_sent(db, item.outbox_id, deps.clock(), ids)
    rnd.sent += 1
    return True
