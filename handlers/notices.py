"""Operator notices: a state change (session revoked, channel private, backlog...) is told once.

The change and the notices commit together with the event record, so a restart neither
loses a notice nor repeats it.
"""

from __future__ import annotations

import json
import logging

from handlers.deps import Deps
from storage import events, outbox, subscribers

log = logging.getLogger(__name__)


async def notify_operators_in_tx(deps: Deps, kind: str, subject: str, state: str, text: str) -> bool:
    """Record (kind, subject) -> state; if it changed, queue `text` for every operator. Needs a transaction."""
    now = deps.clock()
    if not await events.transition(deps.db, kind, subject, state, now, detail=text):
        return False
    log.warning("operator notice: %s %s -> %s", kind, subject, state)
    for op in deps.operators:
        sid = await subscribers.upsert(deps.db, "telegram", str(op), now, status="operator")
        event_id = await deps.db.fetchval("SELECT max(event_id) FROM events")
        await outbox.enqueue(
            deps.db, subscriber_id=sid, destination=f"telegram:{op}", kind="notice",
            dedupe_key=f"notice:{event_id}", payload=json.dumps({"text": text}, ensure_ascii=False), now=now,
        )
    return True


async def notify_operators(deps: Deps, kind: str, subject: str, state: str, text: str) -> bool:
    async with deps.db.transaction():
        changed = await notify_operators_in_tx(deps, kind, subject, state, text)
    if changed:
        deps.wake()
    return changed
