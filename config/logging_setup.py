"""Logging for the service: one format, secrets masked, chatty libraries quieted.

Called by the CLI, never at import.
"""

from __future__ import annotations

import logging
import sys
from typing import Iterable

QUIET = ("telethon", "httpx", "httpcore", "apscheduler", "aiosqlite", "asyncio")


class MaskSecrets(logging.Filter):
    """Replaces every known secret value in a record's final message with ****."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        # Longest first so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        msg = record.getMessage()
        masked = msg
        for s in self.secrets:
            masked = masked.replace(s, "****")
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text
        if exc_text:
            for s in self.secrets:
                exc_text = exc_text.replace(s, "****")
            record.exc_text = exc_text
        if masked != msg:
            record.msg, record.args = masked, None
        return True


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (), stream=None) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_tgwatch", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._tgwatch = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskSecrets(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
