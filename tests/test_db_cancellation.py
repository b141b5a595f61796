"""A writer task cancelled at any await inside db.transaction() must leave the connection usable:
no lost lock, no dangling transaction, and either all of its writes or none."""

import pytest

from tests.conftest import cancel_after_steps


@pytest.mark.parametrize("cancel_after", range(0, 12))
async def test_cancelled_writer_leaves_the_database_usable(db, cancel_after):
    await db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")

    async def writer():
        async with db.transaction():
            await db.execute("INSERT INTO t VALUES (1)")
            await db.execute("INSERT INTO t VALUES (2)")

    await cancel_after_steps(writer(), cancel_after)
    # The next writer gets the lock and a clean connection.
    async with db.transaction():
        await db.execute("INSERT INTO t VALUES (3)")
    rows = sorted(r[0] for r in await db.fetchall("SELECT x FROM t"))
    assert rows in ([3], [1, 2, 3])  # all or nothing of the cancelled writer
    assert not db.in_transaction
