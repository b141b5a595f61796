"""CSV / JSONL exports by posted_at windows: whatever the window size, inline or in worker processes,
the file is the single-query export (order, filters, cells); the JSONL formatter gives the row."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
from tests.research_support import BELTA, PUL, T0, make_deps, post, seed

from handlers import export_parallel
from handlers.export import export_posts
from handlers.export_format import jsonl_formatter
from handlers.posts import handle_post
from storage.research import EXPORT_COLUMNS, ArchiveFilters, export_columns, where_sql

AWKWARD = ['Строка "в кавычках", с запятой', "две\nстроки\r\nи\tтаб", "обратный \\ слэш", "контроль \x01 символ",
           "Помилованы 7 осуждённых", "plain"]


@pytest.fixture
async def deps(tmp_path):
    d = await make_deps(tmp_path)
    await seed(d)
    for i in range(30):  # ties: three channels' posts share each posted_at, stored out of order
        for ch in (PUL, BELTA, 1100000003):
            await handle_post(post(ch, 100 + i, AWKWARD[(i + ch) % len(AWKWARD)], T0 + timedelta(hours=i // 4)), d)
    yield d
    await d.db.close()


async def _expected(db, f: ArchiveFilters, versions: bool) -> list[dict]:
    view = "post_versions_view" if versions else "posts_latest"
    cond, params = where_sql(f)
    order = "posted_at, channel_id, message_id" + (", version" if versions else "")
    rows = await db.fetchall(f"SELECT {', '.join(export_columns(versions))} FROM {view} WHERE {cond} ORDER BY {order}",
                             params)
    return [dict(r) for r in rows]


def _csv_rows(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _as_csv(rows: list[dict]) -> list[dict]:
    return [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]


def _as_json(rows: list[dict]) -> list[dict]:
    return [{k: (json.loads(v) if k in ("names", "countries") else v) for k, v in r.items()} for r in rows]


FILTERS = [
    ArchiveFilters(),
    ArchiveFilters(include_deleted=True),
    ArchiveFilters(channel_ids=(PUL,), since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=6)),
    ArchiveFilters(detected_only=True, include_deleted=True),
    ArchiveFilters(labels=("none",)),
]


@pytest.mark.parametrize("window", [1, 2, 7, 10_000])
@pytest.mark.parametrize("versions", [False, True])
async def test_windows_give_the_single_query_export(deps, tmp_path, monkeypatch, window, versions):
    monkeypatch.setattr(export_parallel, "WINDOW_ROWS", window)
    monkeypatch.setattr(export_parallel, "POOL_MIN_WINDOWS", 10**9)  # inline: this test is about windows
    for i, f in enumerate(FILTERS):
        expected = await _expected(deps.db, f, versions)
        out = tmp_path / f"w{i}.csv"
        assert (await export_posts(deps.db, out, "csv", f, versions=versions)).rows == len(expected)
        assert _csv_rows(out) == _as_csv(expected), f
        out = tmp_path / f"w{i}.jsonl"
        await export_posts(deps.db, out, "jsonl", f, versions=versions)
        assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == _as_json(expected), f


async def test_watch_terms_and_progress_by_windows(deps, tmp_path, monkeypatch):
    monkeypatch.setattr(export_parallel, "WINDOW_ROWS", 3)
    seen: list[int] = []
    out = tmp_path / "terms.jsonl"
    r = await export_posts(deps.db, out, "jsonl", ArchiveFilters(terms=("помилован",)), progress=seen.append)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert r.rows == len(rows) > 0 and all("омилова" in row["text"] for row in rows)
    assert sum(seen) == len(await _expected(deps.db, ArchiveFilters(), False))  # rows read, before the terms


async def test_worker_processes_write_the_same_bytes(deps, tmp_path, monkeypatch):
    inline = tmp_path / "inline.csv"
    await export_posts(deps.db, inline, "csv", ArchiveFilters(include_deleted=True))
    monkeypatch.setattr(export_parallel, "WINDOW_ROWS", 5)
    monkeypatch.setattr(export_parallel, "POOL_MIN_WINDOWS", 2)
    monkeypatch.setattr(export_parallel, "workers", lambda: 2)
    for fmt in ("csv", "jsonl"):
        pooled = tmp_path / f"pooled.{fmt}"
        await export_posts(deps.db, pooled, fmt, ArchiveFilters(include_deleted=True))
        if fmt == "csv":
            assert pooled.read_bytes() == inline.read_bytes()
        else:
            assert len(pooled.read_text(encoding="utf-8").splitlines()) == len(_csv_rows(inline))


def test_jsonl_formatter_gives_back_the_row():
    awkward = [1, None, "plain", 'a"b', "x,y", "l\nf", "c\rr", "", 0.1 + 0.2, 1e-7, True, "тёкст", 7, "12", 3.0,
               "t\\b", "c\x02", "\u2028", "v1", 2]
    columns = EXPORT_COLUMNS + ("version",)
    at = columns.index("text")
    lists = [columns.index("names"), columns.index("countries")]
    for k in range(len(awkward)):
        row = [awkward[(i + k) % len(awkward)] for i in range(len(columns))]
        for i in lists:
            row[i] = '["Иванов И.И.", "x\\"y"]' if k % 2 else None
        text = row[at] if isinstance(row[at], str) else "текст \"с\" \\ \n\x03"
        row[at] = text.encode()
        got = json.loads(jsonl_formatter(columns)([tuple(row)])[0])
        want = dict(zip(columns, row))
        want["text"] = text
        for i in lists:
            want[columns[i]] = ["Иванов И.И.", 'x"y'] if k % 2 else []
        assert got == want and list(got) == list(columns)
