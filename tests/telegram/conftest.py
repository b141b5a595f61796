"""Fixtures for the Telegram edge tests: a real migrated SQLite file, a fake clock, virtual time."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.detection import load_detector
from bot.timeutil import FakeClock
from handlers.deps import Deps
from storage.db import open_database

OPERATOR = 999


class VirtualTime:
    """Monotonic seconds that move only when someone sleeps (or the test advances them)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.now += max(0.0, s)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 9, 11, 12, 0, tzinfo=timezone.utc))


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def deps(tmp_path, clock):
    db = await open_database(tmp_path / "tgwatch.db")
    try:
        yield Deps(db=db, detector=load_detector(), clock=clock, operators=(OPERATOR,))
    finally:
        await db.close()
