"""Database.write_job / run_job: one transaction in one hop on the connection's thread (what the
capture writer is built on; it uses aiosqlite's private _execute, so an aiosqlite change shows here)."""

import pytest

from bot.errors import StorageError
from tests.conftest import cancel_after_steps


async def test_a_job_commits_or_rolls_back_as_a_whole(db):
    await db.execute("CREATE TABLE t (x INTEGER)")

    def good(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]

    def bad(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        raise ValueError("bug")

    assert await db.write_job(good) == 1
    with pytest.raises(ValueError):
        await db.write_job(bad)
    assert [r[0] for r in await db.fetchall("SELECT x FROM t")] == [1]
    assert not db.in_transaction


async def test_sqlite_errors_are_translated(db):
    with pytest.raises(StorageError):
        await db.write_job(lambda conn: conn.execute("INSERT INTO no_such_table VALUES (1)"))


@pytest.mark.parametrize("cancel_after", range(0, 6))
async def test_a_cancelled_job_still_ends_its_transaction_before_the_lock_is_released(db, cancel_after):
    await db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")

    def job(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")

    await cancel_after_steps(db.write_job(job), cancel_after)
    async with db.transaction():
        await db.execute("INSERT INTO t VALUES (3)")
    assert sorted(r[0] for r in await db.fetchall("SELECT x FROM t")) in ([3], [1, 2, 3])
