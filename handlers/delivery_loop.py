"""The long-lived delivery task: drains the outbox when woken after a commit, when a retry
falls due, and after a flood-wait pause. Stops cleanly: `stop()` lets the current send finish."""

from __future__ import annotations

import asyncio
import logging
from typing import Mapping

from handlers.delivery import DeliveryRound, Sender, deliver_due
from handlers.deps import Deps
from storage import outbox

log = logging.getLogger(__name__)


class DeliveryLoop:
    def __init__(self, deps: Deps, senders: Mapping[str, Sender], *, idle_s: float = 30.0):
        self.deps = deps
        self.senders = senders
        self.idle_s = idle_s
        self._wake = asyncio.Event()
        self._stopping = False
        self.totals = DeliveryRound()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def drain(self) -> DeliveryRound:
        """Deliver everything due now (used by the demo and on shutdown)."""
        while True:
            rnd = await deliver_due(self.deps, self.senders)
            self._add(rnd)
            if rnd.paused_until or (rnd.sent + rnd.retried + rnd.failed + rnd.skipped) == 0:
                return rnd

    def _add(self, rnd: DeliveryRound) -> None:
        self.totals.sent += rnd.sent
        self.totals.retried += rnd.retried
        self.totals.failed += rnd.failed
        self.totals.skipped += rnd.skipped

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            rnd = await self.drain()
            if self._stopping:
                break
            now = self.deps.clock()
            if rnd.paused_until:
                wait = (rnd.paused_until - now).total_seconds()
            else:
                nxt = await outbox.next_due_at(self.deps.db)
                wait = self.idle_s if nxt is None else (nxt - now).total_seconds()
            wait = min(max(wait, 0.05), self.idle_s)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass
