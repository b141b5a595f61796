"""The capture writer: group commit for handle_post, and the fan-out expander behind it.

A burst of posts used to queue one transaction per post (a thread hop per statement, one write
lock), so the thousandth post of a burst waited for the 999 before it. Here every post waiting at
a given moment is captured in ONE transaction, run as ONE job on the database thread with plain
sqlite3 calls (handlers/capture_post.py); each post sits in its own savepoint, so one that fails
(bad data, a bug) is undone alone and its caller gets the error while the others commit.

Matching subscribers (watch terms cost ~0.25 ms a post) and writing ~2,000 outbox rows per
announcement would still hold every later post back, so alerts go in stages, a two-level outbox:
the post's transaction commits a durable intent row (alert_fanouts) when the post may concern
anyone; right after each capture transaction the writer plans intents for up to PLAN_BUDGET_S
per transaction: matching, then either a small fan-out's outbox rows or a big one's recipient
rows (alert_recipients, one slim row per subscriber, ~6 ms for 2,000), so every per-subscriber
queue row of a post is durable within one capture and one planning transaction of its arrival.
Expansion of recipient rows into the wide outbox rows (~3 s for a burst's 90,000) takes the gaps
between posts, and a `chunk_rows` chunk at least every EXPAND_EVERY_S, each committing its
progress with its rows. A crash between or inside stages loses nothing (intents and recipient
rows are resumed at the next start, `resume_fanouts`) and repeats nothing (progress is committed
with the rows it covers; the outbox's unique key holds anyway). Per post, intents run in order
(an edit's follow-ups depend on the alerts of the version before). With use_term_worker (the
service), the watch terms of each arriving post are matched in a worker process while this
writer works (handlers/term_pool.py): a post that concerns nobody then needs no intent at all.

`submit()` gives three futures: `captured` (post, detection and intent durable), `queued` (every
recipient's queue row durable: the load target of issue 7) and `done` (every outbox row
written); handle_post awaits `done`, so its contract is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from bot.models import Post
from handlers.capture_post import Batch, Captured, Request, capture, resume
from handlers.capture_steps import PLAN_BUDGET_S, SMALL_ROWS, Capture, FanoutSteps, _settle
from handlers.fanout import Fanout, cached_index
from handlers.term_pool import TermPool
from storage import capture as sql
from storage.db import Database

log = logging.getLogger(__name__)

CHUNK_ROWS = 100  # outbox rows per follow-up transaction: a few ms, the longest a new post waits
RETRY_S = 5.0  # after a failed fan-out chunk (its rows were rolled back; the intent stays)
EXPAND_EVERY_S = 0.1  # at least one expansion chunk this often while posts keep the writer busy
_KEY = "capture.writer"
__all__ = ["CHUNK_ROWS", "EXPAND_EVERY_S", "PLAN_BUDGET_S", "RETRY_S", "SMALL_ROWS", "Capture", "CaptureWriter", "resume_fanouts",
           "use_term_worker", "writer_for"]


class CaptureWriter(FanoutSteps):
    """One per Database (writer_for); its task runs only while there is work."""

    def __init__(self, db: Database, *, chunk_rows: int = CHUNK_ROWS, retry_s: float = RETRY_S):
        self.db = db
        self.chunk_rows = chunk_rows
        self.retry_s = retry_s
        self.batch_sizes: list[int] = []  # posts per capture transaction, for tests and benchmarks
        self._queue: list[Capture] = []
        self._fanouts: list[tuple[Fanout, Capture | None]] = []  # in intent order
        self._task: asyncio.Task | None = None
        self._resumed = False
        self._closing = False
        self._held_until = 0.0
        self._expanded_at = 0.0
        self._failing = False
        self._retry: asyncio.TimerHandle | None = None
        self._wake: Callable[[], None] = lambda: None
        self.term_pool: TermPool | None = None  # use_term_worker()

    def submit(self, post: Post, deps, *, alert: bool = True, source: str = "live",
               follow: tuple[int, int] | None = None) -> Capture:
        """Queue a (storable) post for the next capture transaction."""
        loop = asyncio.get_running_loop()
        hits = None
        index = cached_index(self.db.cache) if self.term_pool is not None and alert and post.text else None
        if index is not None and index.terms and index.generation is not None:
            hits = self.term_pool.match(index.generation, index.terms, post.text)
        cap = Capture(Request(post, deps.detector, deps.clock(), alert, source, follow, hits), deps.wake,
                      loop.create_future(), loop.create_future(), loop.create_future())
        self._wake = deps.wake
        self._queue.append(cap)
        self._kick()
        return cap

    async def drain(self, wake: Callable[[], None] | None = None) -> None:
        """Run until nothing is queued and no fan-out is left (or one failed and waits for its retry)."""
        if wake is not None:
            self._wake = wake
        self._kick()
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    @property
    def pending_fanouts(self) -> int:
        return len(self._fanouts)

    async def aclose(self) -> None:
        """Finish the posts queued; leave unfinished fan-outs to their intent rows (resumed at next start)."""
        self._closing = True
        await self.drain()
        if self.term_pool is not None:
            self.term_pool.close()
        if self._retry is not None:
            self._retry.cancel()
        for fo, cap in self._fanouts:
            if cap is not None:
                _settle(cap.queued, self._result(cap, fo))
                _settle(cap.done, self._result(cap, fo))
        self._fanouts.clear()

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _held(self) -> bool:
        return asyncio.get_running_loop().time() < self._held_until

    def _expansion_due(self) -> bool:
        return asyncio.get_running_loop().time() >= self._expanded_at + EXPAND_EVERY_S

    async def _run(self) -> None:
        try:
            while True:
                if not self._resumed and not self._held() and not self._closing:
                    await self._resume()
                if self._queue:
                    batch, self._queue = self._queue, []
                    await self._capture(batch)
                elif not self._fanouts or self._closing or self._held():
                    return
                if self._closing or self._held():
                    continue
                # Each capture is followed by its planning, so a post's recipient rows wait for no
                # other post's capture and no fan-out's expansion; expansion takes the gaps between
                # posts, and a chunk every EXPAND_EVERY_S even when there are none (delivery only
                # needs rows ahead of its rate).
                planned = await self._plan_next()
                if self._held() or ((planned or self._queue) and not self._expansion_due()):
                    continue
                await self._expand_next()
        except asyncio.CancelledError:
            # A job may have committed without its outcome reaching us: forget what is in memory
            # (the intents are in the database) and resume from there on the next run.
            for cap in self._queue + [c for _, c in self._fanouts if c is not None]:
                for fut in cap.futures:
                    fut.cancel()
            self._queue.clear()
            self._fanouts.clear()
            self._resumed = False
            raise
        except Exception as e:  # a bug here must not leave callers waiting forever
            log.exception("capture writer stopped")
            for cap in self._queue + [c for _, c in self._fanouts if c is not None]:
                for fut in cap.futures:
                    _settle(fut, error=e)
            self._queue.clear()
            self._fanouts.clear()
            self._resumed = False

    def _hold(self, error: BaseException, what: str) -> None:
        """A planning, expanding or resuming transaction failed (rolled back; the intents stay): retry
        in retry_s, and let the waiting callers go meanwhile (their posts are safe)."""
        for i, (fo, cap) in enumerate(self._fanouts):
            if cap is not None:
                _settle(cap.queued, self._result(cap, fo))
                _settle(cap.done, self._result(cap, fo))
                self._fanouts[i] = (fo, None)
        if not self._failing:
            log.error("%s failed (%s); the intent stays and is retried every %.0f s", what, error, self.retry_s)
        self._failing = True
        loop = asyncio.get_running_loop()
        self._held_until = loop.time() + self.retry_s
        if self._retry is not None:
            self._retry.cancel()
        self._retry = loop.call_later(self.retry_s, self._kick)

    async def _resume(self) -> None:
        cache = self.db.cache
        try:
            found = await self.db.write_job(lambda conn: resume(conn, cache))
        except Exception as e:
            self._hold(e, "resuming unfinished fan-outs")
            return
        self._resumed = True
        known = {fo.fanout_id for fo, _ in self._fanouts}  # captured here while resuming was held
        found = [fo for fo in found if fo.fanout_id not in known]
        if found:
            log.info("resuming %d unfinished alert fan-outs", len(found))
        self._fanouts[:0] = [(fo, None) for fo in found]

    async def _capture(self, batch: list[Capture]) -> None:
        live = [c for c in batch if not c.abandoned()]
        if not live:
            return
        cache = self.db.cache

        def job(conn: Any) -> list[Captured | Exception]:
            batch = Batch(cache)
            batch.index(conn)  # compiled here, once per subscription change, not inside a post's savepoint
            out: list[Captured | Exception] = []
            for cap in live:
                try:
                    with sql.Savepoint(conn):
                        out.append(capture(conn, cap.request, batch))
                except Exception as e:  # noqa: BLE001 - this post's error goes to its caller alone
                    if sql.Savepoint.batch_lost(conn):
                        raise
                    out.append(e)
            batch.flush(conn)
            return out

        try:
            outcomes = await self.db.write_job(job)
        except asyncio.CancelledError:
            for cap in live:
                for fut in cap.futures:
                    fut.cancel()
            raise
        except Exception as e:  # the batch as a whole: busy, disk full, a failed commit
            for cap in live:
                for fut in cap.futures:
                    _settle(fut, error=e)
            return
        self.batch_sizes.append(len(live))
        woken: set[int] = set()
        for cap, got in zip(live, outcomes):
            if isinstance(got, Exception):
                error = sql.translate(got, self.db.path)
                for fut in cap.futures:
                    _settle(fut, error=error)
                continue
            cap.first = got.result
            if got.fanout is not None:
                _settle(cap.captured, got.result)
                self._fanouts.append((got.fanout, cap))
            else:
                for fut in cap.futures:
                    _settle(fut, got.result)
            if (got.result.alerts_queued or got.result.followups_queued) and id(cap.wake) not in woken:
                woken.add(id(cap.wake))
                cap.wake()



def writer_for(db: Database) -> CaptureWriter:
    """The connection's capture writer (created on first use; closing the Database closes it first)."""
    writer = db.cache.get(_KEY)
    if writer is None:
        writer = db.cache[_KEY] = CaptureWriter(db)
        db.before_close(writer.aclose)
    return writer


def use_term_worker(db: Database) -> None:
    """Match watch terms in a worker process as posts arrive (handlers/term_pool.py); the service
    does, tests need not (the answers are the same, only sooner)."""
    writer = writer_for(db)
    if writer.term_pool is None:
        writer.term_pool = TermPool()


async def resume_fanouts(deps) -> int:
    """At start-up: expand the fan-outs an earlier run committed but did not finish; returns how many
    are still unfinished (0 unless the database failed meanwhile)."""
    writer = writer_for(deps.db)
    await writer.drain(deps.wake)
    return writer.pending_fanouts
