"""Export: every format round-trips; filters, versions and deletions select exactly what they say."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from tests.research_support import BELTA, PUL, T0, make_deps, seed

from bot.errors import UserError
from handlers.export import choose_format, export_posts
from storage.research import EXPORT_COLUMNS, ArchiveFilters


@pytest.fixture
async def deps(tmp_path):
    d = await make_deps(tmp_path)
    await seed(d)
    yield d
    await d.db.close()


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def keys(rows):
    return [(int(r["channel_id"]), int(r["message_id"])) for r in rows]


async def test_csv_round_trip_is_rfc4180_with_bom_and_iso_times(deps, tmp_path):
    out = tmp_path / "posts.csv"
    result = await export_posts(deps.db, out, "csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = read_csv(out)
    assert result.rows == len(rows) == 4  # the deleted post is left out
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert keys(rows) == [(BELTA, 1), (BELTA, 2), (PUL, 10), (PUL, 11)]  # posted_at order
    news = rows[0]
    assert news["text"].startswith("Уборочная") and '"зерна"' in news["text"] and "\n" in news["text"]
    assert news["posted_at"] == "2025-03-01T09:00:00+00:00"
    assert news["views"] == "100" and news["media"] == "photo" and news["edited_at"] == ""
    assert rows[2]["label"] == "release" and json.loads(rows[2]["names"]) == []
    assert rows[1]["permalink"] == "https://t.me/belta_telegramm/2"


async def test_csv_without_bom(deps, tmp_path):
    out = tmp_path / "posts.csv"
    await export_posts(deps.db, out, "csv", bom=False)
    assert out.read_bytes().startswith(b"channel_id,")


async def test_jsonl_round_trip(deps, tmp_path):
    out = tmp_path / "posts.jsonl"
    await export_posts(deps.db, out, "jsonl")
    rows = read_jsonl(out)
    assert [list(r) for r in rows] == [list(EXPORT_COLUMNS)] * 4
    edited = rows[1]
    assert edited["text"] == "Текст удалён редакцией." and edited["edited_at"] == "2025-03-02T09:02:00+00:00"
    assert edited["views"] == 5 and edited["names"] == [] and edited["countries"] == []
    assert rows[2]["forwards"] == 7 and isinstance(rows[2]["confidence"], float)


async def test_parquet_round_trip(deps, tmp_path):
    out = tmp_path / "posts.parquet"
    await export_posts(deps.db, out, "parquet", ArchiveFilters(include_deleted=True))
    table = pq.read_table(out)
    assert table.column_names == list(EXPORT_COLUMNS)
    rows = table.to_pylist()
    assert keys(rows) == [(BELTA, 1), (BELTA, 2), (PUL, 10), (PUL, 11), (PUL, 12)]
    assert rows[0]["posted_at"] == T0 and rows[0]["text"].startswith("Уборочная")
    assert rows[4]["deleted_at"] is not None and rows[4]["label"] == "pardon"
    assert rows[2]["names"] == [] and str(table.schema.field("posted_at").type) == "timestamp[us, tz=UTC]"


async def test_versions_appear_only_when_asked(deps, tmp_path):
    out = tmp_path / "v.jsonl"
    await export_posts(deps.db, out, "jsonl", ArchiveFilters(channel_ids=(BELTA,)), versions=True)
    rows = read_jsonl(out)
    assert [(r["message_id"], r["version"]) for r in rows] == [(1, 1), (2, 1), (2, 2), (2, 3)]
    assert [r["label"] for r in rows] == ["none", "pardon", "pardon", "none"]
    assert rows[1]["text"].startswith("Александр") and rows[3]["text"] == "Текст удалён редакцией."
    assert list(rows[0])[-1] == "version"
    plain = tmp_path / "p.jsonl"
    await export_posts(deps.db, plain, "jsonl", ArchiveFilters(channel_ids=(BELTA,)))
    assert "version" not in read_jsonl(plain)[0]


async def test_deleted_posts_only_when_asked(deps, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    await export_posts(deps.db, a, "csv", ArchiveFilters(channel_ids=(PUL,)))
    await export_posts(deps.db, b, "csv", ArchiveFilters(channel_ids=(PUL,), include_deleted=True))
    assert keys(read_csv(a)) == [(PUL, 10), (PUL, 11)]
    rows = read_csv(b)
    assert keys(rows) == [(PUL, 10), (PUL, 11), (PUL, 12)] and rows[2]["deleted_at"] == "2025-03-01T10:02:00+00:00"


@pytest.mark.parametrize(
    "filters, expected",
    [
        (ArchiveFilters(channel_ids=(PUL,)), [(PUL, 10), (PUL, 11)]),
        (ArchiveFilters(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3)), [(BELTA, 2), (PUL, 10)]),
        (ArchiveFilters(labels=("release",)), [(PUL, 10)]),
        (ArchiveFilters(labels=("pardon",), include_deleted=True), [(PUL, 12)]),
        (ArchiveFilters(detected_only=True), [(PUL, 10)]),
        (ArchiveFilters(terms=("ёлки",)), [(PUL, 11)]),
        (ArchiveFilters(terms=("зерна", "дожди")), [(BELTA, 1), (PUL, 11)]),
        (ArchiveFilters(channel_ids=(BELTA,), labels=("release",)), []),
    ],
)
async def test_filters_select_exactly(deps, tmp_path, filters, expected):
    out = tmp_path / "f.jsonl"
    result = await export_posts(deps.db, out, "jsonl", filters)
    assert keys(read_jsonl(out)) == expected and result.rows == len(expected)


async def test_label_filter_with_versions_looks_at_each_version(deps, tmp_path):
    out = tmp_path / "v.csv"
    await export_posts(deps.db, out, "csv", ArchiveFilters(labels=("pardon",), channel_ids=(BELTA,)), versions=True)
    assert [r["version"] for r in read_csv(out)] == ["1", "2"]


async def test_stdout_and_progress(deps):
    buf, seen = io.StringIO(), []
    await export_posts(deps.db, "-", "csv", stdout=buf, progress=seen.append)
    assert len(list(csv.reader(io.StringIO(buf.getvalue())))) == 5 and sum(seen) == 4


async def test_failed_export_leaves_no_file(deps, tmp_path):
    with pytest.raises(UserError, match="cannot write"):
        await export_posts(deps.db, tmp_path / "missing" / "x.csv", "csv")
    with pytest.raises(UserError, match="standard output"):
        await export_posts(deps.db, "-", "parquet")
    assert not list(tmp_path.glob("**/*.partial"))


def test_choose_format():
    assert choose_format("a.parquet", None) == "parquet" and choose_format("a.ndjson", None) == "jsonl"
    assert choose_format("-", None) == "csv" and choose_format("x.txt", "jsonl") == "jsonl"
    with pytest.raises(UserError, match="cannot tell the format"):
        choose_format("x.txt", None)
