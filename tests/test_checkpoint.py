"""storage.checkpoint: WAL checkpoints off the writer's commits (ticks called directly, no sleeping)."""

import sqlite3

from storage.checkpoint import DEFAULT_AUTOCHECKPOINT, start_checkpointer

NEVER_S = 3600.0  # the background loop must not tick during a test; the test calls checkpoint()


async def _fill(db, rows: int) -> None:
    await db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    async with db.transaction():
        for _ in range(rows):
            await db.execute("INSERT INTO filler VALUES (randomblob(4000))")


async def test_a_tick_copies_the_whole_wal_and_the_next_write_starts_it_again(db):
    cp = await start_checkpointer(db, interval_s=NEVER_S)
    assert await db.fetchval("PRAGMA wal_autocheckpoint") == 8192  # max_wal_mb (32 MB) in pages
    await _fill(db, 900)
    first = cp.checkpoint()
    assert first.mode == "PASSIVE" and not first.busy
    assert first.wal_pages > 900  # the commit did not checkpoint
    assert first.copied_pages == first.wal_pages
    # The next write starts the WAL from the top: it stays bounded by what accrues between ticks.
    await _fill(db, 10)
    second = cp.checkpoint()
    assert second.wal_pages < 100 and second.copied_pages == second.wal_pages
    await cp.stop()
    assert await db.fetchval("PRAGMA wal_autocheckpoint") == DEFAULT_AUTOCHECKPOINT


async def test_a_wal_pinned_by_a_reader_past_the_limit_escalates_to_restart(db):
    cp = await start_checkpointer(db, interval_s=NEVER_S, max_wal_mb=0.1, busy_timeout_s=0.05)  # 25 pages
    await _fill(db, 5)
    reader = sqlite3.connect(db.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM filler").fetchone()  # pins the snapshot: nothing can be copied
        await _fill(db, 30)
        assert cp.checkpoint().mode == "PASSIVE"  # under 4 x max_wal_mb: wait for the reader to go
        for _ in range(4):
            await _fill(db, 30)
        pinned = cp.checkpoint()
        assert pinned.mode == "RESTART" and pinned.busy  # waited busy_timeout_s for the reader, in vain
    finally:
        reader.close()
    done = cp.checkpoint()
    assert done.mode == "PASSIVE" and done.copied_pages == done.wal_pages


async def test_the_writer_still_checkpoints_itself_at_max_wal_mb_if_the_ticks_fall_behind(db):
    cp = await start_checkpointer(db, interval_s=NEVER_S, max_wal_mb=0.5)  # 128 pages
    for _ in range(10):
        await _fill(db, 30)
    assert cp.checkpoint().wal_pages < 128 + 30


async def test_a_reader_pinning_a_snapshot_makes_a_tick_partial_not_blocking(db):
    cp = await start_checkpointer(db, interval_s=NEVER_S)
    await _fill(db, 50)
    reader = sqlite3.connect(db.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM filler").fetchone()
        await _fill(db, 50)
        result = cp.checkpoint()  # returns at once (PASSIVE): copies only what the reader allows
        assert result.copied_pages < result.wal_pages
        reader.execute("COMMIT")
    finally:
        reader.close()
    assert cp.checkpoint().copied_pages == cp.checkpoint().wal_pages


async def test_closing_the_database_stops_the_checkpointer(tmp_path):
    from storage.db import open_database

    db = await open_database(tmp_path / "c.db")
    cp = await start_checkpointer(db, interval_s=NEVER_S)
    await _fill(db, 20)
    await db.close()
    assert cp._task is None and cp._conn is None
    # The last connection's close checkpointed and removed the WAL: nothing was lost.
    conn = sqlite3.connect(tmp_path / "c.db")
    assert conn.execute("SELECT count(*) FROM filler").fetchone()[0] == 20
    conn.close()


async def test_a_memory_database_has_no_checkpointer():
    from storage.db import open_database

    db = await open_database(":memory:")
    assert await start_checkpointer(db) is None
    await db.close()
