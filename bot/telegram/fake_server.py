"""A fake Telegram bot API endpoint for tests and benchmarks (never used by the service).

It plays `invoke(request)` for sender.BotSender: accepts SendMessageRequest/EditMessageRequest,
enforces Telegram's bot limits (per private chat, per group, global) by raising the real
FloodWaitError, deduplicates random_id like the server (RandomIdDuplicateError), and raises
the real errors for blocked users. Time comes from an injected clock.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from telethon import errors as tg
from telethon.tl import functions, types

EPS = 1e-6  # clock rounding tolerance


class SimulatedCrash(Exception):
    """Raised after a message was accepted: the process 'dies' before recording the send."""


@dataclass
class Delivered:
    chat_id: int
    message_id: int
    text: str
    random_id: int
    at: float


class FakeBotServer:
    def __init__(self, clock: Callable[[], float], *, global_per_s: int = 30, private_interval_s: float = 1.0,
                 group_per_minute: int = 20, latency_s: float = 0.0, sleep: Callable[[float], Any] | None = None):
        self.clock = clock
        self.latency_s = latency_s  # round trip per call, spent through `sleep` (virtual or real)
        self.sleep = sleep
        self.global_per_s = global_per_s
        self.private_interval_s = private_interval_s
        self.group_per_minute = group_per_minute
        self.delivered: list[Delivered] = []
        self.edits: list[tuple[int, int, str]] = []
        self.by_random_id: dict[int, Delivered] = {}
        self.blocked: set[int] = set()
        self.rejected = 0  # sends refused for breaking a limit
        self.calls = 0
        self.crash_after_next_send = False
        self.flood_next_s = 0  # > 0: the next send answers FLOOD_WAIT_<n> and blocks sends that long
        self._flood_until = 0.0
        self._global: deque[float] = deque()
        self._chat: dict[int, deque[float]] = defaultdict(deque)
        self._next_id = 1
        self.changed = asyncio.Event()  # set on every delivery: tests wait on it instead of sleeping

    def _limit_wait(self, chat_id: int, now: float) -> int:
        """Seconds Telegram would ask us to wait, or 0 when this send is within limits."""
        g = self._global
        while g and g[0] <= now - 1.0 + EPS:
            g.popleft()
        if len(g) >= self.global_per_s:
            return 1
        c = self._chat[chat_id]
        span, n = (60.0, self.group_per_minute) if chat_id < 0 else (self.private_interval_s, 1)
        while c and c[0] <= now - span + EPS:
            c.popleft()
        if len(c) >= n:
            return max(1, int(c[0] + span - now + 0.999))
        return 0

    async def __call__(self, request: Any) -> Any:
        self.calls += 1
        if self.latency_s and self.sleep is not None:
            await self.sleep(self.latency_s)
        now = self.clock()
        if isinstance(request, functions.messages.EditMessageRequest):
            self.edits.append((int(request.peer), request.id, request.message or ""))
            return types.Updates(updates=[], users=[], chats=[], date=datetime.now(timezone.utc), seq=0)
        if not isinstance(request, functions.messages.SendMessageRequest):
            raise tg.RPCError(request, "METHOD_NOT_FAKED", 400)
        chat_id = int(request.peer)
        if now < self._flood_until:
            raise tg.FloodWaitError(request=request, capture=int(self._flood_until - now + 0.999))
        if self.flood_next_s:
            self._flood_until = now + self.flood_next_s
            secs, self.flood_next_s = self.flood_next_s, 0
            raise tg.FloodWaitError(request=request, capture=secs)
        if request.random_id in self.by_random_id:
            raise tg.RandomIdDuplicateError(request=request)
        if chat_id in self.blocked:
            raise tg.UserIsBlockedError(request=request)
        wait = self._limit_wait(chat_id, now)
        if wait:
            self.rejected += 1
            raise tg.FloodWaitError(request=request, capture=wait)
        self._global.append(now)
        self._chat[chat_id].append(now)
        d = Delivered(chat_id, self._next_id, request.message, request.random_id, now)
        self._next_id += 1
        self.delivered.append(d)
        self.by_random_id[request.random_id] = d
        self.changed.set()
        if self.crash_after_next_send:
            self.crash_after_next_send = False
            raise SimulatedCrash("the process died after Telegram accepted the message")
        return types.UpdateShortSentMessage(id=d.message_id, pts=d.message_id, pts_count=1,
                                            date=datetime.now(timezone.utc), out=True)

    def per_chat(self) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for d in self.delivered:
            counts[d.chat_id] += 1
        return dict(counts)
