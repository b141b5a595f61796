"""The capture writer: group commit for handle_post, and the fan-out expander behind it.

A burst of posts used to queue one transaction per post (a thread hop per statement, one write
lock), so the thousandth post of a burst waited for the 999 before it. Here every post waiting at
a given moment is captured in ONE transaction, run as ONE job on the database thread with plain
sqlite3 calls (handlers/capture_post.py); each post sits in its own savepoint, so one that fails
(bad data, a bug) is undone alone and its caller gets the error while the others commit.

Writing ~2,000 wide outbox rows per announcement would hold every later post back, so the outbox
has two levels. A new post's transaction commits, beside the post and its detection, a durable
intent row (alert_fanouts) when the post may concern anyone, and in a savepoint of its own the
intent's recipients: matching, then either a small fan-out's outbox rows or a big one's recipient
rows (alert_recipients, one slim row per subscriber, ~1-2 ms for 2,000), so every per-subscriber
queue row of a post is durable when the post is. Intents that cannot be planned there (an edit,
whose follow-ups depend on the alerts of the version before; a failed planning) are planned right
after the capture transaction, for up to PLAN_BUDGET_S per transaction, in order per post.
Expansion of recipient rows into the wide outbox rows (~3 s for a burst's 90,000) waits for QUIET_S
without posts, or takes one `chunk_rows` chunk per EXPAND_EVERY_S while posts flow, each committing
its progress with its rows. A crash between or inside stages loses nothing (intents and recipient
rows are resumed at the next start, `resume_fanouts`) and repeats nothing (progress is committed
with the rows it covers; the outbox's unique key holds anyway).

With use_analysis_worker (the service), each arriving post's text is analysed in a worker process
(handlers/analysis_pool.py: its detection and watch-term hits) while this writer works on the
posts before it; posts are captured in arrival order once their answers are in, after at most
ANSWER_WAIT_S, analysed in-process if the answer is missing or stale.

`submit()` gives three futures: `captured` (post, detection and intent durable), `queued` (every
recipient's queue row durable: the load target of issue 7) and `done` (every outbox row
written); handle_post awaits `done`, so its contract is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Callable

from bot.models import Post
from handlers.capture_post import Batch, Captured, Request, capture, capture_many, resume
from handlers.capture_steps import PLAN_BUDGET_S, SMALL_ROWS, Capture, FanoutSteps, _settle
from handlers.fanout import Fanout, cached_index
from handlers.analysis_pool import AnalysisPool
from storage import capture as sql
from storage.db import Database

log = logging.getLogger(__name__)

CHUNK_ROWS = 100  # outbox rows per follow-up transaction: a few ms, the longest a new post waits
RETRY_S = 5.0  # after a failed fan-out chunk (its rows were rolled back; the intent stays)
EXPAND_EVERY_S = 0.1  # at least one expansion chunk this often while posts keep the writer busy
QUIET_S = 0.05  # no post captured for this long: expand outbox rows without pause
ANSWER_WAIT_S = 0.1  # a post waits this long at most for the analysis worker, then is analysed here
RESTART_WORKER_S = 60.0  # after losing the analysis worker, start a new one this much later
_KEY = "capture.writer"
__all__ = ["ANSWER_WAIT_S", "CHUNK_ROWS", "EXPAND_EVERY_S", "PLAN_BUDGET_S", "QUIET_S", "RESTART_WORKER_S", "RETRY_S",
           "SMALL_ROWS",
           "Capture", "CaptureWriter", "resume_fanouts", "use_analysis_worker", "writer_for"]


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
        self._captured_at = 0.0  # loop time the last capture transaction started
        self._draining = 0  # drain() calls running: expand without pausing
        self._napping: asyncio.Future | None = None
        self._failing = False
        self._retry: asyncio.TimerHandle | None = None
        self._wake: Callable[[], None] = lambda: None
        self.analysis_pool: AnalysisPool | None = None  # use_analysis_worker()

    def submit(self, post: Post, deps, *, alert: bool = True, source: str = "live",
               follow: tuple[int, int] | None = None) -> Capture:
        """Queue a (storable) post for the next capture transaction."""
        loop = asyncio.get_running_loop()
        analysis = None
        self._restart_if_lost(loop)
        if self.analysis_pool is not None and post.text:
            index = cached_index(self.db.cache) if alert else None
            terms = index.terms if index is not None and index.generation is not None else frozenset()
            analysis = self.analysis_pool.analyse(index.generation if terms else None, terms, post.text)
        cap = Capture(Request(post, deps.detector, deps.clock(), alert, source, follow, analysis), deps.wake,
                      loop.create_future(), loop.create_future(), loop.create_future(), loop.time())
        self._wake = deps.wake
        self._queue.append(cap)
        self._wake_up()
        self._kick()
        return cap

    async def drain(self, wake: Callable[[], None] | None = None) -> None:
        """Run until nothing is queued and no fan-out is left (or one failed and waits for its retry)."""
        if wake is not None:
            self._wake = wake
        self._draining += 1
        try:
            self._wake_up()
            self._kick()
            while self._task is not None and not self._task.done():
                await asyncio.shield(self._task)
        finally:
            self._draining -= 1

    @property
    def pending_fanouts(self) -> int:
        return len(self._fanouts)

    async def aclose(self) -> None:
        """Finish the posts queued; leave unfinished fan-outs to their intent rows (resumed at next start)."""
        self._closing = True
        await self.drain()
        if self.analysis_pool is not None:
            self.analysis_pool.close()
        if self._retry is not None:
            self._retry.cancel()
        for fo, cap in self._fanouts:
            if cap is not None:
                self._release(cap, fo)
        self._fanouts.clear()

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _held(self) -> bool:
        return asyncio.get_running_loop().time() < self._held_until

    def _expansion_due(self) -> bool:
        return asyncio.get_running_loop().time() >= self._expanded_at + EXPAND_EVERY_S

    def _quiet(self) -> bool:
        """No post captured for QUIET_S (or a drain or close wants everything done now)."""
        return self._draining or asyncio.get_running_loop().time() >= self._captured_at + QUIET_S

    async def _nap(self, until: float) -> None:
        """Sleep until the loop time `until`, or until a post is submitted or a drain starts."""
        loop = asyncio.get_running_loop()
        self._napping = fut = loop.create_future()
        timer = loop.call_at(until, _settle, fut)
        try:
            await fut
        finally:
            timer.cancel()
            self._napping = None

    def _restart_if_lost(self, loop: asyncio.AbstractEventLoop) -> None:
        """A worker that died (killed, out of memory) is replaced RESTART_WORKER_S later, at the next post."""
        pool = self.analysis_pool
        if (pool is None or pool.broken_at is None or self._closing
                or loop.time() < pool.broken_at + RESTART_WORKER_S):
            return
        log.warning("restarting the analysis worker")
        self.analysis_pool = AnalysisPool(pool.detector)
        self.analysis_pool.on_answer = self._answered

    def _answered(self) -> None:
        self._wake_up()
        if self._queue:
            self._kick()

    def _wake_up(self) -> None:
        if self._napping is not None:
            _settle(self._napping)

    def _ready(self) -> int:
        """How many queued posts (from the front: posts are captured in arrival order) have their
        analysis answered, or no analysis to wait for, or have waited ANSWER_WAIT_S for it."""
        pool = self.analysis_pool
        if pool is None or pool.broken or self._closing:
            return len(self._queue)
        too_old = asyncio.get_running_loop().time() - ANSWER_WAIT_S
        for i, cap in enumerate(self._queue):
            a = cap.request.analysis
            if a is not None and not a.answered and cap.submitted_at > too_old:
                return i
        return len(self._queue)

    async def _run(self) -> None:
        try:
            while True:
                if not self._resumed and not self._held() and not self._closing:
                    await self._resume()
                ready = self._ready()
                if ready:
                    batch, self._queue = self._queue[:ready], self._queue[ready:]
                    self._captured_at = asyncio.get_running_loop().time()
                    await self._capture(batch)
                elif not self._queue and (not self._fanouts or self._closing or self._held()):
                    return
                if self._closing or self._held():
                    if self._queue and not self._ready():
                        await self._nap(self._queue[0].submitted_at + ANSWER_WAIT_S)
                    continue
                # A post's recipients are queued with its capture (capture_post._plan_now); intents
                # planned later (edits, deferred ones) right after a capture, so they wait for no
                # other post's capture and no fan-out's expansion. Materialising outbox rows takes
                # the quiet moments, and a chunk every EXPAND_EVERY_S even while posts flow
                # (delivery only needs rows ahead of its rate).
                planned = await self._plan_next()
                if self._held() or planned or self._ready():
                    continue
                expandable = any(fo.targets is not None for fo, _ in self._fanouts)
                if expandable and (self._expansion_due() or (self._quiet() and not self._queue)):
                    await self._expand_next()
                    continue
                if not self._queue and not expandable:
                    return
                # Wait for: a post's analysis (or its deadline), quiet, the next chunk's turn, or a new post.
                wake_at = []
                if self._queue:
                    wake_at.append(self._queue[0].submitted_at + ANSWER_WAIT_S)
                if expandable:
                    wake_at += [self._captured_at + QUIET_S, self._expanded_at + EXPAND_EVERY_S]
                await self._nap(min(wake_at))
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
                self._release(cap, fo)
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
        busy = frozenset((fo.post.channel_id, fo.post.message_id) for fo, _ in self._fanouts)

        def job(conn: Any) -> Sequence[Captured | Exception]:
            batch = Batch(cache, busy)
            batch.index(conn)  # compiled here, once per subscription change, not inside a post's savepoint
            if len(live) > 1:
                # First all posts in one savepoint, the new ones in a few multi-row statements
                # (capture_many). A post that fails undoes the attempt, and the posts are captured
                # again one savepoint each, so only the failing post's caller gets the error.
                try:
                    with sql.Savepoint(conn, "capture_batch"):
                        done = capture_many(conn, [c.request for c in live], batch)
                        batch.flush(conn)
                    return done
                except Exception:  # noqa: BLE001 - retried post by post just below
                    if sql.Savepoint.batch_lost(conn):
                        raise
                    batch = Batch(cache, busy)  # the attempt's channel marks were undone with it
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
                if got.planned is not None:
                    self._progress(got.fanout, *got.planned, planned=True)
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


def use_analysis_worker(db: Database, detector: Any = None) -> None:
    """Detect and match watch terms in a worker process as posts arrive (handlers/analysis_pool.py);
    the service does, tests need not (the answers are the same, only sooner)."""
    writer = writer_for(db)
    if writer.analysis_pool is None:
        writer.analysis_pool = pool = AnalysisPool(detector)
        pool.on_answer = writer._answered


async def resume_fanouts(deps) -> int:
    """At start-up: expand the fan-outs an earlier run committed but did not finish; returns how many
    are still unfinished (0 unless the database failed meanwhile)."""
    writer = writer_for(deps.db)
    await writer.drain(deps.wake)
    return writer.pending_fanouts
