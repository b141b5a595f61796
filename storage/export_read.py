"""Export rows read with plain sqlite3 on a worker thread: the Parquet path of handlers.export
(CSV and JSON Lines go by windows, see storage.export_chunks).

aiosqlite hands every fetch to its thread and back; here one thread with its own read-only
connection runs the whole query and queues batches of fetchmany(), so the event loop stays free.
(It overlaps the formatting less than one would hope: Python's sqlite3 drops and retakes the GIL
around every row it steps. Measured: a reader thread = reading inline; two reader threads or
worker processes per posted_at window were slower on a busy 2-core machine.) The ORDER BY asks
only for posted_at, the index order; ties are ordered by (channel_id, message_id[, version]) in
Python, ~25% cheaper than SQLite's temp B-tree for the right part of an ORDER BY. Memory stays
bounded: at most QUEUED batches wait.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from operator import itemgetter
from typing import Any, AsyncIterator, Iterator, Sequence

from bot.errors import StorageError
from storage.db import _explain
from storage.export_chunks import connect_ro
from storage.research import ArchiveFilters, export_sql

QUEUED = 3
_DONE = object()


def read_sorted(conn: sqlite3.Connection, sql: str, params: Sequence[Any], order: tuple[int, ...], posted_at: int,
                batch: int) -> Iterator[list]:
    """Batches of `sql` (ORDER BY posted_at only) with ties ordered by the `order` positions."""
    key = itemgetter(*order)
    cur = conn.execute(sql, params)
    held: list = []
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            if held:
                held.sort(key=key)
                yield held
            return
        if held:
            rows = held + rows
        # Rows sharing the last posted_at may continue in the next fetch: hold them back.
        last, i = rows[-1][posted_at], len(rows)
        while i > 0 and rows[i - 1][posted_at] == last:
            i -= 1
        held = rows[i:]
        if i:
            ready = rows[:i]
            ready.sort(key=key)  # already in posted_at order: only ties move
            yield ready


def _read(path: str, sql: str, params: Sequence[Any], order: tuple[int, ...], posted_at: int, batch: int,
          out: queue.Queue, stop: threading.Event) -> None:
    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    conn = None
    try:
        conn = connect_ro(path)
        for rows in read_sorted(conn, sql, params, order, posted_at, batch):
            put(rows)
            if stop.is_set():
                break
        put(_DONE)
    except sqlite3.Error as e:
        put(StorageError(_explain(e, path)))
    except BaseException as e:  # handed to the reading side, which raises it
        put(e)
    finally:
        if conn is not None:
            conn.close()


class _Reader:
    """One reading thread and its bounded queue."""

    def __init__(self, path: str, sql: str, params: Sequence[Any], order: tuple[int, ...], posted_at: int,
                 batch: int):
        self.out: queue.Queue = queue.Queue(maxsize=QUEUED)
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=_read, args=(path, sql, params, order, posted_at, batch, self.out, self.stop),
            name="export-reader", daemon=True,
        )
        self.thread.start()

    async def next(self) -> list | None:
        """The next batch, or None at the end; raises what the thread raised."""
        try:
            item = self.out.get_nowait()
        except queue.Empty:
            item = await asyncio.to_thread(self.out.get)
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self) -> None:
        self.stop.set()
        while self.thread.is_alive():
            try:
                self.out.get_nowait()
            except queue.Empty:
                await asyncio.to_thread(self.thread.join, 0.1)


async def export_batches(
    path: str, f: ArchiveFilters, *, versions: bool, select: Sequence[str], order: tuple[int, ...],
    posted_at: int, batch: int = 5000,
) -> AsyncIterator[list[tuple]]:
    """Tuples of the `select` expressions in (posted_at, channel_id, message_id[, version]) order.

    `order` gives the positions of those keys in `select` (posted_at first), `posted_at` its position.
    """
    sql, params = export_sql(f, versions, ", ".join(select))
    reader = _Reader(path, f"{sql} ORDER BY posted_at", params, order, posted_at, batch)
    try:
        while (rows := await reader.next()) is not None:
            yield rows
    finally:
        await reader.close()
