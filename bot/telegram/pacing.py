"""Pacing for bot sends: pure, clock-injected. Keeps us inside Telegram's bot limits so a flood
wait is the exception: at most 1 message/s per private chat, 20/min per group or channel, and a
global rate (settings.delivery, default 25/s).

Sliding windows, not buckets with bursts: in ANY window of 60 s a group gets at most 20, and the
global rate is spread evenly (one send every 1/rate s), so even with scheduling jitter no 1 s
window holds much more than the rate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    global_per_s: float = 25.0
    private_interval_s: float = 1.0
    group_per_minute: int = 20

    @classmethod
    def from_settings(cls, d: object) -> "Limits":
        return cls(d.global_rate_per_s, d.private_chat_interval_s, d.group_per_minute)


def is_group(chat_id: int) -> bool:
    """Marked ids: users are positive, groups (-id) and channels/supergroups (-100id) negative."""
    return chat_id < 0


class _Window:
    """At most `n` events in any `span_s` window."""

    def __init__(self, n: int, span_s: float):
        self.n, self.span_s = max(1, n), span_s
        self.times: deque[float] = deque()

    def earliest(self, t: float) -> float:
        while self.times and self.times[0] <= t - self.span_s:
            self.times.popleft()
        if len(self.times) < self.n:
            return t
        return self.times[-self.n] + self.span_s

    def book(self, t: float) -> None:
        self.times.append(t)


class Pacer:
    """`reserve(chat_id, now)` books the earliest allowed send time (>= now) and returns it.

    The caller waits until that time, then sends. Booking before waiting keeps concurrent
    callers honest. `pause_until(t)` (a flood wait) holds every chat until t.
    """

    def __init__(self, limits: Limits = Limits()):
        self.limits = limits
        self._global = _Window(1, 1.0 / limits.global_per_s)
        self._chats: dict[int, _Window] = {}
        self._paused_until = 0.0

    def _chat(self, chat_id: int) -> _Window:
        w = self._chats.get(chat_id)
        if w is None:
            w = (_Window(self.limits.group_per_minute, 60.0) if is_group(chat_id)
                 else _Window(1, self.limits.private_interval_s))
            self._chats[chat_id] = w
        return w

    def reserve(self, chat_id: int, now: float) -> float:
        chat = self._chat(chat_id)
        t = max(now, self._paused_until)
        # Both windows must allow t; moving t for one can only help the other, so this converges.
        while True:
            t2 = max(chat.earliest(t), self._global.earliest(t))
            if t2 == t:
                break
            t = t2
        chat.book(t)
        self._global.book(t)
        if len(self._chats) > 50_000:
            self._forget(now)
        return t

    def pause_until(self, t: float) -> None:
        self._paused_until = max(self._paused_until, t)

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def _forget(self, now: float) -> None:
        """Drop windows of chats quiet for over a minute (bounded memory)."""
        for cid in [c for c, w in self._chats.items() if not w.times or w.times[-1] < now - 60.0]:
            del self._chats[cid]
