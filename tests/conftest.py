"""Shared fixtures: a real migrated SQLite file per test, a fake clock, a recording sender."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from bot.detection import load_detector
from bot.models import Post
from bot.timeutil import FakeClock
from handlers.delivery import OutgoingMessage
from handlers.deps import Deps
from storage.db import open_database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 9, 11, 12, 0, tzinfo=timezone.utc))


@pytest.fixture(scope="session")
def detector():
    return load_detector()


@pytest.fixture
async def db(tmp_path):
    database = await open_database(tmp_path / "test.db")
    yield database
    await database.close()


@pytest.fixture
def wakes() -> list[int]:
    return []


@pytest.fixture
def deps(db, detector, clock, wakes) -> Deps:
    return Deps(db=db, detector=detector, clock=clock, wake=lambda: wakes.append(1), operators=(777,))


class RecordingSender:
    """A fake destination: records what it got; can be told to fail."""

    def __init__(self):
        self.messages: list[OutgoingMessage] = []
        self.fail_with: list[Exception] = []  # raised in order, one per send, before recording

    async def send(self, message: OutgoingMessage) -> list[int]:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.messages.append(message)
        return [len(self.messages)]


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


def make_post(message_id: int = 1, text: str = "Лукашенко помиловал 14 осуждённых.", *, channel_id: int = 1001,
              username: str = "pul_pervogo", **kw) -> Post:
    return Post(
        channel_id=channel_id,
        message_id=message_id,
        text=text,
        posted_at=kw.pop("posted_at", datetime(2025, 9, 11, 11, 0, tzinfo=timezone.utc)),
        channel_username=username,
        **kw,
    )


async def cancel_after_steps(coro, steps: int) -> None:
    """Run `coro` as a task, let the loop turn `steps` times, cancel it and wait for it to end:
    a cancellation landing at every await in turn (tests parametrise `steps`)."""
    task = asyncio.create_task(coro)
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
