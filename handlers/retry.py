"""Retrying a use case when another process holds the database write lock too long.

The busy timeout already makes a write wait `busy_timeout_s`; a source that must not
drop its event (replay, the live reader, the history pass) wraps its call in
`retry_busy` to wait longer, with capped backoff, before giving up. A failed attempt
wrote nothing (one transaction per use case), so a retry is safe; handle_post and
handle_deletion are idempotent, so even a retry of a write that did land changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, TypeVar

from bot.errors import StorageBusy

log = logging.getLogger(__name__)

T = TypeVar("T")


async def retry_busy(
    call: Callable[[], Awaitable[T]], *, attempts: int = 6, first_s: float = 0.5, max_s: float = 8.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run `call()`; on StorageBusy wait (doubling from `first_s`, at most `max_s`) and try again.

    Raises the last StorageBusy after `attempts` tries; any other error passes through at once.
    """
    wait = first_s
    for attempt in range(1, attempts + 1):
        try:
            result = await call()
        except StorageBusy:
            if attempt == attempts:
                log.error("database still locked by another process after %d attempts; giving up", attempts)
                raise
            if attempt == 1:
                log.warning("database locked by another process; retrying for up to %d attempts", attempts)
            await sleep(wait)
            wait = min(max_s, wait * 2)
            continue
        if attempt > 1:
            log.warning("database lock released; write succeeded on attempt %d", attempt)
        return result
    raise AssertionError("unreachable")  # pragma: no cover
