"""Webhook destinations from config become subscribers of kind 'webhook' (address = the name), so
they go through the same matching and durable outbox as journalists. Called once at start."""

from __future__ import annotations

import logging

from bot.detection.terms import normalize_term
from bot.models import Subscription
from config.settings import WebhookSettings
from handlers.deps import Deps
from storage import channels, outbox, subscribers

log = logging.getLogger(__name__)

# A channel id no channel has: a webhook limited to channels we do not know yet receives nothing
# (rather than everything) until they are watched and the service restarts.
NO_CHANNEL = 0


async def sync_webhooks(deps: Deps, hooks: tuple[WebhookSettings, ...] | list[WebhookSettings]) -> dict[str, int]:
    """Upsert one subscriber per configured webhook with its filters; retire ones no longer configured.

    Idempotent; returns name -> subscriber_id.
    """
    now = deps.clock()
    out: dict[str, int] = {}
    async with deps.db.transaction():
        for h in hooks:
            sid = await subscribers.upsert(deps.db, "webhook", h.name, now)
            await subscribers.set_status(deps.db, sid, "active", now)
            ids: list[int] = []
            for ref in h.channels:
                ch = await channels.find(deps.db, ref)
                if ch is None:
                    log.warning("webhook %s: channel %s is not watched; ignored in its filter", h.name, ref)
                else:
                    ids.append(ch.channel_id)
            if h.channels and not ids:
                ids = [NO_CHANNEL]
            terms = tuple(t for t in (normalize_term(x) for x in h.terms) if t)
            await subscribers.save_subscription(deps.db, Subscription(
                subscriber_id=sid, labels=tuple(h.labels), channel_ids=tuple(ids), min_confidence=h.min_confidence,
                terms=terms, mode="instant",
            ))
            out[h.name] = sid
        rows = await deps.db.fetchall(
            "SELECT subscriber_id, address FROM subscribers WHERE kind = 'webhook' AND status = 'active'")
        for r in rows:
            if r["address"] not in out:
                await subscribers.set_status(deps.db, r["subscriber_id"], "removed", now)
                await outbox.drop_pending_for(deps.db, r["subscriber_id"], "webhook removed from config", now)
                log.info("webhook %s is no longer configured; retired", r["address"])
    return out
