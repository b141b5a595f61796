"""Importing a Telegram Desktop export: real format, idempotent, all-or-nothing on a broken file."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from tests.research_support import EXPORT_ID, make_deps, tdesktop_messages, write_tdesktop_export

from bot.errors import UserError
from handlers.import_tdesktop import import_tdesktop
from storage import channels, subscribers


@pytest.fixture
async def deps(tmp_path):
    d = await make_deps(tmp_path)
    yield d
    await d.db.close()


async def snapshot(db):
    """The archive's content (channels' last_capture_at is bookkeeping and may move)."""
    snap = {
        t: [tuple(r) for r in await db.fetchall(f"SELECT * FROM {t} ORDER BY 1, 2, 3")]
        for t in ("posts", "post_versions", "detections", "outbox", "post_search")
    }
    snap["channels"] = [tuple(r) for r in await db.fetchall(
        "SELECT channel_id, username, title, status, last_seen_message_id FROM channels ORDER BY 1")]
    return snap


async def test_imports_the_real_format(deps, tmp_path):
    path = write_tdesktop_export(tmp_path / "result.json")
    r = await import_tdesktop(path, deps)
    assert (r.channel_id, r.messages, r.posts, r.new) == (EXPORT_ID, 9, 5, 5)
    assert (r.service_skipped, r.unsupported_skipped, r.alerts_queued) == (1, 1, 0)
    rows = {r["message_id"]: r for r in await deps.db.fetchall("SELECT * FROM posts_latest")}
    assert sorted(rows) == [2, 3, 4, 7, 8]
    pardon = rows[2]
    assert pardon["text"] == "Александр Лукашенко помиловал 14 осуждённых. Указ подписан."
    assert pardon["posted_at"] == "2025-03-01T09:00:00+00:00"  # from date_unixtime, not local `date`
    assert pardon["edited_at"] == "2025-03-01T09:05:00+00:00" and pardon["label"] == "pardon"
    assert pardon["permalink"] == f"https://t.me/c/{EXPORT_ID}/2" and pardon["source"] == "import"
    album = await deps.db.fetchone("SELECT album_message_ids, media, text FROM posts WHERE message_id = 4")
    assert json.loads(album["album_message_ids"]) == [4, 5, 6]
    assert album["media"] == "photo x2, video" and album["text"] == "Освобождены #политзаключенные"
    assert rows[3]["media"] == "photo" and rows[7]["media"] == "poll: Вы за амнистию?"
    assert rows[8]["media"] == "document: указ.pdf" and rows[8]["forwarded_from"] == "БелТА"
    ch = await channels.get(deps.db, EXPORT_ID)
    assert ch.title == "Пул Первого" and ch.status == "removed"  # imported, not watched


async def test_importing_twice_changes_nothing(deps, tmp_path):
    path = write_tdesktop_export(tmp_path / "result.json")
    await import_tdesktop(path, deps)
    before = await snapshot(deps.db)
    deps.clock.advance(3600)
    again = await import_tdesktop(path, deps)
    assert (again.new, again.edited, again.unchanged) == (0, 0, 5)
    assert await snapshot(deps.db) == before


async def test_without_a_spool_the_file_is_read_again_with_the_same_result(deps, tmp_path, monkeypatch):
    path = write_tdesktop_export(tmp_path / "result.json")
    (tmp_path / "other").mkdir()
    other = await make_deps(tmp_path / "other")
    try:
        spooled = await import_tdesktop(path, other)
        expected = await snapshot(other.db)
    finally:
        await other.db.close()

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("handlers.import_spool.tempfile.TemporaryFile", no_space)
    r = await import_tdesktop(path, deps)
    assert r == spooled
    assert await snapshot(deps.db) == expected


async def test_no_alerts_unless_asked(deps, tmp_path):
    async with deps.db.transaction():
        await subscribers.upsert(deps.db, "console", "journalist", deps.clock())
    path = write_tdesktop_export(tmp_path / "result.json")
    await import_tdesktop(path, deps)
    assert await deps.db.fetchval("SELECT count(*) FROM outbox") == 0
    other = write_tdesktop_export(tmp_path / "r2.json", [{**tdesktop_messages()[1], "id": 100}])
    r = await import_tdesktop(other, deps, alert=True)
    assert r.alerts_queued == 1 and await deps.db.fetchval("SELECT count(*) FROM outbox") == 1


async def test_edit_of_a_stored_post_becomes_a_version(deps, tmp_path):
    msgs = tdesktop_messages()
    await import_tdesktop(write_tdesktop_export(tmp_path / "a.json", msgs), deps)
    msgs[1] = {**msgs[1], "text": "Исправленный текст.", "text_entities": [{"type": "plain", "text": "Исправленный текст."}]}
    r = await import_tdesktop(write_tdesktop_export(tmp_path / "b.json", msgs), deps)
    assert r.edited == 1
    assert await deps.db.fetchval("SELECT count(*) FROM post_versions WHERE message_id = 2") == 2


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
async def test_truncated_file_fails_cleanly_with_nothing_committed(deps, tmp_path, cut):
    good = write_tdesktop_export(tmp_path / "result.json").read_bytes()
    bad = tmp_path / "truncated.json"
    bad.write_bytes(good[: int(len(good) * cut)])
    before = await snapshot(deps.db)
    with pytest.raises(UserError) as e:
        await import_tdesktop(bad, deps)
    assert "malformed or truncated near line" in str(e.value) and "Nothing was imported" in str(e.value)
    assert await snapshot(deps.db) == before


async def test_bad_message_is_named(deps, tmp_path):
    msgs = tdesktop_messages()
    msgs[4] = {**msgs[4], "date_unixtime": "yesterday"}
    path = write_tdesktop_export(tmp_path / "result.json", msgs)
    with pytest.raises(UserError, match=r"message #5 .*cannot be read"):
        await import_tdesktop(path, deps)
    assert await deps.db.fetchval("SELECT count(*) FROM posts") == 0


async def test_other_exports_are_refused(deps, tmp_path):
    with pytest.raises(UserError, match="not of a channel"):
        await import_tdesktop(write_tdesktop_export(tmp_path / "a.json", chat_type="personal_chat"), deps)
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps({"about": "x", "chats": {"about": "y", "list": []}}))
    with pytest.raises(UserError, match="whole-account export"):
        await import_tdesktop(whole, deps)
    with pytest.raises(UserError, match="does not exist"):
        await import_tdesktop(tmp_path / "nope.json", deps)
    garbage = tmp_path / "g.json"
    garbage.write_text("<html>")
    with pytest.raises(UserError, match="not a Telegram Desktop JSON export"):
        await import_tdesktop(garbage, deps)


async def test_old_exports_without_unixtime_use_the_given_zone(deps, tmp_path):
    msg = {"id": 5, "type": "message", "date": "2020-06-01T15:00:00", "text": "Старый пост"}
    r = await import_tdesktop(write_tdesktop_export(tmp_path / "old.json", [msg]), deps, local_tz="Europe/Minsk")
    assert r.local_dates == 1
    posted = await deps.db.fetchval("SELECT posted_at FROM posts WHERE message_id = 5")
    assert datetime.fromisoformat(posted) == datetime(2020, 6, 1, 12, 0, tzinfo=timezone.utc)


async def test_channel_username_option(deps, tmp_path):
    await import_tdesktop(write_tdesktop_export(tmp_path / "a.json"), deps, username="@pul_pervogo")
    assert await deps.db.fetchval("SELECT permalink FROM posts WHERE message_id = 2") == "https://t.me/pul_pervogo/2"


async def test_batch_database_imports_the_same_and_rolls_back_whole_batches(tmp_path):
    from bot.detection import load_detector
    from bot.timeutil import FakeClock
    from handlers.deps import Deps
    from tests.research_support import T0
    from storage.direct import open_direct_database

    plain = await make_deps(tmp_path / "plain")
    db = await open_direct_database(tmp_path / "direct" / "t.db")
    direct = Deps(db=db, detector=load_detector(), clock=FakeClock(T0))
    try:
        path = write_tdesktop_export(tmp_path / "result.json")
        await import_tdesktop(path, plain)
        await import_tdesktop(path, direct)
        assert await snapshot(plain.db) == await snapshot(direct.db)
        with pytest.raises(RuntimeError):
            async with db.batch():
                await db.execute("DELETE FROM posts")
                async with db.transaction():  # joins the batch
                    await db.execute("DELETE FROM detections")
                raise RuntimeError("disk full")
        assert await db.fetchval("SELECT count(*) FROM posts") == 5
    finally:
        await plain.db.close()
        await db.close()


async def test_indexing_is_deferred_and_caught_up_as_live_posts_are(deps, tmp_path):
    from handlers.search import refresh_index_in_steps, search_posts

    path = write_tdesktop_export(tmp_path / "result.json")
    r = await import_tdesktop(path, deps)
    pending = await deps.db.fetchval("SELECT count(*) FROM post_search WHERE indexed = 0")
    assert pending == r.posts == 5  # stored and detected, marked for the index like live posts
    assert await refresh_index_in_steps(deps.db, step=2) == 5  # what `tgwatch import` runs next
    assert [h.message_id for h in await search_posts(deps.db, "помиловал")] == [2]
    now = tmp_path / "now"
    now.mkdir()
    other = await make_deps(now)
    try:
        await import_tdesktop(path, other, index_now=True)
        assert await other.db.fetchval("SELECT count(*) FROM post_search WHERE indexed = 0") == 0
        assert await snapshot(other.db) == await snapshot(deps.db)  # same rows, same index state
    finally:
        await other.db.close()


async def test_the_import_catch_up_indexes_as_refresh_in_steps_does(deps, tmp_path, monkeypatch):
    """catch_up_index (stems from worker processes, two steps ahead) writes the same index, byte for byte."""
    import sqlite3

    from handlers import search
    from tests.research_support import T0, post
    from handlers.posts import handle_post

    posts = [post(1100000001, i, f"Помилованы {i} человек, освобождён Иванов; ёлка {i % 3}", T0) for i in range(1, 12)]
    files = []
    for name, catch_up in (("steps", search.refresh_index_in_steps), ("pool", search.catch_up_index)):
        (tmp_path / name).mkdir()
        d = await make_deps(tmp_path / name)
        try:
            for p in posts:
                await handle_post(p, d)
            with monkeypatch.context() as m:
                m.setattr(search, "PARALLEL_INDEX_MIN", 1)
                m.setattr("handlers.detect_pool.worker_count", lambda: 2)
                assert await catch_up(d.db, step=3) == len(posts)
        finally:
            await d.db.close()
        files.append(tmp_path / name / "tgwatch.db")
    dumps = []
    for f in files:
        conn = sqlite3.connect(f)
        dumps.append([line for line in conn.iterdump() if "schema_migrations" not in line
                      and "cache_generations" not in line])
        conn.close()
    assert dumps[0] == dumps[1]
