"""Fan-out benchmark: one alert to N Telegram subscribers through the real outbox, deliver_due and the
paced BotSender, against a fake bot server that enforces Telegram's limits and counts sends.

    .venv/bin/python -m benchmarks.bench_fanout [--subscribers 2000] [--rate 25] [--real-seconds 5]

Prints: achieved messages/s against the configured rate, sends the server rejected, and a same-run
baseline (the same fan-out with pacing off). The virtual-clock runs are fast; the real-time run
shows actual pacing with asyncio.sleep.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.detection import load_detector
from bot.models import Post
from bot.telegram.fake_server import FakeBotServer
from bot.telegram.pacing import Limits, Pacer
from bot.telegram.sender import BotSender
from config.settings import DeliverySettings
from handlers.delivery import deliver_due
from handlers.deps import Deps
from handlers.posts import handle_post
from storage import subscribers
from storage.db import open_database

T0 = datetime(2025, 9, 11, 12, tzinfo=timezone.utc)


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.now += max(0.0, s)


class RealTime:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.start

    async def sleep(self, s: float) -> None:
        await asyncio.sleep(s)


def max_in_window(times: list[float], span: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - span + 1e-6:
            j += 1
        best = max(best, i - j + 1)
    return best


async def fanout(n: int, rate: float, clock, *, paced: bool = True, groups: int = 0, latency_s: float = 0.0) -> dict:
    """Queue one alert for n subscribers and deliver it all; returns the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        db = await open_database(Path(tmp) / "bench.db")
        settings = DeliverySettings(global_rate_per_s=rate, batch_size=500)
        deps = Deps(db=db, detector=load_detector(), clock=lambda: T0 + timedelta(seconds=clock()),
                    delivery=settings)
        async with db.transaction():
            for i in range(n):
                address = str(-(1_000_000 + i)) if i < groups else str(10_000 + i)
                await subscribers.upsert(db, "telegram", address, deps.clock())
        post = Post(channel_id=42, message_id=1, text="Президент помиловал 12 человек.", posted_at=T0,
                    channel_username="pul_pervogo")
        queued = (await handle_post(post, deps)).alerts_queued
        server = FakeBotServer(clock, latency_s=latency_s, sleep=clock.sleep)
        limits = Limits.from_settings(settings) if paced else Limits(1e9, 1e-9, 10**9)
        sender = BotSender(server, Pacer(limits), monotonic=clock, sleep=clock.sleep)
        wall = time.perf_counter()
        floods = 0
        while True:
            rnd = await deliver_due(deps, {"telegram": sender})
            if rnd.paused_until is not None:
                floods += 1
                await clock.sleep((rnd.paused_until - deps.clock()).total_seconds())
                continue
            if rnd.sent + rnd.retried + rnd.failed + rnd.skipped == 0:
                nxt = await db.fetchval("SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'")
                if nxt is None:
                    break
                await clock.sleep(max(0.05, (datetime.fromisoformat(nxt) - deps.clock()).total_seconds()))
        wall = time.perf_counter() - wall
        await db.close()
    times = sorted(d.at for d in server.delivered)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    per_chat = Counter(d.chat_id for d in server.delivered)
    return {
        "queued": queued,
        "delivered": len(server.delivered),
        "duplicates": sum(1 for c in per_chat.values() if c > 1),
        "rejected": server.rejected,
        "flood_pauses": floods,
        "duration_s": span,
        "achieved_per_s": (len(times) - 1) / span if span else float("inf"),
        "max_any_1s": max_in_window(times, 1.0) if times else 0,
        "wall_s": wall,
    }


def show(title: str, r: dict, rate: float) -> None:
    print(f"{title}\n  queued {r['queued']}, delivered {r['delivered']} (duplicates {r['duplicates']}), "
          f"rejected by server {r['rejected']}, flood pauses {r['flood_pauses']}\n"
          f"  {r['duration_s']:.2f} s of {'virtual' if r['wall_s'] < r['duration_s'] / 2 else 'real'} time, "
          f"achieved {r['achieved_per_s']:.2f} msg/s = {r['achieved_per_s'] / rate:.1%} of the configured {rate:g}/s; "
          f"max sends in any 1 s: {r['max_any_1s']}; wall {r['wall_s']:.2f} s")


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)  # the unpaced baseline logs every flood wait
    rate = args.rate
    paced = await fanout(args.subscribers, rate, VirtualTime(), groups=args.groups)
    show(f"paced fan-out, {args.subscribers} subscribers ({args.groups} groups), virtual clock:", paced, rate)
    base = await fanout(args.subscribers, rate, VirtualTime(), paced=False, groups=args.groups)
    show("baseline, same fan-out with pacing off, virtual clock:", base, rate)
    if base["achieved_per_s"] and base["achieved_per_s"] != float("inf"):
        print(f"  paced/unpaced throughput ratio: {paced['achieved_per_s'] / base['achieved_per_s']:.2f}")
    if args.real_seconds > 0 and args.latency_ms > 0:
        # The virtual clock adds every sleep up (it models one send at a time), so round-trip
        # latency is measured on the real clock, where delivery lanes overlap their round trips.
        n = int(rate * args.real_seconds) + 1
        lat = await fanout(n, rate, RealTime(), latency_s=args.latency_ms / 1000)
        show(f"paced fan-out, {n} subscribers, {args.latency_ms:g} ms round trip per send "
             f"(concurrent delivery lanes), REAL clock:", lat, rate)
    if args.real_seconds > 0:
        n = int(rate * args.real_seconds) + 1
        real = await fanout(n, rate, RealTime())
        show(f"paced fan-out, {n} subscribers, REAL clock (asyncio.sleep):", real, rate)
    ok = paced["rejected"] == 0 and paced["achieved_per_s"] >= 0.95 * rate and paced["duplicates"] == 0
    print("target (>=95% of rate, zero rejected, no duplicates):", "MET" if ok else "NOT MET")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=2000)
    p.add_argument("--groups", type=int, default=100, help="how many of the subscribers are group chats")
    p.add_argument("--rate", type=float, default=25.0, help="[delivery] global_rate_per_s")
    p.add_argument("--latency-ms", type=float, default=60.0,
                   help="also run with this simulated round trip per send (0 = skip)")
    p.add_argument("--real-seconds", type=float, default=5.0, help="length of the real-time run (0 = skip)")
    asyncio.run(main(p.parse_args()))
