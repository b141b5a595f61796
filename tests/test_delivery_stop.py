"""Stopping the delivery loop: never mid-send, never a second sender beside it.

Bugs found by the soak/bench: stop() only took effect after a whole batch (200 rows at the paced
rate: minutes), so SIGTERM always ran into the grace timeout and cancelled a send; and
`run --exit-when-done` called drain() beside the running loop, so both could send the same row.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

from config.settings import DeliverySettings
from handlers.delivery_loop import DeliveryLoop
from handlers.posts import handle_post
from storage import outbox, subscribers
from tests.conftest import make_post

PARDON = "Александр Лукашенко помиловал 14 осуждённых."


class GatedSender:
    """Each send waits until the test lets it finish."""

    def __init__(self):
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.sent: list[int] = []

    async def send(self, message):
        self.started.set()
        await self.release.wait()
        self.sent.append(message.random_id)
        return [len(self.sent)]


async def _queue(deps, n):
    async with deps.db.transaction():
        for i in range(n):
            await subscribers.upsert(deps.db, "telegram", str(100 + i), deps.clock())
    await handle_post(make_post(1, PARDON), deps)


async def test_stop_lets_the_send_in_flight_finish_and_starts_no_other(deps):
    deps = replace(deps, delivery=DeliverySettings(concurrency=1))
    await _queue(deps, 5)
    sender = GatedSender()
    loop = DeliveryLoop(deps, {"telegram": sender})
    runner = asyncio.create_task(loop.run())
    await sender.started.wait()
    loop.stop()  # grace 0: after the sends in flight
    sender.release.set()
    await asyncio.wait_for(runner, timeout=10)
    assert len(sender.sent) == 1
    assert (await outbox.counts_by_status(deps.db)) == {"sent": 1, "pending": 4}


async def test_stop_inf_delivers_everything_due_then_returns(deps):
    await _queue(deps, 5)

    class Instant:
        def __init__(self):
            self.keys: list[int] = []

        async def send(self, message):
            self.keys.append(message.random_id)
            return [1]

    sender = Instant()
    loop = DeliveryLoop(deps, {"telegram": sender})
    runner = asyncio.create_task(loop.run())
    loop.stop(math.inf)
    await asyncio.wait_for(runner, timeout=10)
    assert await outbox.counts_by_status(deps.db) == {"sent": 5}
    assert len(sender.keys) == len(set(sender.keys)) == 5  # each row sent once
