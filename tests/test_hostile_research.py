"""Hostile research input: Telegram Desktop export files, archive filters and search queries.

Any file either imports (ImportResult) or is refused with a UserError that leaves nothing
written; any filter or query gives rows or a UserError. Never another exception.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.errors import UserError
from handlers.import_tdesktop import ImportResult, import_tdesktop
from handlers.search import search_posts
from storage.research import ArchiveFilters
from tests.research_support import EXPORT_ID, make_deps

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ANY = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                             st.text(max_size=12)),
                   lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                   max_leaves=8)
TEXT = st.one_of(st.text(max_size=40), st.lists(st.one_of(st.text(max_size=10), st.fixed_dictionaries(
    {"type": st.sampled_from(["plain", "bold", "text_link", "mention", "???"]), "text": st.one_of(st.text(max_size=10), ANY)},
    optional={"href": ANY})), max_size=4), ANY)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.integers(-5, 2**64), ANY), "type": st.sampled_from(["message", "service", "bogus"]),
        "date": st.one_of(st.sampled_from(["2025-09-11T12:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59", "x"]), ANY),
        "date_unixtime": st.one_of(st.sampled_from(["1757592000", "-1", "99999999999999", "nan"]), ANY),
        "edited": ANY, "edited_unixtime": st.one_of(st.sampled_from(["1757592060", "0"]), ANY),
        "text": TEXT, "text_entities": ANY, "photo": ANY, "media_type": ANY, "file": ANY,
        "grouped_id": ANY, "forwarded_from": ANY,
    },
)
DOCS = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(MESSAGE, max_size=6), ANY)},
    optional={"name": ANY, "type": st.sampled_from(["public_channel", "private_channel", "personal_chat", 5]),
              "id": st.one_of(st.just(EXPORT_ID), ANY), "chats": ANY},
)


async def _snapshot(db):
    return [await db.fetchval(f"SELECT count(*) FROM {t}") for t in ("posts", "post_versions", "detections")]


@FAST
@given(doc=DOCS)
@example(doc={"name": "x", "type": "public_channel", "id": EXPORT_ID, "messages": [
    {"id": 1, "type": "message", "date": "2025-09-11T12:00:00", "date_unixtime": "1757592000", "text": "a\ud800b"}]})
@example(doc={"name": "x", "type": "public_channel", "id": EXPORT_ID, "messages": [
    {"id": 2**63, "type": "message", "date": "2025-09-11T12:00:00", "text": "x"}]})
async def test_any_export_file_imports_or_is_refused_cleanly(doc, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("imp")
    deps = await make_deps(tmp)
    try:
        path = tmp / "result.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8", errors="surrogatepass")
        try:
            result = await import_tdesktop(path, deps)
        except UserError as e:
            assert str(e)
            assert await _snapshot(deps.db) == [0, 0, 0]  # all or nothing
            return
        assert isinstance(result, ImportResult)
        assert await import_tdesktop(path, deps)  # idempotent re-import does not fail
    finally:
        await deps.db.close()


async def test_truncated_and_non_json_files_are_refused(tmp_path):
    deps = await make_deps(tmp_path)
    try:
        for name, raw in [("empty.json", b""), ("cut.json", b'{"name": "x", "type": "public_channel", "id": 1, "messages": [{"id'),
                          ("bin.json", bytes(range(256))), ("bom.json", b"\xef\xbb\xbf[]")]:
            p = tmp_path / name
            p.write_bytes(raw)
            try:
                await import_tdesktop(p, deps)
            except UserError:
                continue
            raise AssertionError(f"{name} should be refused")
    finally:
        await deps.db.close()


@FAST
@given(query=st.one_of(st.text(max_size=40), st.sampled_from(['"', '""', "*", "NEAR(a b)", "a OR", "AND", "-x", "^",
                                                           "col:x", "помил*", "'; DROP TABLE posts; --", "\x00", "(("])),
       labels=st.lists(st.text(max_size=8), max_size=2), terms=st.lists(st.text(max_size=8), max_size=2),
       since=st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc))),
       limit=st.integers(-1, 2000))
@example(query="помиловал", labels=[], terms=[], since=datetime(1, 1, 1, tzinfo=timezone.utc), limit=5)
async def test_any_search_and_filters_give_rows_or_a_user_error(query, labels, terms, since, limit, tmp_path_factory):
    deps = await make_deps(tmp_path_factory.mktemp("s"))
    try:
        filters = ArchiveFilters(labels=tuple(labels), terms=tuple(terms), since=since)
        try:
            hits = await search_posts(deps, query, filters=filters, limit=limit)
        except UserError as e:
            assert str(e)
            return
        assert isinstance(hits, list)
    finally:
        await deps.db.close()
