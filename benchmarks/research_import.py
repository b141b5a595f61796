"""The import part of benchmarks.bench_research: a generated Telegram Desktop export, imported.

Run through `python -m benchmarks.bench_research` (its --import-n option); kept apart for size.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import datetime
from pathlib import Path

from benchmarks.bench_research import T0, _cpu_s, make_text, vocabulary


def write_export(path: Path, n: int, seed: int = 5) -> None:
    """A Telegram Desktop result.json: rich-text arrays, albums, service messages, polls, edits."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    base = int(T0.timestamp())
    msgs, i = [], 0
    while len(msgs) < n:
        i += 1
        t = base + i * 300
        common = {"id": len(msgs) + 1, "date": datetime.fromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S"),
                  "date_unixtime": str(t)}
        r = rng.random()
        if r < 0.02:
            msgs.append({**common, "type": "service", "actor": "X", "action": "pin_message", "text": ""})
            continue
        text = make_text(rng, vocab)
        m = {**common, "type": "message", "from": "Канал", "from_id": "channel777"}
        if r < 0.12:
            m["text"] = [text[:30], {"type": "bold", "text": "помиловал"}, text[30:],
                         {"type": "text_link", "text": "указ", "href": "https://example.org/"}]
        else:
            m["text"] = text
        if r > 0.95:
            m["edited"], m["edited_unixtime"] = common["date"], str(t + 60)
        if 0.5 < r < 0.53 and len(msgs) + 3 <= n:  # an album of three photos
            for k in range(3):
                msgs.append({**m, "id": len(msgs) + 1, "photo": "(File not included. Change data exporting "
                             "settings to download.)", "text": m["text"] if k == 0 else ""})
            continue
        msgs.append(m)
    path.write_text(json.dumps({"name": "Канал", "type": "public_channel", "id": 777, "messages": msgs},
                               ensure_ascii=False, indent=1), encoding="utf-8")


def bench_import(tmp: Path, n: int) -> None:
    import ijson

    from bot.detection import load_detector
    from handlers.deps import Deps
    from handlers.import_tdesktop import import_tdesktop
    from storage.direct import open_direct_database

    path = tmp / "result.json"
    write_export(path, n)
    t = time.perf_counter()
    with open(path, "rb") as f:
        parsed = sum(1 for _ in ijson.items(f, "messages.item"))
    parse_s = time.perf_counter() - t

    async def go():
        from handlers.import_tdesktop import INDEX_POSTS
        from handlers.search import catch_up_index

        database = await open_direct_database(tmp / "import.db")
        try:
            t, cpu = time.perf_counter(), _cpu_s()
            r = await import_tdesktop(path, Deps(db=database, detector=load_detector()))
            import_s, import_cpu["s"] = time.perf_counter() - t, _cpu_s() - cpu
            pending = await database.fetchval("SELECT count(*) FROM post_search WHERE indexed = 0")
            t = time.perf_counter()
            indexed = await catch_up_index(database, step=INDEX_POSTS)  # what `tgwatch import` runs next
            return r, import_s, pending, indexed, time.perf_counter() - t
        finally:
            await database.close()

    import_cpu: dict[str, float] = {}
    r, secs, pending, indexed, index_s = asyncio.run(go())
    print(f"\n== import of a generated Telegram Desktop export ({path.stat().st_size / 1e6:.0f} MB, {n} messages)")
    print(f"import        {r.messages / secs:9,.0f} messages/s  ({r.posts} posts, {secs:.1f} s, both passes, "
          f"detection and storage; full-text indexing DEFERRED: {pending} posts left to index)")
    print(f"              cpu {import_cpu['s'] / r.messages * 1e6:.0f} us/message (this process and its detection "
          "workers; wall rate = this only when the cores are free)")
    print(f"index catch-up {index_s:8.1f} s  ({indexed} posts; search index complete "
          f"{secs + index_s:.1f} s after the start = {r.messages / (secs + index_s):,.0f} messages/s end to end)")
    print(f"parse only    {parsed / parse_s:9,.0f} messages/s  (import = x{(r.messages / secs) / (parsed / parse_s):.2f})")
