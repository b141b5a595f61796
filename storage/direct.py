"""A Database for batch jobs: SQLite calls inline on the event-loop thread, and batches of
use-case transactions committed together.

aiosqlite runs every statement on a worker thread; each call costs a thread hand-off both
ways (measured 200-370 us on a 2-core VM), and handle_post makes ~18 calls per post, which
caps a bulk import at a few hundred posts/s. A batch command that owns its event loop
(`tgwatch import`, benchmarks) has nothing to keep responsive, so it may block the loop on
SQLite directly: same Database API, same SQL, same transactions and write lock, same
handle_post, just no thread hops. Never use this inside the long-running service.

`BatchDatabase.batch()` opens one transaction that the use cases' own `transaction()` blocks
join: FTS5 pays ~150 us per commit (it writes a new index segment each time), so committing
500 imported posts at once instead of one by one is most of the speed. An error anywhere in
the batch rolls the whole batch back, so each post's effects still commit together.
"""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable

from bot.errors import StorageError
from storage.db import Database, _explain, migrated


class _Cursor:
    def __init__(self, cur: sqlite3.Cursor):
        self._c = cur
        self.lastrowid = cur.lastrowid
        self.rowcount = cur.rowcount

    async def fetchall(self) -> list[Any]:
        return self._c.fetchall()

    async def fetchone(self) -> Any:
        return self._c.fetchone()

    async def fetchmany(self, size: int) -> list[Any]:
        return self._c.fetchmany(size)

    async def close(self) -> None:
        self._c.close()


class _Call:
    """Awaitable and async context manager, like aiosqlite's execute() result."""

    def __init__(self, fn: Callable[[], _Cursor]):
        self._fn = fn
        self._cur: _Cursor | None = None

    def __await__(self):
        return self._run().__await__()

    async def _run(self) -> _Cursor:
        self._cur = self._fn()
        return self._cur

    async def __aenter__(self) -> _Cursor:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        if self._cur is not None:
            await self._cur.close()


class DirectConnection:
    """The subset of aiosqlite.Connection that storage.db.Database uses."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def execute(self, sql: str, params: Iterable[Any] | dict = ()) -> _Call:
        return _Call(lambda: _Cursor(self._conn.execute(sql, params)))

    async def execute_fetchall(self, sql: str, params: Iterable[Any] | dict = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> _Cursor:
        return _Cursor(self._conn.executemany(sql, rows))

    async def backup(self, target: sqlite3.Connection) -> None:
        self._conn.backup(target)

    async def run_sync(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return fn(self._conn)

    async def close(self) -> None:
        self._conn.close()


class BatchDatabase(Database):
    """A Database whose transaction() joins an open batch() instead of starting its own."""

    _batch_open = False

    @property
    def joins_open_batch(self) -> bool:
        return self._batch_open

    @asynccontextmanager
    async def batch(self) -> AsyncIterator["BatchDatabase"]:
        """One transaction for everything inside; nested transaction() blocks become part of it."""
        async with Database.transaction(self):
            self._batch_open = True
            try:
                yield self
            finally:
                self._batch_open = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        if self._batch_open:
            yield self
            return
        async with Database.transaction(self):
            yield self


async def open_direct_database(
    path: str | Path, *, busy_timeout_s: float = 10.0, migrate: bool = True
) -> BatchDatabase:
    """Like storage.db.open_database, with inline SQLite calls and batch() (see the module doc)."""
    p = str(path)
    try:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(p, isolation_level=None, timeout=busy_timeout_s)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MB: a big import touches the same index pages over and over
    except (sqlite3.Error, OSError) as e:
        raise StorageError(_explain(e, p)) from e
    db = BatchDatabase(DirectConnection(conn), p)  # type: ignore[arg-type]
    return await migrated(db) if migrate else db
