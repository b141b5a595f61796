"""EDGE: the console sender, for the demo and for trying tgwatch without Telegram."""

from __future__ import annotations

import sys
from typing import TextIO

from handlers.delivery import OutgoingMessage


class ConsoleSender:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.sent = 0

    async def send(self, message: OutgoingMessage) -> list[int]:
        self.sent += 1
        bar = "─" * 72
        print(f"{bar}\n📨 to {message.address} ({message.kind})\n{message.text}", file=self.stream, flush=True)
        return [self.sent]
