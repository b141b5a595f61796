"""Time: UTC everywhere, ISO-8601 with offset in storage, an injectable clock."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(dt: datetime) -> datetime:
    """Naive datetimes are taken as UTC (Telethon gives aware ones; exports may not)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return as_utc(dt).isoformat(timespec="microseconds" if dt.microsecond else "seconds")


def parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    return as_utc(datetime.fromisoformat(s))


class FakeClock:
    """A clock for tests and replays: moves only when told."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2025, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        from datetime import timedelta

        self.now = self.now + timedelta(seconds=seconds)
        return self.now
