"""Benchmarks for the research tools on generated data: export, full-text search, tdesktop import.

    .venv/bin/python -m benchmarks.bench_research                 # default sizes (a few minutes)
    .venv/bin/python -m benchmarks.bench_research --n 1000000 --import-n 100000   # issue 6 sizes

Prints, with a same-run baseline ratio for each:
- export of N posts to CSV / JSONL / Parquet: rows/s and peak RSS of a fresh process, for 25%
  and 100% of the rows (RSS must not grow with rows); baseline = raw sqlite3 read of the rows;
- FTS search over N posts: p50/p99 of search_posts() latency; baseline = the bare FTS5 query;
- import of a generated Telegram Desktop export: messages/s including both parse passes,
  detection and storage; full-text indexing is deferred by the import, so the time the search
  index then takes to catch up (what `tgwatch import` runs right after) is printed too;
  baseline = parsing alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SPAN_S = 2 * 365 * 86400
STEMS = ["помилов", "освобожд", "амнист", "осужд", "заключ", "указ", "президент", "суд", "приговор", "колони",
         "экономик", "уборочн", "кампани", "министр", "област", "погод", "праздник", "выставк", "спорт", "школ"]
ENDINGS = ["", "а", "ы", "у", "ом", "ами", "ах", "ение", "ения", "ал", "али", "ен", "ены", "ный", "ного", "ной"]
SYLLABLES = ["ка", "ло", "ми", "ра", "ту", "не", "бо", "зи", "ва", "до", "ше", "пу", "ри", "сэ", "лі", "ўа"]


def vocabulary(rng: random.Random, size: int = 40000) -> list[str]:
    words = [s + e for s in STEMS for e in ENDINGS]
    while len(words) < size:
        words.append("".join(rng.choices(SYLLABLES, k=rng.randint(2, 5))))
    return words


def make_text(rng: random.Random, vocab: list[str]) -> str:
    common = vocab[: len(STEMS) * len(ENDINGS)]
    words = [rng.choice(common) if rng.random() < 0.15 else rng.choice(vocab) for _ in range(rng.randint(15, 45))]
    return " ".join(words).capitalize() + "."


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


async def _migrate(path: Path) -> None:
    from storage.db import open_database

    db = await open_database(path)
    await db.close()


def generate_archive(path: Path, n: int, seed: int = 7) -> float:
    """N posts in 20 channels (5% edited, 2% deleted, 8% detected), inserted with executemany."""
    from storage.research import index_pending_sync

    t = time.perf_counter()
    asyncio.run(_migrate(path))
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO channels(channel_id, username, title, added_at) VALUES (?, ?, ?, ?)",
                     [(1000 + c, f"chan{c}", f"Channel {c}", iso(T0)) for c in range(20)])
    step = SPAN_S / n
    for start in range(0, n, 50_000):
        posts, versions, detections = [], [], []
        for i in range(start, min(n, start + 50_000)):
            cid, mid = 1000 + i % 20, i // 20 + 1
            at = T0 + timedelta(seconds=int(i * step))
            text = make_text(rng, vocab)
            edited = rng.random() < 0.05
            deleted = iso(at + timedelta(days=1)) if rng.random() < 0.02 else None
            label = rng.choice(["pardon", "release", "amnesty"]) if rng.random() < 0.08 else "none"
            nver = 2 if edited else 1
            posts.append((cid, mid, text + (" Обновлено." if edited else ""), iso(at),
                          iso(at + timedelta(minutes=5)) if edited else None, None, None,
                          "photo" if i % 7 == 0 else None, rng.randint(100, 90000), rng.randint(0, 500), None,
                          f"https://t.me/chan{cid - 1000}/{mid}", iso(at), iso(at), deleted, nver, "live"))
            for v in range(1, nver + 1):
                vtext = text + (" Обновлено." if v == 2 else "")
                versions.append((cid, mid, v, vtext, "0" * 64, None, None, iso(at)))
                names = json.dumps(["Иванов И.И."] if label != "none" else [], ensure_ascii=False)
                detections.append((cid, mid, v, label, 0.9, 3 if label != "none" else None, names, "[]", "[]",
                                   "[]", "[]", "bench-1", iso(at)))
        conn.executemany(
            "INSERT INTO posts(channel_id, message_id, text, posted_at, edited_at, grouped_id, album_message_ids, media, "
            "views, forwards, forwarded_from, permalink, captured_at, updated_at, deleted_at, version, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", posts)
        conn.executemany("INSERT INTO post_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", versions)
        conn.executemany(
            "INSERT INTO detections(channel_id, message_id, version, label, confidence, count, names, "
            "names_normalized, countries, evidence, extra_labels, detector_version, detected_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", detections)
        conn.execute("COMMIT")
        conn.execute("BEGIN")
    index_pending_sync(conn)
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t


def _child_export(db: str, fmt: str, out: str, fraction: float) -> None:
    """Run in a fresh process so ru_maxrss is this export's own peak."""
    from handlers.export import export_posts
    from storage.db import open_database
    from storage.research import ArchiveFilters

    until = T0 + timedelta(seconds=SPAN_S * fraction) if fraction < 1 else None
    filters = ArchiveFilters(until=until, include_deleted=True)

    async def go():
        database = await open_database(db, migrate=False)
        try:
            if fmt == "baseline":
                from storage.research import export_columns, where_sql

                cond, params = where_sql(filters)
                sql = f"SELECT {', '.join(export_columns(False))} FROM posts_latest WHERE {cond} ORDER BY posted_at"
                t = time.perf_counter()
                raw = sqlite3.connect(db)
                rows = sum(1 for _ in raw.execute(sql, params))
                return rows, time.perf_counter() - t
            t = time.perf_counter()
            r = await export_posts(database, out, fmt, filters)
            return r.rows, time.perf_counter() - t
        finally:
            await database.close()

    rows, secs = asyncio.run(go())
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker's peak
    print(json.dumps({"rows": rows, "s": secs, "rss_mb": _peak_rss_mb(), "workers_rss_mb": workers_mb,
                      "cpu_s": _cpu_s()}))


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (worker processes): unlike wall time,
    hardly moved by other programs competing for the cores."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_rss_mb() -> float:
    """This process's own peak RSS. (ru_maxrss would include the parent's peak: Linux carries it
    across fork+exec.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_export(db: Path, tmp: Path) -> None:
    print("\n== export (fresh process per run; peak RSS of that process)")
    results = {}
    for fraction in (0.25, 1.0):
        for fmt in ("baseline", "csv", "jsonl", "parquet"):
            out = tmp / f"export.{fmt}"
            proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_research", "--child-export", str(db), fmt,
                                   str(out), str(fraction)], capture_output=True, text=True, check=True)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[(fmt, fraction)] = r
            size = f"{out.stat().st_size / 1e6:7.0f} MB" if out.exists() else "        -"
            ratio = r["rows"] / r["s"] / (results[("baseline", fraction)]["rows"] / results[("baseline", fraction)]["s"])
            workers = f"  worker peak RSS {r['workers_rss_mb']:6.1f} MB" if r.get("workers_rss_mb") else ""
            print(f"{fmt:<9} {int(fraction * 100):>3}% rows={r['rows']:>8}  {r['rows'] / r['s']:>9,.0f} rows/s  "
                  f"cpu {r['cpu_s'] / r['rows'] * 1e6:5.1f} us/row  peak RSS {r['rss_mb']:6.1f} MB{workers}  {size}  "
                  f"(x{ratio:.2f} of raw read)")
            out.unlink(missing_ok=True)
    for fmt in ("csv", "jsonl", "parquet"):
        small, big = results[(fmt, 0.25)], results[(fmt, 1.0)]
        line = f"{fmt:<9} RSS at 100% / RSS at 25% = {big['rss_mb'] / small['rss_mb']:.2f} (rows x4)"
        if small.get("workers_rss_mb"):
            line += f", workers {big['workers_rss_mb'] / small['workers_rss_mb']:.2f}"
        print(line)


def bench_search(db: Path, queries: int, seed: int = 11) -> None:
    from handlers.search import build_fts_query, search_posts
    from storage.db import open_database

    rng = random.Random(seed)
    vocab = vocabulary(random.Random(7))
    forms = [s + e for s in STEMS for e in ENDINGS if len(s + e) > 3]
    qs = []
    for i in range(queries):
        kind = i % 4
        if kind == 0:
            qs.append(rng.choice(forms))
        elif kind == 1:
            qs.append(f"{rng.choice(forms)} {rng.choice(forms)}")
        elif kind == 2:
            qs.append(rng.choice(vocab[len(forms):]))  # a rare word
        else:
            qs.append(f"{rng.choice(forms)} OR {rng.choice(vocab)}")

    async def go():
        database = await open_database(db, migrate=False)
        lat, hits = [], 0
        try:
            for q in qs:
                t = time.perf_counter()
                hits += len(await search_posts(database, q, limit=20))
                lat.append((time.perf_counter() - t) * 1000)
        finally:
            await database.close()
        return lat, hits

    lat, hits = asyncio.run(go())
    raw = sqlite3.connect(db)
    base = []
    for q in qs:
        t = time.perf_counter()
        raw.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ? ORDER BY rowid DESC LIMIT 20",
                    (build_fts_query(q),)).fetchall()
        base.append((time.perf_counter() - t) * 1000)
    p = lambda xs, q: statistics.quantiles(xs, n=100)[q - 1]  # noqa: E731
    print(f"\n== search over the archive: {len(qs)} queries (1-2 words, OR, rare words), limit 20, {hits} hits")
    print(f"search_posts  p50 {p(lat, 50):6.2f} ms  p99 {p(lat, 99):6.2f} ms  max {max(lat):6.2f} ms")
    print(f"bare FTS5     p50 {p(base, 50):6.2f} ms  p99 {p(base, 99):6.2f} ms  (search_posts p99 = x{p(lat, 99) / p(base, 99):.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="posts in the generated archive (issue: 1,000,000)")
    ap.add_argument("--import-n", type=int, default=20_000, help="messages in the generated export (issue: 100,000)")
    ap.add_argument("--queries", type=int, default=400, help="search queries to time")
    ap.add_argument("--db", type=Path, help="reuse (or create and keep) the generated archive at this path")
    ap.add_argument("--child-export", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_export:
        db, fmt, out, fraction = args.child_export
        return _child_export(db, fmt, out, float(fraction))
    import logging

    logging.disable(logging.INFO)
    t = time.perf_counter()
    sum(range(1_000_000))
    print(f"CPU calibration: sum(range(1e6)) = {(time.perf_counter() - t) * 1000:.0f} ms "
          "(about 15-20 ms on an idle modern core; higher means a slower or busier machine)")
    with tempfile.TemporaryDirectory(prefix="tgwatch-bench-") as d:
        tmp = Path(d)
        db = args.db or tmp / "archive.db"
        if db.exists():
            print(f"reusing {db} ({sqlite3.connect(db).execute('SELECT count(*) FROM posts').fetchone()[0]:,} posts)")
        else:
            secs = generate_archive(db, args.n)
            print(f"generated {args.n:,} posts (+versions, detections, FTS index) in {secs:.0f} s, "
                  f"{db.stat().st_size / 1e6:.0f} MB")
        bench_export(db, tmp)
        bench_search(db, args.queries)
        from benchmarks.research_import import bench_import

        bench_import(tmp, args.import_n)


if __name__ == "__main__":
    main()
