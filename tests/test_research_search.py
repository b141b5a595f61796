"""Full-text search: inflection-tolerant, ё = е, filters, safe against FTS syntax in queries."""

from __future__ import annotations

import pytest
from tests.research_support import BELTA, PUL, T0, make_deps, post, seed

from bot.errors import UserError
from handlers.posts import handle_post
from handlers.search import build_fts_query, light_stem, search_posts
from storage.research import ArchiveFilters


@pytest.fixture
async def deps(tmp_path):
    d = await make_deps(tmp_path)
    await seed(d)
    yield d
    await d.db.close()


def ids(hits):
    return [(h.channel_id, h.message_id) for h in hits]


@pytest.mark.parametrize("query", ["помилование", "помиловал", "ПОМИЛОВАНИЯ", "помилованы"])
async def test_inflected_forms_find_each_other(deps, query):
    hits = await search_posts(deps, query, filters=ArchiveFilters(include_deleted=True))
    assert ids(hits) == [(PUL, 12)]  # belta/2 was edited to another text; search reads current text
    assert hits[0].permalink == "https://t.me/pul_pervogo/12" and hits[0].deleted_at is not None


async def test_deleted_left_out_by_default_and_db_accepted(deps):
    assert await search_posts(deps.db, "помилование") == []


@pytest.mark.parametrize("query", ["освобождение", "освобождён", "Освобожденных"])
async def test_yo_and_case_are_ignored(deps, query):
    assert ids(await search_posts(deps, query)) == [(PUL, 10)]


async def test_belarusian_forms(deps):
    await handle_post(post(BELTA, 50, "Прэзідэнт памілаваў 20 асуджаных.", T0), deps)
    assert ids(await search_posts(deps, "памілаванне")) == [(BELTA, 50)]


async def test_and_or_phrase(deps):
    assert ids(await search_posts(deps, "погода ёлки")) == [(PUL, 11)]
    assert ids(await search_posts(deps, "погода зерно")) == []
    assert ids(await search_posts(deps, "погода OR зерно")) == [(PUL, 11), (BELTA, 1)]  # newest capture first
    assert ids(await search_posts(deps, '"млн тонн"')) == [(BELTA, 1)]
    assert ids(await search_posts(deps, '"тонн млн"')) == []


async def test_filters_and_limit(deps):
    everything = ArchiveFilters(include_deleted=True)
    assert len(await search_posts(deps, "погода OR зерно OR освобождены", filters=everything, limit=2)) == 2
    assert ids(await search_posts(deps, "погода OR зерно", filters=ArchiveFilters(channel_ids=(BELTA,)))) == [(BELTA, 1)]
    assert ids(await search_posts(deps, "погода OR освобождены", filters=ArchiveFilters(labels=("release",)))) == [(PUL, 10)]
    assert ids(await search_posts(deps, "погода OR зерно", filters=ArchiveFilters(terms=("дожди",)))) == [(PUL, 11)]


async def test_edits_reindex(deps):
    assert ids(await search_posts(deps, "редакцией")) == [(BELTA, 2)]


@pytest.mark.parametrize("query", ['"', "NEAR(", "a* OR", ")(", "col:foo", "-x ^y", "'; DROP TABLE posts; --", "AND"])
async def test_fts_syntax_in_queries_never_errors(deps, query):
    try:
        await search_posts(deps, query)
    except UserError as e:
        assert "no words" in str(e)


async def test_empty_query_and_bad_limit(deps):
    with pytest.raises(UserError, match="no words"):
        await search_posts(deps, "  ?! ")
    with pytest.raises(UserError, match="limit"):
        await search_posts(deps, "погода", limit=0)


def test_query_building():
    assert build_fts_query("помилование") == '"помилов"'
    assert build_fts_query("освобождён OR амнистия") == '"освобожд" OR "амнист"'
    assert build_fts_query('"Ёлки палки" 2024') == '("елки палк" AND "2024")'
    assert build_fts_query("помил* x*") == '"помил"*'  # explicit prefix; too-short prefixes dropped
    assert build_fts_query("пресс-служба") == '("пресс" AND "служб")'
    assert light_stem("вызваліў") == light_stem("вызвалены") == "вызвал"
    forms = ["помиловал", "помилования", "помилованы", "помилование", "помиловать", "помилованных"]
    assert {light_stem(w) for w in forms} == {"помилов"}


async def test_explicit_prefix(deps):
    assert ids(await search_posts(deps, "урожа* OR уборочн*")) == [(BELTA, 1)]


async def test_index_follows_edits_and_hard_deletes(deps):
    await handle_post(post(BELTA, 60, "Первый вариант про амнистию", T0), deps)
    assert ids(await search_posts(deps, "амнистия")) == [(BELTA, 60)]  # indexed at this search
    await handle_post(post(BELTA, 60, "Второй вариант про помилование", T0), deps)
    assert ids(await search_posts(deps, "амнистия")) == []
    assert (BELTA, 60) in ids(await search_posts(deps, "вариант"))
    async with deps.db.transaction():
        await deps.db.execute("DELETE FROM posts WHERE channel_id = ? AND message_id = ?", (BELTA, 60))
    assert ids(await search_posts(deps, "вариант")) == []
    async with deps.db.transaction():
        await deps.db.execute("INSERT INTO posts_fts(posts_fts) VALUES ('integrity-check')")


async def test_periodic_index_refresh_works_in_small_steps(tmp_path):
    """The service's scheduled job indexes new posts in bounded transactions."""
    from handlers.search import refresh_index_in_steps, search_posts
    from tests.research_support import make_deps, seed

    deps = await make_deps(tmp_path)
    try:
        await seed(deps)
        assert await refresh_index_in_steps(deps, step=2) >= 5
        assert await refresh_index_in_steps(deps, step=2) == 0
        assert await search_posts(deps.db, "заключённого", limit=10)  # another form of "заключённых"
    finally:
        await deps.db.close()
