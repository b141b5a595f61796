"""Background WAL checkpoints, so that capture commits do not pay for them.

With SQLite's automatic checkpoint (every 1,000 WAL pages), the commit that crosses the threshold
copies the WAL into the database file and syncs both, inside the writer's commit: under a burst
one capture commit took 529 ms. A running Checkpointer runs PASSIVE checkpoints every
`interval_s` from its own connection on a worker thread instead (PASSIVE never waits for, or
blocks, the writer; it copies what it can), and raises the writer's automatic threshold to
`max_wal_mb`, where it stays only as a safety net.

The WAL stays bounded: after a complete checkpoint the next write transaction starts the WAL from
the top again (`journal_size_limit` truncates the file to `max_wal_mb`). If the ticks fall behind
(a fast import), the writer checkpoints itself at `max_wal_mb` as before. If a reader in another
process pins an old snapshot (a long export), no checkpoint can finish and the WAL grows; once it
holds over ESCALATE_FACTOR x `max_wal_mb` that PASSIVE could not copy, a tick escalates to
RESTART, which holds the writer back for up to `busy_timeout_s` while it waits for the reader:
a latency spike traded for a bounded file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import suppress
from dataclasses import dataclass

from storage.db import Database, _error

log = logging.getLogger(__name__)

# A burst writes ~24 MB of WAL a second (every commit rewrites the pages it touched): at 4 MB the
# writer's own checkpoint (a sync of the database file inside a commit, 15-25 ms here) ran several
# times a second between ticks (benchmarks/bench_load.py); at 32 MB the ticks keep ahead of it.
DEFAULT_MAX_WAL_MB = 32.0
# Each tick syncs the WAL and the database file. Under a burst, a tick every 0.25 s copied 5-30 MB
# and its syncs (~5 ms a MB here) held up the writer's own small sync of the WAL header when it
# reused the file (ext4 commits one journal for both): commits of 28-48 ms. At 0.1 s the ticks
# are smaller; recipients' p99 over seven alternating pairs: 30-39 ms against 36-65 ms.
DEFAULT_INTERVAL_S = 0.1
ESCALATE_FACTOR = 4  # WAL content, in max_wal_mb, at which a tick waits for readers (RESTART)
DEFAULT_AUTOCHECKPOINT = 1000  # SQLite's default, restored when the checkpointer stops


@dataclass(frozen=True)
class CheckpointResult:
    mode: str  # PASSIVE or RESTART
    busy: bool  # the checkpoint could not finish (a reader or the writer was in the way)
    wal_pages: int  # frames in the WAL when it ran
    copied_pages: int  # of which now in the database file


class Checkpointer:
    """Runs WAL checkpoints on its own connection; `checkpoint()` is one tick (tests call it directly)."""

    def __init__(self, path: str, *, interval_s: float = DEFAULT_INTERVAL_S, max_wal_mb: float = DEFAULT_MAX_WAL_MB,
                 busy_timeout_s: float = 2.0):
        self.path = path
        self.interval_s = interval_s
        self.max_wal_bytes = int(max_wal_mb * 1024 * 1024)  # also journal_size_limit
        self.busy_timeout_s = busy_timeout_s
        self.results: list[CheckpointResult] = []  # the last few, for tests and benchmarks
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task | None = None
        self._tick: asyncio.Future | None = None
        self._db: Database | None = None
        self._page: int | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Used by one thread at a time (the ticks never overlap), not always the same one.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=self.busy_timeout_s)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._conn = conn
        return self._conn

    def checkpoint(self) -> CheckpointResult:
        """One tick: PASSIVE; RESTART if that could not finish and the WAL holds over 4 x max_wal_mb
        (something pins it). Raises StorageError."""
        conn = self._connection()
        try:
            busy, pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            mode = "PASSIVE"
            if copied < pages and pages * self._page_size(conn) > ESCALATE_FACTOR * self.max_wal_bytes:
                mode = "RESTART"
                busy, pages, copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                log.warning("WAL of %s held %d pages that PASSIVE checkpoints could not copy; "
                            "checkpointed with RESTART (finished: %s)", self.path, pages, not busy)
        except sqlite3.Error as e:
            raise _error(e, self.path) from e
        result = CheckpointResult(mode, bool(busy), pages, copied)
        self.results = self.results[-19:] + [result]
        return result

    def _page_size(self, conn: sqlite3.Connection) -> int:
        if self._page is None:
            self._page = conn.execute("PRAGMA page_size").fetchone()[0]
        return self._page

    async def start(self, db: Database) -> None:
        """Take over checkpoints of `db` (same file) until stop(); `db.close()` stops it first."""
        self._db = db
        page_size = await db.fetchval("PRAGMA page_size")
        await db.execute(f"PRAGMA journal_size_limit = {self.max_wal_bytes}")
        await db.execute(f"PRAGMA wal_autocheckpoint = {max(1, self.max_wal_bytes // page_size)}")
        self._task = asyncio.get_running_loop().create_task(self._run())
        db.before_close(self.stop)

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval_s)
            self._tick = asyncio.ensure_future(asyncio.to_thread(self.checkpoint))
            try:
                await asyncio.shield(self._tick)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a failed tick is retried by the next one
                if not failing:
                    log.error("WAL checkpoint failed (%s); retrying every %.1f s", e, self.interval_s)
                failing = True
            else:
                if failing:
                    log.warning("WAL checkpoints work again")
                failing = False

    async def stop(self) -> None:
        """Stop ticking, give the writer back its usual automatic checkpoints, close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        tick, self._tick = self._tick, None
        if tick is not None:
            with suppress(Exception):
                await tick  # a tick in its thread finishes before its connection closes
        db, self._db = self._db, None
        if db is not None:
            with suppress(Exception):
                await db.execute(f"PRAGMA wal_autocheckpoint = {DEFAULT_AUTOCHECKPOINT}")
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def start_checkpointer(db: Database, **kwargs) -> Checkpointer | None:
    """Background checkpoints for a file database (None for ":memory:")."""
    if db.path == ":memory:":
        return None
    checkpointer = Checkpointer(db.path, **kwargs)
    await checkpointer.start(db)
    return checkpointer
