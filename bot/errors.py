"""The error tree. Every error a person can see says what happened and what to do.

    TgwatchError
    ├── UserError              bad input from a person (CLI argument, bot command, import file)
    │   └── ConfigError        invalid settings; carries every problem found at once
    ├── StorageError           the database cannot be used (read-only, full disk, locked)
    │   └── StorageBusy        another process held the write lock past busy_timeout_s (transient)
    └── DeliveryError          sending an alert failed
        ├── RetryLater         transient: try again after `after_s` (flood wait, 5xx, network)
        └── DeliveryRejected   permanent for this destination (blocked bot, 4xx, kicked)
"""

from __future__ import annotations


class TgwatchError(Exception):
    """Base of every error tgwatch raises on purpose."""


class UserError(TgwatchError):
    """A person gave input we cannot use; the message says what to do instead."""


class ConfigError(UserError):
    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the configuration has {len(self.problems)} problem(s):\n{lines}")


class StorageError(TgwatchError):
    """The database cannot be opened or written."""


class StorageBusy(StorageError):
    """Another process held the write lock longer than the busy timeout; retrying later may succeed.
    Nothing of the failed transaction was written."""


class DeliveryError(TgwatchError):
    """Sending to a destination failed."""


class RetryLater(DeliveryError):
    def __init__(self, message: str = "retry later", after_s: float = 0.0, *, flood: bool = False):
        super().__init__(message)
        self.after_s = float(after_s)
        # A flood wait blocks the whole request type for the bot: pause the queue, not one item.
        self.flood = flood


class DeliveryRejected(DeliveryError):
    """The destination will never accept this (blocked, deactivated, kicked, 4xx)."""

    def __init__(self, message: str, *, deactivate: bool = True):
        super().__init__(message)
        self.deactivate = deactivate
