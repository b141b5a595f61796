"""The database handle: the only module family that imports aiosqlite.

One connection per process, WAL, a busy timeout for other processes, and one
asyncio lock so that only one task writes at a time (two tasks sharing an
aiosqlite connection without it can roll back each other's writes).
Write only inside `async with db.transaction():`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, TypeVar

import aiosqlite

from bot.errors import StorageBusy, StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

# SQLite primary result codes (the low byte of sqlite_errorcode).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN = 5, 6, 8, 10, 11, 13, 14


def _code(e: BaseException) -> int | None:
    code = getattr(e, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _explain(e: BaseException, path: str) -> str:
    code, text = _code(e), str(e)
    if code == _READONLY or "readonly" in text or "read-only" in text:
        return f"the database {path} is read-only; check the file and folder permissions or the volume mount"
    if code == _FULL or "disk is full" in text or isinstance(e, OSError) and e.errno == 28:
        return f"the disk holding {path} is full; free space and restart (nothing was half-written)"
    if code in (_BUSY, _LOCKED) or "locked" in text or "busy" in text:
        return f"the database {path} is locked by another process for too long; is a second tgwatch running?"
    if code == _CANTOPEN or "unable to open" in text:
        return f"cannot open the database {path}; does its folder exist and is it writable?"
    if code == _CORRUPT:
        return f"the database {path} is damaged ({text}); restore it from a backup"
    return f"database error on {path}: {text}"


def _error(e: BaseException, path: str) -> StorageError:
    """Translate a sqlite3/OS error; a lock held too long becomes StorageBusy (the caller may retry)."""
    message = _explain(e, path)
    if _code(e) in (_BUSY, _LOCKED) or (_code(e) is None and ("locked" in str(e) or "busy" in str(e))):
        return StorageBusy(message)
    return StorageError(message)


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: str):
        self._conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()
        self._in_tx = False
        # Per-connection caches owned by the table modules (e.g. the capture writer, handlers.fanout's compiled filters).
        self.cache: dict[str, Any] = {}
        # Awaited by close() before the connection closes (e.g. the capture writer finishing its job).
        self._before_close: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_s: float = 10.0, readonly: bool = False) -> "Database":
        p = str(path)
        try:
            if p != ":memory:" and not readonly:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
            target = f"file:{p}?mode=ro" if readonly else p
            conn = await aiosqlite.connect(target, uri=readonly, isolation_level=None, timeout=busy_timeout_s)
        except (sqlite3.Error, OSError) as e:
            raise _error(e, p) from e
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            await conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, OSError) as e:
            # Close it: aiosqlite's thread would otherwise keep the process alive after the error.
            await conn.close()
            raise _error(e, p) from e
        return cls(conn, p)

    def before_close(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Have close() await `hook()` first (something that still has work queued on this connection)."""
        self._before_close.append(hook)

    async def close(self) -> None:
        hooks, self._before_close = self._before_close, []
        try:
            for hook in hooks:
                await hook()
        finally:
            await self._conn.close()

    @property
    def joins_open_batch(self) -> bool:
        """True when a write here joins a transaction the caller already holds (storage.direct's batch)."""
        return False

    def _on_thread(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        conn = self._conn
        if isinstance(conn, aiosqlite.Connection):
            # aiosqlite has no public "run this function on the connection thread"; _execute is what its
            # own methods use (stable 0.17-0.22; tests/test_write_job.py catches a change).
            return conn._execute(lambda: fn(conn._conn))
        return conn.run_sync(fn)  # storage.direct.DirectConnection

    async def run_job(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn(conn) with plain sqlite3 calls on the connection's thread, in ONE hop, inside the transaction
        the caller holds (no BEGIN/COMMIT here). sqlite3 errors are translated like execute()'s."""
        try:
            return await self._on_thread(fn)
        except sqlite3.Error as e:
            if isinstance(e, sqlite3.IntegrityError):
                raise
            raise _error(e, self.path) from e

    async def write_job(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn(conn) as ONE transaction in ONE hop: BEGIN IMMEDIATE, fn's plain sqlite3 calls, COMMIT (or
        ROLLBACK if fn raises), all on the connection's thread, under the write lock.

        Cancellation-safe like transaction(): a cancelled caller still waits for the job to finish
        (committed or rolled back) before the lock is released; the job's result is then lost to it.
        """
        async with self._write_lock:
            self._in_tx = True
            fut = asyncio.ensure_future(self.run_job(lambda conn: _in_transaction(conn, fn)))
            try:
                return await asyncio.shield(fut)
            except asyncio.CancelledError:
                with suppress(BaseException):
                    await fut
                raise
            finally:
                self._in_tx = False

    async def __aenter__(self) -> "Database":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _control(self, sql: str) -> None:
        """BEGIN/COMMIT/ROLLBACK that finish even if the awaiting task is cancelled meanwhile.

        aiosqlite runs the statement in its thread whatever happens to the awaiting task; if we
        stopped waiting, we would release the write lock while the connection is still inside
        (or half-way out of) a transaction, and the next writer's BEGIN would fail.
        """
        fut = asyncio.ensure_future(self._conn.execute(sql))
        try:
            cur = await asyncio.shield(fut)
        except asyncio.CancelledError:
            with suppress(BaseException):
                await fut
            raise
        await cur.close()

    async def _rollback(self) -> None:
        if not self._conn.in_transaction:
            return
        try:
            await self._control("ROLLBACK")
        except sqlite3.Error:  # the connection already rolled back (e.g. disk full)
            log.warning("rollback failed on %s", self.path)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Database"]:
        """One writer at a time; BEGIN IMMEDIATE so a busy database fails at the start, not mid-way.

        Safe under task cancellation: the lock is released only with the connection outside a
        transaction (cancelled bodies roll back; a cancelled COMMIT still completes).
        """
        async with self._write_lock:
            try:
                await self._control("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                await asyncio.shield(self._rollback())
                raise
            except sqlite3.Error as e:
                raise _error(e, self.path) from e
            self._in_tx = True
            try:
                yield self
            except BaseException:
                self._in_tx = False
                await asyncio.shield(self._rollback())
                raise
            else:
                self._in_tx = False
                try:
                    await self._control("COMMIT")
                except sqlite3.Error as e:
                    await self._rollback()
                    raise _error(e, self.path) from e

    @property
    def in_transaction(self) -> bool:
        return self._in_tx

    async def execute(self, sql: str, params: Iterable[Any] | dict = ()) -> int:
        """Run one statement; returns lastrowid. Writes must be inside transaction()."""
        try:
            cur = await self._conn.execute(sql, params)
        except sqlite3.Error as e:
            if isinstance(e, sqlite3.IntegrityError):
                raise
            raise _error(e, self.path) from e
        rowid = cur.lastrowid
        changes = cur.rowcount
        await cur.close()
        self.last_changes = changes
        return rowid or 0

    async def execute_rowcount(self, sql: str, params: Iterable[Any] | dict = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        await self.execute(sql, params)
        return self.last_changes

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> int:
        """Run one statement for many rows in a single call; returns the rows changed in total."""
        try:
            cur = await self._conn.executemany(sql, rows)
        except sqlite3.Error as e:
            if isinstance(e, sqlite3.IntegrityError):
                raise
            raise _error(e, self.path) from e
        changes = cur.rowcount
        await cur.close()
        return max(changes, 0)

    async def fetchall(self, sql: str, params: Iterable[Any] | dict = ()) -> list[sqlite3.Row]:
        # One trip to the connection's thread (execute+fetch+close): most of a post's cost is trips.
        try:
            return list(await self._conn.execute_fetchall(sql, params))
        except sqlite3.Error as e:
            raise _error(e, self.path) from e

    async def fetchone(self, sql: str, params: Iterable[Any] | dict = ()) -> sqlite3.Row | None:
        """For queries of one row (or where only the first matters; the rest are read and dropped)."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Iterable[Any] | dict = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def iterate(self, sql: str, params: Iterable[Any] | dict = (), batch: int = 1000) -> AsyncIterator[sqlite3.Row]:
        """Stream rows with bounded memory."""
        try:
            async with self._conn.execute(sql, params) as cur:
                while True:
                    rows = await cur.fetchmany(batch)
                    if not rows:
                        return
                    for r in rows:
                        yield r
        except sqlite3.Error as e:
            raise _error(e, self.path) from e

    async def backup_to(self, target: str | Path) -> None:
        """A consistent online copy (SQLite backup API) while others keep writing."""
        dest = sqlite3.connect(str(target))
        try:
            await self._conn.backup(dest)
        finally:
            dest.close()


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


async def open_database(path: str | Path, *, busy_timeout_s: float = 10.0, migrate: bool = True) -> Database:
    """Open and (by default) bring the schema up to date."""
    db = await Database.open(path, busy_timeout_s=busy_timeout_s)
    return await migrated(db) if migrate else db


async def migrated(db: Database) -> Database:
    """Bring the schema up to date; on failure close the connection (a leaked one hangs exit)."""
    from storage.migrations import apply_migrations

    try:
        await apply_migrations(db)
    except BaseException:
        await db.close()
        raise
    return db
