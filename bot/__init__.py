"""tgwatch: watch official Telegram channels for pardon and release announcements."""

__version__ = "0.1.0"
