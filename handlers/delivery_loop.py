"""The long-lived delivery task: drains the outbox when woken after a commit, when a retry
falls due, and after a flood-wait pause. Stops cleanly: `stop()` lets the current send finish."""

from __future__ import annotations

import asyncio
import logging
from typing import Mapping

from bot.errors import StorageError
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
        failing = 0
        while not self._stopping:
            self._wake.clear()
            try:
                rnd = await self.drain()
            except StorageError as e:
                # Locked by another process, disk full...: the rows stay pending; try again later
                # rather than let the task die and delivery stop silently while capture goes on.
                failing += 1
                if failing == 1:
                    log.warning("delivery paused: %s", e)
                await self._sleep(min(self.idle_s, 0.5 * 2 ** min(failing, 6)))
                continue
            if failing:
                log.warning("delivery resumed after %d failed round(s)", failing)
                failing = 0
            if self._stopping:
                break
            now = self.deps.clock()
            if rnd.paused_until:
                wait = (rnd.paused_until - now).total_seconds()
            else:
                nxt = await outbox.next_due_at(self.deps.db)
                wait = self.idle_s if nxt is None else (nxt - now).total_seconds()
            await self._sleep(min(max(wait, 0.05), self.idle_s))

    async def _sleep(self, wait_s: float) -> None:
        """Wait `wait_s` or until woken (a commit queued something, or stop())."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=wait_s)
        except asyncio.TimeoutError:
            pass
