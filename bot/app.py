"""Composition root: builds the dependencies from settings, runs sources and delivery, shuts down cleanly.

Exit codes: 0 ok, 1 runtime error, 2 bad configuration or input, 3 database unusable.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import signal
import sys
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Callable, Mapping

from bot.detection import load_detector
from bot.replay import ReplayEvent, read_replay
from bot.timeutil import Clock, utcnow
from config.settings import Settings
from handlers.delivery import Sender
from handlers.capture import resume_fanouts, use_analysis_worker
from handlers.delivery_loop import DeliveryLoop
from handlers.deps import Deps
from handlers.posts import handle_deletion, handle_post
from handlers.retry import retry_busy
from handlers.webhook_subscribers import sync_webhooks
from storage import subscribers
from storage.checkpoint import start_checkpointer
from storage.db import Database, open_database

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    db: Database
    deps: Deps
    loop: DeliveryLoop
    senders: dict[str, Sender] = field(default_factory=dict)

    async def close(self) -> None:
        hook_sender = self.senders.get("webhook")
        if hook_sender is not None and hasattr(hook_sender, "aclose"):
            await hook_sender.aclose()
        await self.db.close()


async def build_service(settings: Settings, senders: Mapping[str, Sender], *, clock: Clock = utcnow,
                        db_path: str | Path | None = None) -> Service:
    db = await open_database(db_path or settings.database.path, busy_timeout_s=settings.database.busy_timeout_s)
    detector = load_detector(settings.detector.rules_path)
    holder: list[DeliveryLoop] = []
    deps = Deps(db=db, detector=detector, clock=clock, wake=lambda: holder[0].wake() if holder else None,
                delivery=settings.delivery, operators=settings.access.operators,
                access_mode=settings.access.mode, health=settings.health)
    senders = dict(senders)
    use_analysis_worker(db, deps.detector)  # detection and watch terms on another core (handlers/analysis_pool.py)
    # Alerts a previous run committed as an intent but did not finish queuing (killed in between).
    await resume_fanouts(deps)
    # After the writer is set up, so that close() drains the writer before stopping checkpoints.
    await start_checkpointer(db, interval_s=settings.database.checkpoint_interval_s,
                             max_wal_mb=settings.database.max_wal_mb)
    await sync_webhooks(deps, settings.webhooks)
    if settings.webhooks and "webhook" not in senders:
        from bot.webhooks import WebhookSender

        senders["webhook"] = WebhookSender(settings.webhooks, clock=clock)
    loop = DeliveryLoop(deps, senders)
    holder.append(loop)
    return Service(settings, db, deps, loop, senders)


async def apply_event(ev: ReplayEvent, deps: Deps, *, alert: bool = True) -> None:
    if ev.kind == "delete":
        await handle_deletion(ev.channel_id, list(ev.message_ids), deps)
    else:
        assert ev.post is not None
        await handle_post(ev.post, deps, alert=alert, source="replay")


@dataclass
class DemoSummary:
    events: int
    posts: int
    versions: int
    detections_positive: int
    alerts_sent: int
    db_path: str


async def run_demo(settings: Settings, replay: Path, db_path: Path, senders: Mapping[str, Sender]) -> DemoSummary:
    """Replay posts through the real pipeline into SQLite; deliver alerts to one console subscriber."""
    svc = await build_service(settings, senders, db_path=db_path)
    try:
        async with svc.db.transaction():
            await subscribers.upsert(svc.db, "console", "demo-journalist", utcnow(), display_name="Demo journalist")
        n = 0
        # Each event is delivered before the next one arrives, as in a channel where posts are
        # minutes apart: the output is the same on every run, and an edit of an alerted post
        # shows as a follow-up (a still-queued alert would just render the newest text).
        for ev in read_replay(replay):
            await apply_event(ev, svc.deps)
            await svc.loop.drain()
            n += 1
        await svc.loop.drain()
        db = svc.db
        return DemoSummary(
            events=n,
            posts=await db.fetchval("SELECT count(*) FROM posts"),
            versions=await db.fetchval("SELECT count(*) FROM post_versions"),
            detections_positive=await db.fetchval(
                "SELECT count(DISTINCT channel_id || ':' || message_id) FROM detections WHERE label != 'none'"
            ),
            alerts_sent=await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'"),
            db_path=str(db_path),
        )
    finally:
        await svc.close()


def heartbeat_path(settings: Settings) -> Path:
    return Path(settings.database.path).with_name("heartbeat")


async def heartbeat(settings: Settings, every_s: float = 15.0) -> None:
    """Touch a file next to the database while the service lives; `tgwatch health` reads its age."""
    path = heartbeat_path(settings)
    while True:
        try:
            path.write_text(utcnow().isoformat(), encoding="utf-8")
        except OSError as e:
            log.warning("cannot write heartbeat %s: %s", path, e.strerror)
        await asyncio.sleep(every_s)


def install_signal_handlers(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)


def settle_heap() -> None:
    """Once set up, move what lives for the whole run (detector tables, compiled filters, modules)
    out of the cyclic GC's reach: a full collection walking it stalled capture for up to 50 ms in
    the middle of a burst (benchmarks/bench_load.py). Garbage is collected first, so none is kept."""
    gc.collect()
    gc.freeze()


# How long a thread may hold the GIL while another waits for it (CPython's default: 5 ms). The
# database thread gives the GIL up at every SQLite call and must take it back after; with a busy
# event loop that wait was up to 5 ms a statement, and a burst's capture batches (benchmarks/
# bench_load.py) stretched to 15-25 ms: the recipients' p99 ranged 26-78 ms over ten runs, 36-44 ms
# at 1 ms. The extra switches cost the loop little (it blocks in epoll most of the time anyway).
GIL_SWITCH_S = 0.001


def share_the_gil() -> None:
    sys.setswitchinterval(GIL_SWITCH_S)


@asynccontextmanager
async def _service_tasks(svc: Service, settings: Settings) -> AsyncIterator[asyncio.Task]:
    """Delivery loop, heartbeat and scheduled jobs for the life of a service; yields the delivery task."""
    from bot.scheduler import build_scheduler

    settle_heap()
    share_the_gil()
    runner = asyncio.create_task(svc.loop.run())
    beat = asyncio.create_task(heartbeat(settings))
    scheduler = build_scheduler(svc.deps)
    scheduler.start()
    try:
        yield runner
    finally:
        scheduler.shutdown(wait=False)
        for task in (runner, beat):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def run_telegram_service(settings: Settings, senders: Mapping[str, Sender], *, edges=None,
                               stop: asyncio.Event | None = None) -> int:
    """`tgwatch run`: capture from Telegram (live + reconcile passes), deliver with the bot, answer
    bot commands; SIGTERM stops capture and drains delivery for up to [run] grace_s.
    Tests pass `edges` (TelegramEdges over fake clients) and `stop` instead of signals."""
    if edges is None:
        from bot.telegram.service import TelegramEdges  # telethon stays out of this module's imports

        edges = TelegramEdges(settings)
    svc = await build_service(settings, {**senders, **edges.senders()})
    stopping = stop or asyncio.Event()
    if stop is None:
        install_signal_handlers(stopping.set)
    try:
        async with _service_tasks(svc, settings) as runner:
            await edges.start(svc.deps)
            log.info("capturing from Telegram; SIGTERM or Ctrl-C stops")
            await edges.run_until(stopping)
            await _drain_within_grace(svc, runner, settings.run.grace_s)
            return 0
    finally:
        await edges.close()
        await svc.close()


async def run_replay_service(settings: Settings, replay: Path, senders: Mapping[str, Sender], *,
                             exit_when_done: bool = False) -> int:
    """`tgwatch run --replay FILE`: a replay source instead of Telegram, otherwise the real service.

    Restart-safe: the file is replayed from the start and handle_post's idempotency skips what is stored.
    """
    svc = await build_service(settings, senders)
    stopping = asyncio.Event()
    install_signal_handlers(stopping.set)
    try:
        async with _service_tasks(svc, settings) as runner:
            for ev in read_replay(replay):
                if stopping.is_set():
                    break
                # A second process holding the lock past busy_timeout_s must not drop the event.
                await retry_busy(lambda: apply_event(ev, svc.deps))
                await asyncio.sleep(0)
            log.info("replay source finished")
            if exit_when_done and not stopping.is_set():
                # Deliver everything due, then stop; the loop is the only sender (a second drain
                # running beside it would send the same rows twice).
                svc.loop.stop(math.inf)
                stop_wait = asyncio.create_task(stopping.wait())
                await asyncio.wait({runner, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                stop_wait.cancel()
            else:
                await stopping.wait()
            if not runner.done():
                await _drain_within_grace(svc, runner, settings.run.grace_s)
            runner.result()  # surface an error that ended delivery
            return 0
    finally:
        await svc.close()


async def _drain_within_grace(svc: Service, runner: asyncio.Task, grace_s: float) -> None:
    """SIGTERM: keep delivering what is due for up to grace_s; no send starts after it, and one
    still in flight at the deadline is cancelled (its row stays pending and is resent with the same
    random_id / idempotency key, which the destination deduplicates)."""
    log.info("stopping: draining delivery for up to %.1f s", grace_s)
    svc.loop.stop(grace_s)
    try:
        await asyncio.wait_for(asyncio.shield(runner), timeout=grace_s)
    except asyncio.TimeoutError:
        log.warning("delivery did not drain within %.1f s; pending alerts stay queued", grace_s)
