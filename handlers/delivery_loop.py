"""The long-lived delivery task: drains the outbox when woken after a commit, when a retry
falls due, and after a flood-wait pause. Stops cleanly: `stop(grace_s)` keeps delivering what is
due for up to grace_s, then lets the current send finish and returns; nothing is cut mid-send."""

from __future__ import annotations

import asyncio
import logging
import math
import time
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
        self._stop_at: float | None = None  # time.monotonic() after which no new send starts
        self.totals = DeliveryRound()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, grace_s: float = 0.0) -> None:
        """Ask run() to return: once nothing is due, or after grace_s (then after the current send).
        `stop(math.inf)` means: deliver everything due now, then return."""
        stop_at = math.inf if grace_s == math.inf else time.monotonic() + grace_s
        self._stop_at = stop_at if self._stop_at is None else min(self._stop_at, stop_at)
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop_at is not None

    def _past_deadline(self) -> bool:
        return self._stop_at is not None and time.monotonic() >= self._stop_at

    async def drain(self, should_stop=None) -> DeliveryRound:
        """Deliver everything due now (used by the demo); returns on a flood pause or when idle."""
        while True:
            rnd = await deliver_due(self.deps, self.senders, should_stop=should_stop)
            self._add(rnd)
            idle = (rnd.sent + rnd.retried + rnd.failed + rnd.skipped) == 0
            if rnd.paused_until or idle or (should_stop is not None and should_stop()):
                return rnd

    def _add(self, rnd: DeliveryRound) -> None:
        self.totals.sent += rnd.sent
        self.totals.retried += rnd.retried
        self.totals.failed += rnd.failed
        self.totals.skipped += rnd.skipped

    async def run(self) -> None:
        failing = 0
        while not self._past_deadline():
            self._wake.clear()
            try:
                rnd = await self.drain(self._past_deadline)
            except StorageError as e:
                # Locked by another process, disk full...: the rows stay pending; try again later
                # rather than let the task die and delivery stop silently while capture goes on.
                failing += 1
                if self.stopping:
                    log.warning("delivery stopped with alerts still queued: %s", e)
                    break
                if failing == 1:
                    log.warning("delivery paused: %s", e)
                await self._sleep(min(self.idle_s, 0.5 * 2 ** min(failing, 6)))
                continue
            if failing:
                log.warning("delivery resumed after %d failed round(s)", failing)
                failing = 0
            if self.stopping:
                break  # drain() returned: nothing due, a flood pause, or the deadline passed
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
