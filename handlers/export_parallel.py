"""CSV / JSON Lines export as posted_at windows read and formatted in worker processes.

Reading a post (~4 us in SQLite, ~4 us turning its 19 cells into Python objects) and formatting it
(~3 us) is all CPU under one GIL, so one process tops out below 100,000 rows/s. Windows of about
WINDOW_ROWS posts (storage.export_chunks) are independent, so WORKERS processes each read and
format whole windows into bytes (handed over in temporary files), and this process writes those
bytes in window order: the file is exactly what one query would give. At most 2 x WORKERS windows
are in flight, so memory stays bounded (~10 MB a window) whatever the export's size. Small exports (fewer than POOL_MIN_WINDOWS
windows) run the same window function in a thread: no worker start-up (~0.5 s).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
from collections import deque
from functools import partial
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Callable

from bot.detection.terms import text_matches_term
from bot.errors import StorageError
from bot.timeutil import iso
from handlers.export_format import csv_formatter, jsonl_formatter
from storage.db import _explain
from storage.export_chunks import connect_ro, first_start, next_end, window_sql
from storage.research import ArchiveFilters, export_columns

WINDOW_ROWS = 10_000
POOL_MIN_WINDOWS = 4
FETCH_ROWS = 2_000

_conns: dict[str, sqlite3.Connection] = {}  # per process: one read-only connection per database
_prepared: dict[tuple, tuple[str, list[Any], Callable[[list[tuple]], list[bytes]], int]] = {}


def workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def _prepare(fmt: str, versions: bool, f: ArchiveFilters, last: bool) -> tuple[str, list[Any], Callable, int]:
    key = (fmt, versions, f, last)
    if key not in _prepared:
        columns = export_columns(versions)
        sql, params = window_sql(f, versions, last=last)
        lines = csv_formatter(columns) if fmt == "csv" else jsonl_formatter(columns)
        _prepared[key] = (sql, params, lines, columns.index("text"))
    return _prepared[key]


def spool_window(folder: str, *args: Any) -> tuple[str, int, int]:
    """format_window in a worker, its bytes left in a file in `folder` for the parent to copy: ~8 MB
    a window through the result pipe cost the parent ~2 us a row (pipe reads, unpickling), a
    file ~0.7 us."""
    parts, read, written = _window_parts(*args)
    fd, name = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as out:
        out.writelines(parts)
    return name, read, written


def format_window(path: str, fmt: str, versions: bool, f: ArchiveFilters, start: str, end: str | None,
                  conn: sqlite3.Connection | None = None) -> tuple[bytes, int, int]:
    """One window's lines, each ended, as bytes; with the rows read and the rows written. Without
    `conn`, the process's own read-only connection to `path` (a worker's) is used."""
    parts, read, written = _window_parts(path, fmt, versions, f, start, end, conn)
    return b"".join(parts), read, written


def _window_parts(path: str, fmt: str, versions: bool, f: ArchiveFilters, start: str, end: str | None,
                  conn: sqlite3.Connection | None = None) -> tuple[list[bytes], int, int]:
    sql, params, lines, text_at = _prepare(fmt, versions, f, end is None)
    parts: list[bytes] = []
    read = written = 0
    try:
        if conn is None:
            conn = _conns.get(path) or _conns.setdefault(path, connect_ro(path))
        cur = conn.execute(sql, (*params, start) if end is None else (*params, start, end))
        while rows := cur.fetchmany(FETCH_ROWS):
            read += len(rows)
            if f.terms:
                rows = [r for r in rows if any(text_matches_term(r[text_at].decode("utf-8"), t) for t in f.terms)]
            if rows:
                parts += lines.pieces(rows)  # each line ended; texts not copied until written or joined
                written += len(rows)
    except sqlite3.Error as e:
        raise StorageError(_explain(e, path)) from e
    return parts, read, written


def _take(name: str) -> bytes:
    """A worker's window file's bytes; the file is removed."""
    with open(name, "rb") as part:
        data = part.read()
    os.unlink(name)
    return data


def _windows(path: str, f: ArchiveFilters):
    """(start, end) windows covering the filters' posted_at range, planned as they are needed."""
    until = iso(f.until) if f.until is not None else None
    start: str | None = first_start(f)
    conn = connect_ro(path)
    try:
        while start is not None:
            end = next_end(conn, start, until, WINDOW_ROWS)
            yield start, end if end is not None else until
            start = end
    except sqlite3.Error as e:
        raise StorageError(_explain(e, path)) from e
    finally:
        conn.close()


async def export_windows(path: str, fmt: str, f: ArchiveFilters, *, versions: bool,
                         write: Callable[[bytes], None], progress: Callable[[int], None] | None = None) -> int:
    """Write the export's lines (no header) through `write`, in order; returns the rows written."""
    plan = _windows(path, f)
    ahead: deque[tuple[str, str | None]] = deque()
    for window in plan:
        ahead.append(window)
        if len(ahead) >= POOL_MIN_WINDOWS:
            break
    pool: Executor | None = None
    own: sqlite3.Connection | None = None  # the inline path's connection
    folder: str | None = None  # the workers' window files
    if len(ahead) >= POOL_MIN_WINDOWS and workers() > 1:
        folder = tempfile.mkdtemp(prefix="tgwatch-export-")
        pool = ProcessPoolExecutor(workers(), mp_context=get_context("spawn"))
    else:
        try:
            own = connect_ro(path)
        except sqlite3.Error as e:
            raise StorageError(_explain(e, path)) from e
    loop = asyncio.get_running_loop()
    running: deque[asyncio.Future] = deque()
    written = 0
    try:
        while ahead or running:
            while ahead and len(running) < (2 * workers() if pool is not None else 1):
                start, end = ahead.popleft()
                job = (partial(format_window, path, fmt, versions, f, start, end, own) if pool is None
                       else partial(spool_window, folder, path, fmt, versions, f, start, end))
                running.append(loop.run_in_executor(pool, job))
                nxt = next(plan, None)
                if nxt is not None:
                    ahead.append(nxt)
            data, read, rows = await running.popleft()
            if pool is not None:
                data = _take(data)
            if data:
                write(data)
            written += rows
            if progress is not None:
                progress(read)
    finally:
        if pool is not None:
            for fut in running:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)  # the files of windows not written (after an error)
        if own is not None:
            # A thread may still be reading on `own`: let it finish (its result no longer matters).
            await asyncio.gather(*running, return_exceptions=True)
            own.close()
        plan.close()
    return written
