"""The capture writer's fan-out steps (handlers/capture.py): planning intents (matching, then either
the outbox rows of a small fan-out or the recipient rows of a big one, all in the transaction that
matched) for up to PLAN_BUDGET_S per transaction, and expanding big ones `chunk_rows` outbox rows
per transaction, between capture transactions; and the Capture record whose futures they settle.
A mixin of CaptureWriter, split off by noun: it uses the writer's db, _fanouts, _failing, _wake,
chunk_rows, _expanded_at and _hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from handlers.capture_post import Request
from handlers.fanout import SMALL_ROWS, Fanout, expand, plan_and_queue, subscriber_index
from handlers.post_rules import PostResult
from storage import capture as sql

log = logging.getLogger("handlers.capture")  # one logger for the writer, whichever module logs

PLAN_BUDGET_S = 0.005  # per planning transaction, past which no further intent is started


@dataclass
class Capture:
    request: Request
    wake: Callable[[], None]
    captured: asyncio.Future  # -> PostResult: the post, its detection and its fan-out intent committed
    queued: asyncio.Future  # -> PostResult so far: every recipient's queue row committed (or none due)
    done: asyncio.Future  # -> PostResult with every alert and follow-up in the outbox
    submitted_at: float = 0.0  # loop time, for the wait on the analysis worker
    first: PostResult | None = None  # the captured result, kept for `queued` and `done`

    @property
    def futures(self) -> tuple[asyncio.Future, asyncio.Future, asyncio.Future]:
        return self.captured, self.queued, self.done

    def abandoned(self) -> bool:
        return any(f.cancelled() for f in self.futures)


def _settle(fut: asyncio.Future, result: Any = None, error: BaseException | None = None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
        fut.exception()  # a caller awaits one of the two futures; the other must not log "never retrieved"
    else:
        fut.set_result(result)


class FanoutSteps:
    """Planning and expanding the writer's intents, oldest first (see the module docstring)."""

    def _plannable(self) -> list[Fanout]:
        """Unplanned intents whose post has no earlier unfinished intent, oldest first."""
        blocked: set[tuple[int, int]] = set()
        out = []
        for fo, _ in self._fanouts:
            key = (fo.post.channel_id, fo.post.message_id)
            if fo.targets is None and key not in blocked:
                out.append(fo)
            blocked.add(key)
        return out

    async def _plan_next(self) -> bool:
        """Plan intents for up to PLAN_BUDGET_S: a small one's outbox rows, a big one's recipient rows
        (all of them: a fan-out is never planned in part), committed with the planning. True if it
        planned any."""
        todo = self._plannable()
        if not todo:
            return False
        cache = self.db.cache

        def job(conn: Any) -> list[tuple[Fanout, int, int, int]]:
            index = subscriber_index(conn, cache)
            out = []
            deadline = time.monotonic() + PLAN_BUDGET_S
            for fo in todo:
                out.append((fo, *plan_and_queue(conn, index, fo)))
                if time.monotonic() > deadline:
                    break
            return out

        try:
            done = await self.db.write_job(job)
        except Exception as e:
            for fo in todo:
                fo.targets = None  # rolled back: plan again
            self._failed(e, todo[0])
            return False
        for fo in todo[len(done):]:
            fo.targets = None
        for fo, position, alerts, followups in done:
            self._progress(fo, position, alerts, followups, planned=True)
        return True

    async def _expand_next(self) -> None:
        fo = next((fo for fo, _ in self._fanouts if fo.targets is not None), None)
        if fo is None:
            return
        cache, rows = self.db.cache, self.chunk_rows
        try:
            position, alerts, followups = await self.db.write_job(
                lambda conn: expand(conn, fo, rows, subscriber_index(conn, cache)))
        except Exception as e:
            self._failed(e, fo)
            return
        finally:
            self._expanded_at = asyncio.get_running_loop().time()
        self._progress(fo, position, alerts, followups)

    def _failed(self, error: Exception, fo: Fanout) -> None:
        self._hold(sql.translate(error, self.db.path),
                   f"queuing the alerts of post {fo.post.channel_id}/{fo.post.message_id}")

    def _progress(self, fo: Fanout, position: int, alerts: int, followups: int, planned: bool = False) -> None:
        """Apply a committed plan/expansion step; wake delivery; settle a planned or finished fan-out."""
        if self._failing:
            log.warning("alert fan-out resumed")
            self._failing = False
        fo.position, fo.alerts, fo.followups = position, fo.alerts + alerts, fo.followups + followups
        i = next(i for i, (f, _) in enumerate(self._fanouts) if f is fo)
        cap = self._fanouts[i][1]
        if alerts or followups:
            (cap.wake if cap is not None else self._wake)()
        if planned and cap is not None:
            _settle(cap.queued, self._result(cap, fo))
        if fo.finished:
            del self._fanouts[i]
            if cap is not None:
                self._release(cap, fo)

    @classmethod
    def _release(cls, cap: Capture, fo: Fanout) -> None:
        """Let the caller go with what is queued so far (the rest, if any, stays with the intent)."""
        result = cls._result(cap, fo)
        _settle(cap.queued, result)
        _settle(cap.done, result)

    @staticmethod
    def _result(cap: Capture, fo: Fanout) -> PostResult:
        first = cap.first
        assert first is not None
        return replace(first, alerts_queued=first.alerts_queued + fo.alerts,
                       followups_queued=first.followups_queued + fo.followups)
