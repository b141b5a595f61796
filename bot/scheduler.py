"""EDGE: periodic jobs. The only module that imports apscheduler (3.x).

APScheduler only *triggers* use cases: digests (handlers.digest.run_digests) and liveness checks
(handlers.liveness.run_checks). Both are idempotent and take the time from deps.clock, so tests
call them directly with a fake clock instead of running a scheduler.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.errors import TgwatchError
from handlers.deps import Deps
from handlers.digest import run_digests
from handlers.liveness import run_checks
from handlers.search import refresh_index_in_steps

log = logging.getLogger(__name__)

DIGEST_INTERVAL_S = 60
HEALTH_INTERVAL_S = 60
SEARCH_INDEX_INTERVAL_S = 60


async def _guarded(name: str, coro_fn, deps: Deps) -> None:
    try:
        await coro_fn(deps)
    except TgwatchError as e:  # e.g. the database is locked: try again at the next tick
        log.warning("%s job failed: %s", name, e)


def build_scheduler(deps: Deps, *, digest_interval_s: int = DIGEST_INTERVAL_S,
                    health_interval_s: int = HEALTH_INTERVAL_S) -> AsyncIOScheduler:
    """A scheduler with the digest and liveness jobs; call .start() inside the running loop, .shutdown() at exit."""
    sched = AsyncIOScheduler(timezone="UTC")
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 300}
    sched.add_job(_guarded, "interval", seconds=digest_interval_s, args=("digest", run_digests, deps),
                  id="digests", **common)
    sched.add_job(_guarded, "interval", seconds=health_interval_s, args=("liveness", run_checks, deps),
                  id="liveness", **common)
    sched.add_job(_guarded, "interval", seconds=SEARCH_INDEX_INTERVAL_S,
                  args=("search index", refresh_index_in_steps, deps), id="search_index", **common)
    return sched
