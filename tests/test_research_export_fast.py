"""The fast export path: ties in posted_at ordered as SQL would, across fetch batches; the generated
CSV row formatter writes exactly what _csv_cell writes cell by cell."""

from __future__ import annotations

import csv
import sqlite3

from tests.research_support import T0, make_deps, post

from handlers import export as export_module
from handlers.export import export_posts
from handlers.export_format import _csv_cell, csv_formatter
from handlers.posts import handle_post
from storage.export_read import read_sorted
from storage.research import EXPORT_COLUMNS, ArchiveFilters


def test_ties_are_ordered_across_batches(tmp_path):
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (at TEXT, ch INTEGER, mid INTEGER)")
    rows = [(f"2025-01-0{d}", ch, mid) for d in (1, 2, 3) for ch in (3, 1, 2) for mid in (9, 4, 7)]
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    for batch in (1, 2, 4, 5, 100):
        got = [r for b in read_sorted(conn, "SELECT at, ch, mid FROM t ORDER BY at", (), (0, 1, 2), 0, batch)
               for r in b]
        assert got == sorted(rows), batch


def test_row_formatter_matches_cell_by_cell():
    awkward = [1, None, "plain", 'a"b', "x,y", "l\nf", "c\rr", "", 0.1 + 0.2, 1e-7, True, "тёкст", 7, "12", 3.0,
               None, '["Иванов И.И."]', "[]", "v1", 2]
    columns = EXPORT_COLUMNS + ("version",)
    rows = [tuple(awkward[(i + k) % len(awkward)] for i in range(len(columns))) for k in range(len(awkward))]
    # The text column comes from SQLite as UTF-8 bytes; the other columns as SQLite gives them.
    at = columns.index("text")
    rows = [r[:at] + (r[at].encode() if isinstance(r[at], str) else r[at],) + r[at + 1:] for r in rows]
    assert csv_formatter(columns)(rows) == [",".join(_csv_cell(v) for v in r).encode() for r in rows]


def test_pieces_are_the_lines_each_ended():
    from handlers.export_format import CSV_END, JSONL_END, jsonl_formatter

    typical = {"channel_id": 1001, "channel_username": "chan", "message_id": 7, "permalink": "https://t.me/chan/7",
               "posted_at": "2025-01-01T00:00:00+00:00", "captured_at": "2025-01-01T00:00:01+00:00",
               "text": "Помилованы 14 человек.".encode(), "views": 5, "label": "pardon", "confidence": 0.9,
               "count": 14, "names": '["Иванов И.И."]', "countries": "[]", "detector_version": "v1", "version": 1}
    awkward = [1, None, "plain", 'a"b', "x,y", "l\nf", "c\rr", "", 0.1 + 0.2, 1e-7, "тёкст", 3.0, "tab\there",
               "ctl\x01x", "back\\slash", "\u2028x", b'q"uote', b"nl\nx", b"c,omma", b"ctl\x02", b"tab\tx", b"b\\s"]
    for columns in (EXPORT_COLUMNS, EXPORT_COLUMNS + ("version",), ("channel_id", "label")):
        base = tuple(typical.get(c) for c in columns)
        rows = [base] + [base[:i] + (v,) + base[i + 1:] for i in range(len(columns)) for v in awkward]
        for formatter, end in ((csv_formatter, CSV_END), (jsonl_formatter, JSONL_END)):
            lines = formatter(columns)
            if formatter is jsonl_formatter:  # names/countries hold JSON array text
                rows = [r for r in rows if all(r[columns.index(c)] in ('["Иванов И.И."]', "[]", None)
                                               for c in ("names", "countries") if c in columns)]
            assert b"".join(lines.pieces(rows)) == b"".join(line + end.encode() for line in lines(rows))


async def test_export_orders_ties_like_sql(tmp_path, monkeypatch):
    deps = await make_deps(tmp_path)
    try:
        for mid in (5, 1, 3):
            for ch in (1100000003, 1100000001, 1100000002):
                await handle_post(post(ch, mid, f"Пост {ch} {mid}, с запятой", T0), deps)
        monkeypatch.setattr(export_module, "BATCH_ROWS", 2)
        out = tmp_path / "ties.csv"
        result = await export_posts(deps.db, out, "csv", ArchiveFilters())
        with open(out, encoding="utf-8-sig", newline="") as f:
            got = [(int(r["channel_id"]), int(r["message_id"])) for r in csv.DictReader(f)]
        assert result.rows == 9 and got == sorted(got)
        expected = [tuple(r) for r in await deps.db.fetchall(
            "SELECT channel_id, message_id FROM posts_latest ORDER BY posted_at, channel_id, message_id")]
        assert got == expected
    finally:
        await deps.db.close()
