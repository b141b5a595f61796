"""Load benchmark: a burst of channel posts against thousands of subscribers.

    .venv/bin/python -m benchmarks.bench_load [--channels 200] [--posts 1000] [--detections 50]
                                              [--subscribers 2000] [--rate 25] [--delivery-s 20]

200 watched channels post 1,000 messages within one second (50 of them announcements) while
2,000 subscribers are registered and the delivery loop runs. Figures:
- commit latency, in the three stages of handle_post (handlers/capture.py), p50/p99/max:
  captured = arrival -> the post, its detection and its fan-out intent committed; recipients
  committed = arrival -> every per-subscriber queue row of the post durable (a small fan-out's
  outbox rows, a big one's alert_recipients rows): the issue's metric; outbox rows materialised =
  arrival -> every outbox row of the post committed (what handle_post returns after; informational,
  the announcements' ~1,800 wide rows each are the slow part);
- delivery throughput: messages per second through the production BotSender + Pacer
  (bot/telegram) against the fake bot server (Telegram's limits, a simulated round trip),
  measured after the burst, against the configured rate;
- memory: peak RSS of the process at the end, and of its analysis worker process (the sum is the
  service's).
Baseline in the same run: the same burst with no subscribers (capture cost alone).
Targets (issue 7): recipients committed p99 <= 50 ms, delivery >= 95% of the rate, RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.detection import load_detector
from bot.models import Post, Subscription
from bot.app import settle_heap, share_the_gil
from config.settings import DeliverySettings
from handlers.delivery_loop import DeliveryLoop
from handlers.deps import Deps
from handlers.capture import resume_fanouts, use_analysis_worker, writer_for
from handlers.posts import submit_post
from storage import subscribers
from storage.checkpoint import start_checkpointer
from storage.db import open_database

ANNOUNCEMENT = "Александр Лукашенко помиловал {n} осуждённых за преступления экстремистской направленности."
NEWS = "Уборочная кампания в районе {n}: намолочено более {n} тысяч тонн зерна, работы продолжаются."


class TimedServer:
    """The Telegram helper's FakeBotServer (Telegram's limits, real errors) with a real clock and
    round trip, recording when each message was accepted."""

    def __init__(self, rtt_s: float):
        from bot.telegram.fake_server import FakeBotServer

        self.server = FakeBotServer(time.monotonic, latency_s=rtt_s, sleep=asyncio.sleep)
        self.sent_at: list[float] = []

    async def __call__(self, request):
        result = await self.server(request)
        self.sent_at.append(time.monotonic())
        return result


def paced_sender(rate_per_s: float, rtt_s: float):
    """bot/telegram's BotSender and Pacer (the production pacing) in front of the fake server."""
    from bot.telegram.pacing import Limits, Pacer
    from bot.telegram.sender import BotSender

    server = TimedServer(rtt_s)
    return BotSender(server, Pacer(Limits(global_per_s=rate_per_s))), server


def worker_peak_rss_mb(pool) -> float:
    """The analysis worker's peak RSS (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pool._proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, AttributeError):
        return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def add_subscribers(deps: Deps, n: int, channel_ids: list[int]) -> None:
    rng = random.Random(7)
    now = deps.clock()
    async with deps.db.transaction():
        for i in range(n):
            sid = await subscribers.upsert(deps.db, "telegram", str(10_000_000 + i), now)
            r = rng.random()
            if r < 0.2:
                sub = Subscription(sid, labels=("pardon", "release"))
            elif r < 0.3:
                sub = Subscription(sid, terms=("Дубровский", "Статкевич"))
            elif r < 0.4:
                sub = Subscription(sid, channel_ids=tuple(rng.sample(channel_ids, 5)))
            else:
                continue
            await subscribers.save_subscription(deps.db, sub)


def make_burst(channels: int, posts: int, detections: int) -> list[tuple[float, Post]]:
    """(arrival offset in s, post): `posts` posts spread over one second, `detections` of them announcements."""
    rng = random.Random(11)
    positive = set(rng.sample(range(posts), detections))
    base = datetime(2025, 9, 11, 12, 0, tzinfo=timezone.utc)
    next_id = [0] * channels
    burst = []
    for i in range(posts):
        ch = rng.randrange(channels)
        next_id[ch] += 1
        text = (ANNOUNCEMENT if i in positive else NEWS).format(n=i + 1)
        post = Post(channel_id=2_000_000 + ch, message_id=next_id[ch], text=text, channel_username=f"chan_{ch}",
                    posted_at=base + timedelta(milliseconds=i))
        burst.append((i / posts, post))
    return burst


async def run_burst(deps: Deps, burst: list[tuple[float, Post]]) -> dict[str, list[float]]:
    """Each post arrives at its offset as its own task (as live updates do); returns the arrival ->
    captured, -> recipients committed and -> all outbox rows committed seconds."""
    got: dict[str, list[float]] = {"captured": [], "recipients": [], "latencies": []}

    def stamp(key: str, arrival: float):
        return lambda fut: got[key].append(time.monotonic() - arrival)

    async def one(arrival: float, post: Post) -> None:
        # Timed by callbacks, so measuring three stages costs the loop no more than a live handler
        # awaiting handle_post (one wake-up).
        stages = submit_post(post, deps, source="bench")
        stages.captured.add_done_callback(stamp("captured", arrival))
        stages.queued.add_done_callback(stamp("recipients", arrival))
        await stages.done
        got["latencies"].append(time.monotonic() - arrival)

    start = time.monotonic()
    tasks = []
    for offset, post in burst:
        delay = start + offset - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(start + offset, post)))
    await asyncio.gather(*tasks)
    return got


async def scenario(workdir: Path, args: argparse.Namespace, n_subscribers: int, deliver: bool) -> dict:
    db = await open_database(workdir / f"bench-{n_subscribers}.db")
    delivery = DeliverySettings(global_rate_per_s=args.rate, batch_size=200)
    holder: list[DeliveryLoop] = []
    deps = Deps(db=db, detector=load_detector(), delivery=delivery,
                wake=lambda: holder[0].wake() if holder else None)
    channel_ids = [2_000_000 + c for c in range(args.channels)]
    await add_subscribers(deps, n_subscribers, channel_ids)
    use_analysis_worker(db, deps.detector)  # what bot/app.build_service does at start,
    await resume_fanouts(deps)  # and this (it also compiles the filters);
    await writer_for(db).analysis_pool.settled()  # a service is up long before a burst: its worker too
    await start_checkpointer(db)  # and background WAL checkpoints, as build_service starts them
    settle_heap()  # as the service does before its tasks start,
    share_the_gil()  # and this
    sender, server = paced_sender(args.rate, args.rtt_ms / 1000)
    loop = DeliveryLoop(deps, {"telegram": sender}, idle_s=0.5)
    holder.append(loop)
    runner = asyncio.create_task(loop.run()) if deliver else None
    t0 = time.monotonic()
    result: dict = await run_burst(deps, make_burst(args.channels, args.posts, args.detections))
    burst_s = time.monotonic() - t0
    queued = await db.fetchval("SELECT count(*) FROM outbox")
    sizes = writer_for(db).batch_sizes
    result.update(burst_s=burst_s, queued=queued,
                  batches=(len(sizes), statistics.mean(sizes) if sizes else 0.0, max(sizes, default=0)))
    if runner:
        during = len(server.sent_at)
        t1 = time.monotonic()
        await asyncio.sleep(args.delivery_s)
        loop.stop()
        await runner
        # Steady state after the burst: sends per second over the measuring window.
        after = [t for t in server.sent_at if t >= t1]
        result["rate"] = len(after) / (time.monotonic() - t1)
        result["sent_during_burst"] = during
        result["sent"] = len(after)
        result["rejected"] = server.server.rejected
    result["worker_rss_mb"] = worker_peak_rss_mb(writer_for(db).analysis_pool)
    await db.close()
    return result


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tgwatch-bench-") as tmp:
        base = await scenario(Path(tmp), args, 0, deliver=False)
        full = await scenario(Path(tmp), args, args.subscribers, deliver=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = max(base["worker_rss_mb"], full["worker_rss_mb"])
    print(f"burst: {args.posts} posts from {args.channels} channels in 1 s, {args.detections} announcements, "
          f"{args.subscribers} subscribers -> {full['queued']} outbox rows")
    for key, what, target in (
            ("captured", "arrival -> post + detection + fan-out intent committed", False),
            ("recipients", "arrival -> recipients committed: every per-subscriber queue row durable", True),
            ("latencies", "arrival -> outbox rows materialised (informational)", False)):
        lat = [x * 1000 for x in full[key]]
        blat = [x * 1000 for x in base[key]]
        p50, p99 = statistics.median(lat), percentile(lat, 0.99)
        verdict = f"   [target p99 <= 50 ms: {'OK' if p99 <= 50 else 'MISSED'}]" if target else ""
        print(f"commit latency ({what}): p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lat):.1f} ms{verdict}")
        print(f"  baseline, no subscribers: p50 {statistics.median(blat):.1f} ms, p99 {percentile(blat, 0.99):.1f} ms "
              f"-> ratio p99 {p99 / max(percentile(blat, 0.99), 1e-6):.1f}x")
    n, mean, most = full["batches"]
    print(f"  burst processed in {full['burst_s']:.2f} s (baseline {base['burst_s']:.2f} s); "
          f"{n} capture transactions, {mean:.1f} posts each on average, {most} at most")
    rate = full.get("rate", 0.0)
    print(f"delivery: {full.get('sent_during_burst', 0)} sent while the burst was captured; then "
          f"{full.get('sent', 0)} sent in {args.delivery_s:.0f} s, {rate:.1f}/s against {args.rate:.1f}/s "
          f"configured (simulated round trip {args.rtt_ms:.0f} ms) = {100 * rate / args.rate:.1f}%"
          f"   [target >= 95%: {'OK' if rate >= 0.95 * args.rate else 'MISSED'}]")
    total = rss_mb + worker_mb
    print(f"memory: peak RSS {rss_mb:.0f} MB + analysis worker {worker_mb:.0f} MB = {total:.0f} MB"
          f"   [target <= 200 MB: {'OK' if total <= 200 else 'MISSED'}]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=200)
    p.add_argument("--posts", type=int, default=1000)
    p.add_argument("--detections", type=int, default=50)
    p.add_argument("--subscribers", type=int, default=2000)
    p.add_argument("--rate", type=float, default=25.0, help="configured global send rate per second")
    p.add_argument("--rtt-ms", type=float, default=80.0, help="simulated Telegram round trip per send")
    p.add_argument("--delivery-s", type=float, default=20.0, help="how long to measure delivery")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
