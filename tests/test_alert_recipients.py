"""The two-level outbox (migration 1000, handlers/fanout.py): a big fan-out's recipients are committed
as alert_recipients rows in its planning transaction, all of them or none; expansion turns them
into the same outbox rows as before; a crash anywhere loses and repeats nothing, and a subscriber
who stopped between planning and expansion gets nothing. Real migrated SQLite files; a "crash" is
a database closed mid-way and reopened (as in tests/test_capture_writer.py)."""

from __future__ import annotations

import pytest

import storage.capture as sc
from bot.models import Subscription
from handlers.capture import SMALL_ROWS, resume_fanouts, writer_for
from handlers.deps import Deps
from handlers.posts import handle_post, submit_post
from storage import subscribers
from storage.db import open_database
from tests.conftest import make_post
from tests.test_capture_writer import MANY, PARDON, FailingInserts, add_subscribers, count, crash_and_restart


async def recipients(db) -> list[tuple[int, str | None]]:
    return [tuple(r) for r in await db.fetchall("SELECT subscriber_id, reason FROM alert_recipients ORDER BY 1")]


async def alerted(db) -> list[int]:
    return [r[0] for r in await db.fetchall(
        "SELECT subscriber_id FROM outbox WHERE kind = 'alert' ORDER BY subscriber_id")]


@pytest.fixture
async def crashing(tmp_path, detector, clock):
    """Deps on a file the test may 'crash' (close and reopen); closed at the end whatever happens."""
    holder: list[Deps] = [Deps(db=await open_database(tmp_path / "r.db"), detector=detector, clock=clock)]
    yield holder
    await holder[0].db.close()


async def test_the_migration_adds_a_slim_table_and_the_planned_flag(db):
    sql = await db.fetchval("SELECT sql FROM sqlite_master WHERE name = 'alert_recipients'")
    assert "WITHOUT ROWID" in sql and "PRIMARY KEY (fanout_id, subscriber_id)" in sql
    assert await db.fetchval("SELECT count(*) FROM sqlite_master WHERE tbl_name = 'alert_recipients' "
                             "AND type = 'index'") == 0  # the primary key is the table: one b-tree
    columns = {r[1]: r for r in await db.fetchall("PRAGMA table_info(alert_fanouts)")}
    assert columns["planned"][3] == 1 and columns["planned"][4] == "0"  # NOT NULL DEFAULT 0


async def test_planning_commits_every_recipient_before_any_outbox_row(crashing, monkeypatch):
    deps = crashing[0]
    ids = await add_subscribers(deps, MANY)
    monkeypatch.setattr(sc, "insert_outbox", FailingInserts(1))  # every expansion chunk fails
    stage = submit_post(make_post(1, PARDON), deps)
    queued = await stage.queued
    assert queued.outcome == "new" and queued.alerts_queued == 0
    # Durable at `queued`: the intent is planned and holds all of its recipients, no outbox row yet.
    assert await recipients(deps.db) == [(sid, "label") for sid in ids]
    assert await count(deps.db, "SELECT planned FROM alert_fanouts") == 1
    assert (await stage.done).alerts_queued == 0  # the failed expansion lets its caller go
    assert await count(deps.db, "SELECT count(*) FROM outbox") == 0
    monkeypatch.undo()
    crashing[0] = deps = await crash_and_restart(deps, deps.db.path)
    assert await resume_fanouts(deps) == 0
    rows = await deps.db.fetchall("SELECT subscriber_id, random_id, payload FROM outbox ORDER BY subscriber_id")
    assert [r[0] for r in rows] == ids and len({r[1] for r in rows}) == MANY
    assert {r[2] for r in rows} == {'{"reason": "label", "version": 1}'}
    assert await recipients(deps.db) == [] and await count(deps.db, "SELECT count(*) FROM alert_fanouts") == 0


async def test_a_failed_planning_writes_no_recipient_and_is_planned_again(crashing, monkeypatch):
    deps = crashing[0]
    ids = await add_subscribers(deps, MANY)
    real = sc.add_recipients

    def half_then_crash(conn, fanout_id, targets):
        real(conn, fanout_id, targets)
        raise OSError("power cut")  # after the rows, before the commit

    monkeypatch.setattr(sc, "add_recipients", half_then_crash)
    result = await handle_post(make_post(1, PARDON), deps)
    assert result.outcome == "new" and result.alerts_queued == 0
    assert await recipients(deps.db) == []  # rolled back whole, with the planned flag
    assert await count(deps.db, "SELECT planned FROM alert_fanouts") == 0
    monkeypatch.undo()
    crashing[0] = deps = await crash_and_restart(deps, deps.db.path)
    assert await resume_fanouts(deps) == 0
    assert await alerted(deps.db) == ids
    assert await recipients(deps.db) == []


@pytest.mark.parametrize("fail_from", [2, 3])
async def test_a_crash_mid_expansion_resumes_from_the_recipient_rows(crashing, monkeypatch, fail_from):
    """The resumed fan-out is the one planned: a subscriber whose filter changed after planning still
    gets the alert the post was queued for (it is in the queue), and nobody gets it twice."""
    deps = crashing[0]
    ids = await add_subscribers(deps, MANY)
    writer_for(deps.db).chunk_rows = 40
    monkeypatch.setattr(sc, "insert_outbox", FailingInserts(fail_from))
    await handle_post(make_post(1, PARDON), deps)
    monkeypatch.undo()
    done = await alerted(deps.db)
    assert len(done) == 40 * (fail_from - 1)
    async with deps.db.transaction():  # no longer wants pardons; re-matching would drop them
        for sid in ids[-10:]:
            await subscribers.save_subscription(deps.db, Subscription(sid, labels=("release",)))
    crashing[0] = deps = await crash_and_restart(deps, deps.db.path)
    assert await resume_fanouts(deps) == 0
    assert await alerted(deps.db) == ids
    assert await count(deps.db, "SELECT count(DISTINCT random_id) FROM outbox") == MANY
    assert await recipients(deps.db) == []


async def test_a_subscriber_who_stopped_between_planning_and_expansion_gets_nothing(crashing, monkeypatch):
    deps = crashing[0]
    ids = await add_subscribers(deps, MANY)
    writer_for(deps.db).chunk_rows = 40
    monkeypatch.setattr(sc, "insert_outbox", FailingInserts(2))  # planned, the first 40 queued
    await handle_post(make_post(1, PARDON), deps)
    monkeypatch.undo()
    stopped, deleted = ids[50], ids[-1]
    async with deps.db.transaction():
        await subscribers.set_status(deps.db, stopped, "stopped", deps.clock())
        await subscribers.delete(deps.db, deleted)
    crashing[0] = deps = await crash_and_restart(deps, deps.db.path)
    assert await resume_fanouts(deps) == 0
    assert await alerted(deps.db) == [sid for sid in ids if sid not in (stopped, deleted)]
    assert await recipients(deps.db) == []


async def test_without_a_crash_a_subscriber_stopped_meanwhile_gets_nothing(deps):
    ids = await add_subscribers(deps, MANY)
    writer = writer_for(deps.db)
    writer.chunk_rows = 40
    stage = submit_post(make_post(1, PARDON), deps)
    await stage.queued  # planned; the writer's next turn expands
    async with deps.db.transaction():
        await subscribers.set_status(deps.db, ids[-1], "stopped", deps.clock())
    result = await stage.done
    assert await alerted(deps.db) == ids[:-1] and result.alerts_queued == MANY - 1


async def test_a_small_fan_out_goes_straight_to_the_outbox(deps):
    ids = await add_subscribers(deps, SMALL_ROWS)
    stage = submit_post(make_post(1, PARDON), deps)
    assert (await stage.queued).alerts_queued == SMALL_ROWS  # its outbox rows are its queue rows
    assert await alerted(deps.db) == ids
    assert await count(deps.db, "SELECT count(*) FROM alert_recipients") == 0
    assert (await stage.done).alerts_queued == SMALL_ROWS


async def test_a_deleted_post_takes_its_recipient_rows_along(crashing, monkeypatch):
    deps = crashing[0]
    await add_subscribers(deps, MANY)
    monkeypatch.setattr(sc, "insert_outbox", FailingInserts(1))
    await handle_post(make_post(1, PARDON), deps)
    monkeypatch.undo()
    assert len(await recipients(deps.db)) == MANY
    async with deps.db.transaction():  # forgotten outright (research retention): the intent cascades
        await deps.db.execute("DELETE FROM posts WHERE channel_id = 1001 AND message_id = 1")
    assert await recipients(deps.db) == []
    crashing[0] = deps = await crash_and_restart(deps, deps.db.path)
    assert await resume_fanouts(deps) == 0 and await count(deps.db, "SELECT count(*) FROM outbox") == 0
