"""Benchmark: watch-term matching and the cost of many subscribers on handle_post.

    .venv/bin/python -m benchmarks.bench_bot [--subscribers 1000] [--posts 200]

Prints per-post figures and, as a same-run baseline, the old placeholder matcher
(case-folded substring) on the same inputs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.detection import load_detector
from bot.detection.terms import text_matches_term
from bot.models import Post, Subscription
from bot.timeutil import FakeClock
from handlers.deps import Deps
from handlers.posts import handle_post
from storage import subscribers
from storage.db import open_database

NAMES = ["Тихановский", "Ціханоўскі", "Колесникова", "Бабарико", "Бяляцкі", "Лосик", "Протасевич", "Знак",
         "Tsikhanouski", "Kalesnikava", "Babaryka", "Bialiatski", "Losik", "Pratasevich", "Znak", "Ivanou"]
WORDS = ("указом президента помилованы осуждённых за преступления экстремистской направленности колонии "
         "освобождены суд приговор статья заявление министерство юстиции сообщает граждане республики").split()


def _old_match(text: str, term: str) -> bool:
    t = term.strip().casefold().replace("ё", "е")
    return bool(t) and t in text.casefold().replace("ё", "е")


def make_texts(n: int, rnd: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(80, 400))]
        # About one post in five names someone (real channels mostly post other news).
        for _ in range(rnd.choice([0, 0, 0, 0, 1, 2])):
            words.insert(rnd.randrange(len(words)), rnd.choice(NAMES) + rnd.choice(["", "а", "ого", "ым", "у"]))
        out.append(" ".join(words))
    return out


def bench_matching(texts: list[str], terms: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    hits = sum(text_matches_term(t, term) for t in texts for term in terms)
    new = time.perf_counter() - start
    start = time.perf_counter()
    sum(_old_match(t, term) for t in texts for term in terms)
    old = time.perf_counter() - start
    return new, old, hits


async def bench_handle_post(n_subs: int, texts: list[str], rnd: random.Random) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        db = await open_database(Path(tmp) / "b.db")
        clock = FakeClock()
        deps = Deps(db=db, detector=load_detector(), clock=clock)
        async with db.transaction():
            for i in range(n_subs):
                sid = await subscribers.upsert(db, "telegram", str(10_000 + i), clock())
                await subscribers.save_subscription(db, Subscription(
                    sid, labels=("pardon",) if i % 2 else (), terms=tuple(rnd.sample(NAMES, 5))))
        start = time.perf_counter()
        for i, text in enumerate(texts):
            clock.advance(60)
            await handle_post(Post(1, i + 1, text, datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=i),
                                   channel_username="minjust"), deps)
        elapsed = time.perf_counter() - start
        alerts = await db.fetchval("SELECT count(*) FROM outbox")
        await db.close()
        return elapsed, alerts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--posts", type=int, default=100)
    args = ap.parse_args()
    rnd = random.Random(7)
    texts = make_texts(args.posts, rnd)
    terms = [rnd.choice(NAMES) for _ in range(args.subscribers * 5)]
    avg_kb = sum(len(t) for t in texts) / len(texts) / 1024
    new, old, hits = bench_matching(texts, terms)
    pairs = len(texts) * len(terms)
    print(f"term matching: {len(texts)} posts (avg {avg_kb:.1f} kB) x {len(terms)} terms = {pairs} checks, {hits} hits")
    print(f"  transliteration/inflection matcher: {new:.2f} s ({pairs / new:,.0f} checks/s, "
          f"{new / len(texts) * 1000:.1f} ms per post for {args.subscribers} subscribers)")
    print(f"  baseline substring matcher (same run): {old:.2f} s; ratio {new / old:.1f}x")
    elapsed, alerts = asyncio.run(bench_handle_post(args.subscribers, texts, rnd))
    print(f"handle_post with {args.subscribers} subscribers x 5 terms: {len(texts)} posts in {elapsed:.2f} s "
          f"({elapsed / len(texts) * 1000:.1f} ms per post, {alerts / len(texts):.0f} alerts queued per post)")


if __name__ == "__main__":
    main()
