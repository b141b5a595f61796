"""The pacer alone: pure, virtual time."""

from __future__ import annotations

from bot.telegram.pacing import Limits, Pacer


def test_private_chat_gets_one_message_per_second():
    p = Pacer(Limits(global_per_s=25))
    assert [p.reserve(101, 0.0) for _ in range(3)] == [0.0, 1.0, 2.0]


def test_global_rate_spreads_sends_evenly():
    p = Pacer(Limits(global_per_s=25))
    times = [p.reserve(1000 + i, 0.0) for i in range(50)]
    assert abs(times[-1] - 49 / 25) < 1e-9
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) == 25


def test_group_gets_twenty_per_minute():
    p = Pacer(Limits(global_per_s=25, group_per_minute=20))
    times = [p.reserve(-100500, 0.0) for _ in range(21)]
    assert times[19] < 1.0 and times[20] >= 60.0


def test_pause_holds_every_chat():
    p = Pacer(Limits())
    p.pause_until(30.0)
    assert p.reserve(5, 1.0) == 30.0 and p.reserve(-7, 1.0) >= 30.0
