"""handle_posts_bulk writes exactly what handle_post writes post by post (rowids and ids included)."""

from __future__ import annotations

from datetime import timedelta

from tests.research_support import BELTA, NEWS, PARDON, PUL, RELEASE, T0, WEATHER, make_deps, post, \
    write_tdesktop_export

from bot.textsearch import stems_of
from bot.timeutil import FakeClock
from handlers import import_tdesktop as importer
from handlers.detect_pool import DetectionPool
from handlers.posts import handle_post
from handlers.posts_bulk import handle_posts_bulk
from storage.research import fold_text

TABLES = {
    "posts": "rowid, *", "post_versions": "rowid, *", "detections": "*", "post_search": "*", "channels": "*",
    "outbox": "*",
}


async def content(db) -> dict:
    snap = {t: [tuple(r) for r in await db.fetchall(f"SELECT {cols} FROM {t} ORDER BY 1")] for t, cols in TABLES.items()}
    snap["fts"] = [tuple(r) for r in await db.fetchall("SELECT rowid FROM posts_fts ORDER BY 1")]
    return snap


def rounds() -> list[list]:
    """Batches with new posts, edits, a late (stale) original, unchanged repeats with new counters,
    an album, a post twice in one batch, two channels and a channel seen first without a username."""
    day, minute = timedelta(days=1), timedelta(minutes=1)
    p2 = post(BELTA, 2, PARDON, T0 + day, views=5)
    p2_edit = post(BELTA, 2, PARDON + " Список уточняется.", T0 + day, edited_at=T0 + day + minute)
    anon = post(PUL, 9, "Без имени канала.", T0)
    anon = type(anon)(**{**anon.__dict__, "channel_username": None})
    first = [
        anon,
        post(BELTA, 1, NEWS, T0, views=100, media="photo"),
        p2,
        post(PUL, 10, RELEASE, T0 + 2 * day, forwards=7, album_message_ids=(10, 11, 12), media="photo x3"),
        p2_edit,  # the same post again in this batch: an edit of what came just before
        post(PUL, 13, "Ломаный \ud800 суррогат", T0 + 3 * day),
    ]
    second = [
        post(BELTA, 1, NEWS, T0, views=150, media="photo"),  # unchanged, counters refreshed
        p2,  # the original arriving late: stale, never a new version
        post(BELTA, 2, "Текст удалён редакцией.", T0 + day, edited_at=T0 + day + 2 * minute),
        post(PUL, 14, WEATHER, T0 + 4 * day),
        post(PUL, 10, RELEASE + " Обновлено.", T0 + 2 * day, edited_at=T0 + 3 * day),
        post(PUL, 13, "Ломаный \ud800 суррогат", T0 + 3 * day),  # unchanged once cleaned
    ]
    return [first, second, first + second]  # the last one: a re-import of everything


async def run_both(tmp_path, verdicts=None):
    one = await make_deps(tmp_path / "one", FakeClock(T0))
    bulk = await make_deps(tmp_path / "bulk", FakeClock(T0))
    outcomes = []
    try:
        for batch in rounds():
            a = [await handle_post(p, one, alert=False, source="import") for p in batch]
            b = await handle_posts_bulk(batch, bulk, source="import", verdicts=verdicts)
            outcomes.append(([r.outcome for r in a], [r.outcome for r in b]))
            assert a == b
            one.clock.advance(60)
            bulk.clock.advance(60)
        return outcomes, await content(one.db), await content(bulk.db)
    finally:
        await one.db.close()
        await bulk.db.close()


async def test_bulk_writes_exactly_what_handle_post_writes(tmp_path):
    outcomes, expected, got = await run_both(tmp_path)
    assert outcomes[0][0] == ["new", "new", "new", "new", "edited", "new"]
    assert outcomes[1][0] == ["unchanged", "unchanged", "edited", "new", "edited", "unchanged"]
    assert set(outcomes[2][0]) == {"unchanged"}
    assert got == expected
    assert len(got["detections"]) == 9 and len(got["post_versions"]) == 9


async def test_precomputed_verdicts_are_used_and_missing_ones_detected(tmp_path):
    class Refuses:
        def detect(self, text):
            raise AssertionError("the precomputed verdict should have been used")

    deps = await make_deps(tmp_path)
    try:
        verdicts = {PARDON: deps.detector.detect(PARDON)}
        bulk = type(deps)(db=deps.db, detector=Refuses(), clock=deps.clock)
        [r] = await handle_posts_bulk([post(BELTA, 2, PARDON, T0)], bulk, verdicts=verdicts)
        assert r.detection == verdicts[PARDON] and r.detection.label == "pardon"
        # A text without a precomputed verdict goes to the detector (which here refuses): the
        # post is still stored, with a 'none' marked as a detector error for redetect.
        [r3] = await handle_posts_bulk([post(BELTA, 3, NEWS, T0)], bulk, verdicts=verdicts)
        assert r3.detection.label == "none" and r3.detection.evidence[0].rule_id == "detector.error"
        assert await deps.db.fetchval("SELECT count(*) FROM posts WHERE message_id = 3") == 1
    finally:
        await deps.db.close()


async def test_the_process_pool_gives_the_same_verdicts(tmp_path):
    deps = await make_deps(tmp_path)
    try:
        texts = [PARDON, NEWS, RELEASE, WEATHER, PARDON, ""]
        with DetectionPool(deps.detector, 2) as pool:
            found = await pool.submit(texts)
        assert found == {t: (deps.detector.detect(t), stems_of(fold_text(t))) for t in texts}
    finally:
        await deps.db.close()


async def test_a_pooled_import_stores_what_a_post_by_post_one_does(tmp_path, monkeypatch):
    path = write_tdesktop_export(tmp_path / "result.json")
    one = await make_deps(tmp_path / "one", FakeClock(T0))
    pooled = await make_deps(tmp_path / "pooled", FakeClock(T0))
    try:
        async def per_post(posts, deps, *, alert=False, source="import", verdicts=None):
            return [await handle_post(p, deps, alert=alert, source=source) for p in posts]

        with monkeypatch.context() as m:
            m.setattr(importer, "handle_posts_bulk", per_post)
            await importer.import_tdesktop(path, one)
        monkeypatch.setattr(importer, "MIN_POSTS", 1)
        monkeypatch.setattr(importer, "worker_count", lambda: 2)
        monkeypatch.setattr(importer, "BATCH_POSTS", 2)  # several batches, detected one ahead
        r = await importer.import_tdesktop(path, pooled)
        assert (r.posts, r.new) == (5, 5)
        assert await content(pooled.db) == await content(one.db)
        again = await importer.import_tdesktop(path, pooled)
        assert (again.new, again.edited, again.unchanged) == (0, 0, 5)
        assert await content(pooled.db) == await content(one.db)
    finally:
        await one.db.close()
        await pooled.db.close()
