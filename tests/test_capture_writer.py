"""The capture writer (handlers/capture.py): group commit, a failing post isolated, cancellation,
and the two-stage fan-out surviving a crash between (and inside) its stages without losing or
repeating a row. Real migrated SQLite files; a "crash" is a database closed mid-way and reopened."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

import storage.capture as sc
from bot.models import Subscription
from handlers.capture import SMALL_ROWS, resume_fanouts, writer_for
from handlers.deps import Deps
from handlers.posts import handle_post, submit_post
from storage import subscribers
from storage.db import open_database
from storage.direct import open_direct_database
from tests.conftest import make_post

PARDON = "Александр Лукашенко помиловал 14 осуждённых. Указ о помиловании подписан сегодня."
EDITED = "Александр Лукашенко помиловал 15 осуждённых. Указ о помиловании подписан сегодня."
NEWS = "Уборочная кампания выходит на финишную прямую: намолочено более миллиона тонн зерна."
MANY = SMALL_ROWS + 50  # more subscribers than a fan-out queued while planning: expanded in chunks


async def add_subscribers(deps: Deps, n: int, **filters) -> list[int]:
    async with deps.db.transaction():
        ids = [await subscribers.upsert(deps.db, "telegram", str(1000 + i), deps.clock()) for i in range(n)]
        if filters:
            for sid in ids:
                await subscribers.save_subscription(deps.db, Subscription(sid, **filters))
    return ids


async def count(db, sql: str, *args) -> int:
    return await db.fetchval(sql, args)


async def test_posts_waiting_together_commit_in_one_transaction(deps):
    writer = writer_for(deps.db)
    stages = [submit_post(make_post(i, NEWS + str(i)), deps) for i in range(1, 21)]
    results = await asyncio.gather(*(s.done for s in stages))
    assert [r.outcome for r in results] == ["new"] * 20
    assert writer.batch_sizes == [20]
    assert await count(deps.db, "SELECT count(*) FROM posts") == 20
    assert await count(deps.db, "SELECT count(*) FROM detections") == 20


async def test_a_mixed_batch_stores_new_posts_in_bulk_with_their_own_detections(deps):
    """New posts go in with multi-row statements (capture_many), beside an edit and a repeat that
    take the one-by-one path: every outbox row and every post points at its own detection."""
    await add_subscribers(deps, 3)
    await handle_post(make_post(10, NEWS), deps)
    await handle_post(make_post(11, PARDON), deps)
    writer = writer_for(deps.db)
    texts = [(1, PARDON), (2, NEWS), (10, NEWS + " Обновлено."), (3, EDITED), (11, PARDON), (4, NEWS)]
    stages = [submit_post(make_post(m, t), deps) for m, t in texts]
    results = [await s.done for s in stages]
    assert writer.batch_sizes[-1] == 6
    assert [r.outcome for r in results] == ["new", "new", "edited", "new", "unchanged", "new"]
    assert [r.alerts_queued for r in results] == [3, 0, 0, 3, 0, 0]
    assert [r.detection.label if r.detection else None for r in results] == [
        "pardon", "none", "none", "pardon", None, "none"]
    pairs = await deps.db.fetchall("SELECT o.message_id, d.message_id FROM outbox o "
                                   "JOIN detections d ON d.detection_id = o.detection_id")
    assert len(pairs) == 9 and all(a == b for a, b in pairs)
    latest = await deps.db.fetchall("SELECT p.message_id, d.message_id, d.version, p.version FROM posts p "
                                    "JOIN detections d ON d.detection_id = p.latest_detection_id")
    assert len(latest) == 6 and all(a == b and v == pv for a, b, v, pv in latest)
    assert await count(deps.db, "SELECT count(*) FROM post_versions") == 7
    assert await deps.db.fetchval("PRAGMA integrity_check") == "ok"


async def test_a_batchs_channel_rows_end_as_if_posts_came_one_by_one(deps):
    from datetime import datetime, timezone

    from bot.models import Channel
    from storage import channels

    async with deps.db.transaction():  # known, no username yet, seen up to 20 on 2025-09-11 12:00
        await channels.upsert(deps.db, Channel(1001), deps.clock())
    await handle_post(make_post(20, NEWS, username=None, posted_at=datetime(2025, 9, 11, 12, 0, tzinfo=timezone.utc)), deps)
    at = [datetime(2025, 9, 11, h, 0, tzinfo=timezone.utc) for h in (13, 11, 14, 10)]
    posts = [make_post(21, NEWS, posted_at=at[0]), make_post(5, NEWS, posted_at=at[1]),  # old id, arrives late
             make_post(7, NEWS, channel_id=2002, username="other", posted_at=at[2]),
             make_post(3, NEWS, channel_id=2002, username="renamed", posted_at=at[3])]
    await asyncio.gather(*(submit_post(p, deps).done for p in posts))
    rows = await deps.db.fetchall("SELECT channel_id, username, last_seen_message_id, last_post_at FROM channels "
                                  "ORDER BY channel_id")
    assert [tuple(r) for r in rows] == [(1001, "pul_pervogo", 21, "2025-09-11T13:00:00+00:00"),
                                        (2002, "other", 7, "2025-09-11T14:00:00+00:00")]
    assert await count(deps.db, "SELECT count(*) FROM channels WHERE last_capture_at IS NULL") == 0


async def test_a_failing_post_is_undone_alone_and_its_caller_gets_the_error(deps):
    await add_subscribers(deps, 3)
    bad = replace(make_post(2, PARDON), text=None)  # bad data: posts.text is NOT NULL
    stages = [submit_post(make_post(1, PARDON), deps), submit_post(bad, deps), submit_post(make_post(3, PARDON), deps)]
    outcomes = await asyncio.gather(*(s.done for s in stages), return_exceptions=True)
    assert outcomes[0].outcome == "new" and outcomes[2].outcome == "new"
    assert isinstance(outcomes[1], Exception)
    assert writer_for(deps.db).batch_sizes == [3]  # one transaction, the bad post rolled back alone
    assert [r[0] for r in await deps.db.fetchall("SELECT message_id FROM posts ORDER BY 1")] == [1, 3]
    assert await count(deps.db, "SELECT count(*) FROM outbox WHERE message_id = 2") == 0
    assert await count(deps.db, "SELECT count(*) FROM outbox") == 6
    # The same bad post again fails again, and nothing else is disturbed.
    with pytest.raises(Exception):
        await handle_post(bad, deps)
    assert await count(deps.db, "SELECT count(*) FROM posts") == 2


async def test_a_caller_cancelled_before_its_batch_starts_stores_nothing(deps):
    stage = submit_post(make_post(1, PARDON), deps)
    stage.done.cancel()
    await writer_for(deps.db).drain()
    assert await count(deps.db, "SELECT count(*) FROM posts") == 0


@pytest.mark.parametrize("cancel_after", range(0, 16))
async def test_writer_cancelled_anywhere_leaves_all_or_nothing_and_a_usable_database(deps, cancel_after):
    await add_subscribers(deps, 2)
    writer = writer_for(deps.db)
    stage = submit_post(make_post(1, PARDON), deps)
    for _ in range(cancel_after):
        await asyncio.sleep(0)
    if writer._task is not None:
        writer._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer._task
    stored = await count(deps.db, "SELECT count(*) FROM posts")
    assert stored in (0, 1)
    assert await count(deps.db, "SELECT count(*) FROM detections") == stored
    assert not deps.db.in_transaction
    # The next post goes through, and the first one, sent again, ends up stored once with its alerts.
    assert (await handle_post(make_post(2, NEWS), deps)).outcome == "new"
    await handle_post(make_post(1, PARDON), deps)
    await writer.drain()
    assert await count(deps.db, "SELECT count(*) FROM outbox WHERE message_id = 1") == 2
    assert stage.captured.done() and stage.done.done()


async def test_a_cancelled_caller_after_capture_still_gets_its_alerts_queued(deps):
    await add_subscribers(deps, MANY)
    writer = writer_for(deps.db)
    writer.chunk_rows = 40
    stage = submit_post(make_post(1, PARDON), deps)
    assert (await stage.captured).outcome == "new"
    stage.done.cancel()
    await writer.drain()
    assert await count(deps.db, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == MANY
    assert await count(deps.db, "SELECT count(*) FROM alert_fanouts") == 0


async def test_capture_commits_the_intent_and_done_means_every_row(deps, wakes):
    await add_subscribers(deps, MANY)
    writer = writer_for(deps.db)
    writer.chunk_rows = 40
    stage = submit_post(make_post(1, PARDON), deps)
    first = await stage.captured
    assert first.alerts_queued == 0
    assert await count(deps.db, "SELECT count(*) FROM alert_fanouts") == 1  # durable before any row
    result = await stage.done
    assert result.alerts_queued == MANY and wakes
    assert await count(deps.db, "SELECT count(DISTINCT subscriber_id) FROM outbox") == MANY
    assert await count(deps.db, "SELECT count(DISTINCT random_id) FROM outbox") == MANY
    assert await count(deps.db, "SELECT count(*) FROM alert_fanouts") == 0
    # Idempotent: the same post again queues nothing and records no intent.
    again = await handle_post(make_post(1, PARDON), deps)
    assert again.outcome == "unchanged" and again.alerts_queued == 0
    assert await count(deps.db, "SELECT count(*) FROM outbox") == MANY


class FailingInserts:
    """storage.capture.insert_outbox failing from its `fail_from`-th call on: a crash mid-fan-out."""

    def __init__(self, fail_from: int):
        self.calls, self.fail_from, self.real = 0, fail_from, sc.insert_outbox

    def __call__(self, conn, rows):
        self.calls += 1
        if self.calls >= self.fail_from:
            raise OSError("power cut")
        return self.real(conn, rows)


async def crash_and_restart(deps: Deps, path) -> Deps:
    await deps.db.close()  # unfinished intents stay; nothing else survives
    return replace(deps, db=await open_database(path))


@pytest.mark.parametrize("fail_from", [1, 2, 3])
async def test_a_crash_inside_the_fan_out_loses_and_repeats_nothing(tmp_path, detector, clock, monkeypatch,
                                                                     fail_from):
    path = tmp_path / "crash.db"
    deps = Deps(db=await open_database(path), detector=detector, clock=clock)
    ids = await add_subscribers(deps, MANY)
    writer_for(deps.db).chunk_rows = 40
    monkeypatch.setattr(sc, "insert_outbox", FailingInserts(fail_from))
    result = await handle_post(make_post(1, PARDON), deps)  # the post is safe; its caller is not kept waiting
    assert result.outcome == "new" and result.alerts_queued < MANY
    monkeypatch.undo()
    deps = await crash_and_restart(deps, path)
    try:
        assert await resume_fanouts(deps) == 0
        rows = await deps.db.fetchall("SELECT subscriber_id, random_id FROM outbox ORDER BY subscriber_id")
        assert [r[0] for r in rows] == ids  # every subscriber exactly once
        assert len({r[1] for r in rows}) == MANY
        assert await count(deps.db, "SELECT count(*) FROM alert_fanouts") == 0
        assert await count(deps.db, "SELECT count(*) FROM posts") == 1
    finally:
        await deps.db.close()


async def test_a_crash_between_the_stages_of_an_edit_sends_each_follow_up_once(tmp_path, detector, clock,
                                                                                monkeypatch):
    """Follow-ups supersede older pending ones: redoing a committed chunk would replace a follow-up
    by itself (and lose it); committed progress makes the resume skip it."""
    path = tmp_path / "edit.db"
    deps = Deps(db=await open_database(path), detector=detector, clock=clock)
    await add_subscribers(deps, MANY)
    await handle_post(make_post(1, PARDON), deps)
    async with deps.db.transaction():
        await deps.db.execute("UPDATE outbox SET status = 'sent'")
    writer_for(deps.db).chunk_rows = 40
    monkeypatch.setattr(sc, "insert_outbox", FailingInserts(40 + 1))  # dies after the first 40 follow-ups
    await handle_post(make_post(1, EDITED, edited_at=clock()), deps)
    monkeypatch.undo()
    assert await count(deps.db, "SELECT count(*) FROM outbox WHERE kind = 'followup'") == 40
    deps = await crash_and_restart(deps, path)
    try:
        await resume_fanouts(deps)
        rows = await deps.db.fetchall(
            "SELECT subscriber_id, status, dedupe_key FROM outbox WHERE kind = 'followup' ORDER BY subscriber_id")
        assert len(rows) == MANY and len({r[0] for r in rows}) == MANY
        assert {(r[1], r[2]) for r in rows} == {("pending", "edit:1001:1:v2")}
        assert await count(deps.db, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == MANY
    finally:
        await deps.db.close()


async def test_small_fan_outs_and_news_are_settled_while_planning(deps):
    await add_subscribers(deps, 3)
    async with deps.db.transaction():
        sid = await subscribers.upsert(deps.db, "telegram", "terms", deps.clock())
        await subscribers.save_subscription(deps.db, Subscription(sid, terms=("зерна",)))
    results = await asyncio.gather(handle_post(make_post(1, PARDON), deps), handle_post(make_post(2, NEWS), deps))
    assert [r.alerts_queued for r in results] == [4, 1]  # the term subscriber gets both
    assert await count(deps.db, "SELECT count(*) FROM alert_fanouts") == 0


async def test_changed_filters_are_seen_by_the_next_post(deps):
    [sid] = await add_subscribers(deps, 1, labels=("release",))
    assert (await handle_post(make_post(1, PARDON), deps)).alerts_queued == 0
    async with deps.db.transaction():
        await subscribers.save_subscription(deps.db, Subscription(sid, labels=("pardon",)))
    assert (await handle_post(make_post(2, PARDON), deps)).alerts_queued == 1


@pytest.mark.parametrize("n", [3, MANY])  # a small fan-out (queued by capture itself) and a big one
async def test_inside_an_import_batch_everything_joins_the_batch(tmp_path, detector, clock, n):
    db = await open_direct_database(tmp_path / "batch.db")
    deps = Deps(db=db, detector=detector, clock=clock)
    try:
        await add_subscribers(deps, n)
        async with db.batch():
            result = await handle_post(make_post(1, PARDON), deps)
            assert result.alerts_queued == n
        assert await count(db, "SELECT count(*) FROM alert_fanouts") == 0
        assert await count(db, "SELECT count(*) FROM alert_recipients") == 0
        assert await count(db, "SELECT count(*) FROM outbox") == n
    finally:
        await db.close()


@pytest.mark.parametrize("with_edit", [False, True])  # all new (multi-row path), or beside an edit (one by one)
async def test_live_posts_captured_together_move_the_cursor_in_arrival_order(deps, with_edit):
    from bot.models import Channel
    from storage import channel_sync, channels

    async with deps.db.transaction():
        await channels.upsert(deps.db, Channel(1001, username="pul_pervogo"), deps.clock())
        await channel_sync.set_cursor(deps.db, 1001, 9, deps.clock(), history=False)
    await handle_post(make_post(10, NEWS), deps, follow=(10, 10))
    live = [(11, (11, 11)), (13, (13, 13)), (12, (12, 12)), (14, (14, 14))]  # 13 overtakes 12
    stages = [submit_post(make_post(m, NEWS), deps, follow=f) for m, f in live]
    if with_edit:
        stages.append(submit_post(make_post(10, EDITED), deps, follow=(10, 10)))
    results = [await s.done for s in stages]
    assert [r.cursor_moved for r in results[:4]] == [True, False, True, False]
    assert (await channel_sync.get(deps.db, 1001)).history_cursor_id == 12  # 13 comes back with history
    assert [r.outcome for r in results] == ["new"] * 4 + (["edited"] if with_edit else [])


async def test_a_live_post_moves_the_history_cursor_with_its_capture_or_not_at_all(deps, monkeypatch):
    from bot.models import Channel
    from storage import channel_sync, channels

    async with deps.db.transaction():
        await channels.upsert(deps.db, Channel(1001, username="pul_pervogo"), deps.clock())
        await channel_sync.set_cursor(deps.db, 1001, 9, deps.clock(), history=False)

    async def cursor() -> int:
        return (await channel_sync.get(deps.db, 1001)).history_cursor_id

    assert (await handle_post(make_post(10, NEWS), deps, follow=(10, 10))).cursor_moved is True
    assert (await handle_post(make_post(10, NEWS), deps, follow=(10, 10))).cursor_moved is False  # replayed
    assert (await handle_post(make_post(12, NEWS), deps, follow=(12, 12))).cursor_moved is False  # 11 missing
    assert await cursor() == 10
    assert (await handle_post(make_post(11, NEWS), deps)).cursor_moved is None  # history pass: no follow

    def broken(*args):
        raise ValueError("bug")

    monkeypatch.setattr(sc, "insert_post", broken)
    with pytest.raises(ValueError):
        await handle_post(make_post(13, NEWS), deps, follow=(11, 13))
    assert await cursor() == 10  # the cursor's UPDATE was undone with the failed post
