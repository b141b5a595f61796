"""Throughput, per-post latency and peak memory of the detector and of the naive matcher on
corpus-like posts (sampled and mutated from tests/data/corpus_dev.jsonl).

    python -m benchmarks.bench_detector [--n 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import time
import tracemalloc
from pathlib import Path

from bot.detection import load_detector
from bot.detection.naive import load_naive

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "corpus_dev.jsonl"
_FILLER = ["🔴", "#новости", "Подробнее по ссылке.", "Подпишитесь на канал!", "➖➖➖", "Фото: пресс-служба",
           "Читайте также: погода на выходные.", "\u200b", "Forwarded from Pul Pervogo\n"]


def make_posts(n: int, seed: int = 1) -> list[tuple[str, str]]:
    """n posts: corpus texts joined, cut, re-cased and padded so no two runs see identical input."""
    rng = random.Random(seed)
    base = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    posts = []
    for _ in range(n):
        a = rng.choice(base)
        text = a["text"]
        roll = rng.random()
        if roll < 0.25:
            text = text + "\n\n" + rng.choice(base)["text"]  # digest of two posts
        elif roll < 0.35:
            text = text.upper()
        elif roll < 0.45:
            text = text[: max(20, int(len(text) * rng.uniform(0.4, 1.0)))]
        if rng.random() < 0.3:
            text = rng.choice(_FILLER) + " " + text
        if rng.random() < 0.05:
            text = text + "\n" + " ".join(rng.choice(base)["text"] for _ in range(8))  # a long post
        posts.append((text, a["lang"]))
    return posts


def run(detector, posts: list[tuple[str, str]], memory_sample: int = 5000) -> dict:
    """Time every post (no tracing, it would distort timings), then trace peak memory on a sample."""
    times = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for text, lang in posts:
        s = time.perf_counter()
        detector.detect(text, lang)
        times.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    tracemalloc.start()
    for text, lang in posts[:memory_sample]:
        detector.detect(text, lang)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    return {
        "posts": len(posts),
        "seconds": round(total, 3),
        "posts_per_s": round(len(posts) / total, 1),
        "posts_per_cpu_s": round(len(posts) / cpu, 1),  # what one core does when the machine is shared
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[max(0, int(len(times) * 0.99) - 1)] * 1000, 3),
        "max_ms": round(times[-1] * 1000, 3),
        "peak_traced_mb_per_post": round(peak / 2**20, 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of posts (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the generated posts")
    args = parser.parse_args(argv)
    posts = make_posts(args.n, args.seed)
    t0 = time.perf_counter()
    detector = load_detector()
    load_s = time.perf_counter() - t0
    detector.detect("warm-up: Лукашенко помиловал 16 человек")
    ours = run(detector, posts)
    naive = run(load_naive(), posts)
    result = {
        "detector_version": detector.version,
        "rules_load_s": round(load_s, 3),
        "detector": ours,
        "naive": naive,
        # CPU-based: wall-clock ratios swing when other work shares the machine.
        "slowdown_vs_naive": round(naive["posts_per_cpu_s"] / ours["posts_per_cpu_s"], 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
