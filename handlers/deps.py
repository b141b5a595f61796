"""What every use case receives: a small frozen bundle of dependencies, built by bot/app.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable

from bot.detection import Detector
from bot.models import Channel
from bot.timeutil import Clock, utcnow
from config.settings import DeliverySettings, HealthSettings
from storage.db import Database


def _noop() -> None:
    return None


@dataclass(frozen=True)
class Deps:
    db: Database
    detector: Detector
    clock: Clock = utcnow
    # Called after a commit that queued alerts, to wake the delivery loop at once.
    wake: Callable[[], None] = field(default=_noop)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    # Telegram user ids allowed to run operator commands; they receive operator notices.
    operators: tuple[int, ...] = ()
    # settings.access.mode: open | approval | invite (how /start admits journalists).
    access_mode: str = "open"
    health: HealthSettings = field(default_factory=HealthSettings)
    # Ports the Telegram edge provides (None without Telegram): look up + join a channel by
    # username, and fetch its last N posts through handle_post (returns how many were stored).
    resolve: Callable[[str], Awaitable[Channel]] | None = None
    backfill: Callable[[Channel, int], Awaitable[int]] | None = None
