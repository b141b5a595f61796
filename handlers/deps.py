"""What every use case receives: a small frozen bundle of dependencies, built by bot/app.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from bot.detection import Detector
from bot.timeutil import Clock, utcnow
from config.settings import DeliverySettings
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
