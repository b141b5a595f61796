"""The database under stress: another process holding the write lock, a read-only location, a full disk.

Each case ends in a clear error (or a successful wait), nothing half-written, and a file that
passes `PRAGMA integrity_check`. Tests run as root in CI, where chmod stops nothing: the
read-only cases run the CLI as an unprivileged user (or on a read-only bind mount when mounts
are permitted), and the full-disk case uses a tiny tmpfs when it can, `max_page_count` always.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.errors import StorageBusy, StorageError
from handlers.deps import Deps
from handlers.posts import handle_post
from handlers.retry import retry_busy
from storage.db import open_database
from tests.conftest import make_post

PARDON = "Александр Лукашенко помиловал 14 осуждённых."
TGWATCH = str(Path(sys.executable).with_name("tgwatch"))

LOCKER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO events(kind, subject, state, at) VALUES ('locker', '', 'held', '2025-01-01T00:00:00+00:00')")
print("locked", flush=True)
sys.stdin.readline()
conn.execute(sys.argv[2])
print("released", flush=True)
"""


@contextmanager
def lock_holder(path: Path, finish: str = "COMMIT"):
    """A second OS process holding the write lock (BEGIN IMMEDIATE) until `release()` is called."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path), finish], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"

    def release() -> None:
        if proc.poll() is None:
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "released"
            proc.wait(timeout=10)

    try:
        yield release
    finally:
        release()
        proc.stdin.close()
        proc.stdout.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


async def deps_for(path: Path, detector, clock, busy_timeout_s: float) -> Deps:
    db = await open_database(path, busy_timeout_s=busy_timeout_s)
    return Deps(db=db, detector=detector, clock=clock)


async def test_write_waits_for_a_short_lock_and_nothing_is_lost(tmp_path, detector, clock):
    path = tmp_path / "t.db"
    deps = await deps_for(path, detector, clock, busy_timeout_s=30)
    try:
        with lock_holder(path) as release:
            task = asyncio.create_task(handle_post(make_post(1, PARDON), deps))
            done, _ = await asyncio.wait({task}, timeout=0.3)
            assert not done, "the write must wait for the other process's lock"
            release()
            result = await task
        assert result.outcome == "new"
        assert await deps.db.fetchval("SELECT count(*) FROM posts") == 1
        # The other process's write landed too.
        assert await deps.db.fetchval("SELECT count(*) FROM events WHERE kind = 'locker'") == 1
    finally:
        await deps.db.close()
    assert integrity(path) == "ok"


async def test_lock_held_past_the_timeout_is_a_clear_error_then_a_retry_succeeds(tmp_path, detector, clock):
    path = tmp_path / "t.db"
    deps = await deps_for(path, detector, clock, busy_timeout_s=0.1)
    try:
        with lock_holder(path, finish="ROLLBACK") as release:
            with pytest.raises(StorageBusy) as err:
                await handle_post(make_post(1, PARDON), deps)
            assert "locked by another process" in str(err.value) and "second tgwatch" in str(err.value)
            release()
        assert await deps.db.fetchval("SELECT count(*) FROM posts") == 0  # nothing half-written
        assert (await handle_post(make_post(1, PARDON), deps)).outcome == "new"
        assert await deps.db.fetchval("SELECT count(*) FROM post_versions") == 1
    finally:
        await deps.db.close()
    assert integrity(path) == "ok"


async def test_retry_busy_waits_out_a_long_lock(tmp_path, detector, clock):
    """What the replay loop does: retry with backoff; the injected sleep releases the lock."""
    path = tmp_path / "t.db"
    deps = await deps_for(path, detector, clock, busy_timeout_s=0.05)
    waits: list[float] = []
    try:
        with lock_holder(path) as release:
            async def sleep(s: float) -> None:
                waits.append(s)
                if len(waits) == 3:
                    release()

            result = await retry_busy(lambda: handle_post(make_post(1, PARDON), deps), sleep=sleep)
        assert result.outcome == "new" and waits == [0.5, 1.0, 2.0]
        # Still locked after every attempt: the last StorageBusy comes out.
        with lock_holder(path):
            with pytest.raises(StorageBusy):
                await retry_busy(lambda: handle_post(make_post(2, PARDON), deps), attempts=3, sleep=_no_sleep)
    finally:
        await deps.db.close()


async def _no_sleep(_s: float) -> None:
    return None


def replay_file(path: Path, n: int, text_size: int = 200) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1, n + 1):
            text = (f"Пост {i}. " + "Лукашенко помиловал осуждённых. " * (text_size // 30))[:text_size]
            fh.write(json.dumps({"channel": "stress_chan", "message_id": i, "date": "2025-01-01T00:00:00+00:00",
                                 "text": text}, ensure_ascii=False) + "\n")
    return path


def drop_file_capabilities() -> None:
    """preexec_fn: root without CAP_DAC_OVERRIDE/DAC_READ_SEARCH/FOWNER obeys file permissions after exec."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_cli(db_path: Path, replay: Path, *, unprivileged: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "TGWATCH_DATABASE_PATH": str(db_path), "TGWATCH_DATABASE_BUSY_TIMEOUT_S": "1",
           "HOME": str(db_path.parent)}
    env.pop("TGWATCH_CONFIG", None)
    preexec = drop_file_capabilities if unprivileged and os.geteuid() == 0 else None
    return subprocess.run([TGWATCH, "run", "--replay", str(replay), "--exit-when-done"], env=env,
                          preexec_fn=preexec, capture_output=True, text=True, timeout=timeout)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _prepare(db_path: Path, replay: Path) -> None:
    r = run_cli(db_path, replay)
    assert r.returncode == 0, r.stderr
    # A clean shutdown checkpoints; leave no -wal/-shm so the read-only case starts from one file.
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX only")
async def test_read_only_location_is_a_clear_error_and_exit_3(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db_path = data / "tgwatch.db"
    first = replay_file(tmp_path / "first.jsonl", 5)
    more = replay_file(tmp_path / "more.jsonl", 10)
    await _prepare(db_path, first)
    before = digest(db_path)
    data.chmod(0o555)
    db_path.chmod(0o444)
    # Root ignores permissions: run the CLI without the capabilities that bypass them,
    # so the chmod means something (as it does for the non-root user of the Docker image).
    if os.geteuid() == 0:
        probe = subprocess.run(["touch", str(data / "probe")], preexec_fn=drop_file_capabilities, capture_output=True)
        if probe.returncode == 0:
            pytest.skip("cannot drop the permission-bypassing capabilities here")
    r = run_cli(db_path, more, unprivileged=True)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "Error: " in r.stderr and "read-only" in r.stderr and "Traceback" not in r.stderr
    assert digest(db_path) == before
    data.chmod(0o755)
    assert integrity(db_path) == "ok"


@contextmanager
def mounted(*args: str):
    """Mount for the test's duration; skip when this environment does not allow mounts."""
    target = Path(args[-1])
    r = subprocess.run(["mount", *args], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount here ({r.stderr.strip()[:80]})")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="needs root on Linux to mount")
async def test_read_only_mount_is_a_clear_error_and_exit_3(tmp_path):
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    await _prepare(src / "tgwatch.db", replay_file(tmp_path / "first.jsonl", 5))
    before = digest(src / "tgwatch.db")
    with mounted("--bind", "-o", "ro", str(src), str(ro)):
        if os.access(ro, os.W_OK) and subprocess.run(["touch", str(ro / "probe")]).returncode == 0:
            pytest.skip("the bind mount is not read-only here")
        r = run_cli(ro / "tgwatch.db", replay_file(tmp_path / "more.jsonl", 10))
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "Error: " in r.stderr and "Traceback" not in r.stderr
    assert "read-only" in r.stderr or "cannot open" in r.stderr
    assert digest(src / "tgwatch.db") == before and integrity(src / "tgwatch.db") == "ok"


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="needs root on Linux to mount")
async def test_full_disk_is_exit_3_then_resumes_after_space_is_freed(tmp_path):
    """A real ENOSPC: a 1 MiB tmpfs filled by big posts, then grown; the rerun completes."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    # The migrations alone leave ~480 KiB of WAL (every schema change rewrites the schema pages, no
    # checkpoint in between): 512 KiB left no room for a single post once migration 1000 came.
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)):
        db_path = mnt / "tgwatch.db"
        replay = replay_file(tmp_path / "big.jsonl", 200, text_size=8000)
        r = run_cli(db_path, replay)
        assert r.returncode == 3, (r.returncode, r.stderr[-2000:])
        assert "Error: " in r.stderr and "full" in r.stderr and "Traceback" not in r.stderr
        assert integrity(db_path) == "ok"
        stored = sqlite3.connect(db_path).execute("SELECT count(*), count(DISTINCT message_id) FROM posts").fetchone()
        assert 0 < stored[0] < 200 and stored[0] == stored[1]
        subprocess.run(["mount", "-o", "remount,size=16m", str(mnt)], check=True)
        r = run_cli(db_path, replay)
        assert r.returncode == 0, r.stderr[-2000:]
        conn = sqlite3.connect(db_path)
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 200
        assert conn.execute("SELECT count(*) FROM post_versions").fetchone()[0] == 200
        conn.close()
        assert integrity(db_path) == "ok"


async def test_full_database_rolls_back_the_whole_post(tmp_path, detector, clock):
    """SQLITE_FULL via max_page_count (works anywhere): clear error, nothing half-written."""
    path = tmp_path / "t.db"
    deps = await deps_for(path, detector, clock, busy_timeout_s=1)
    try:
        await handle_post(make_post(1, PARDON), deps)
        pages = await deps.db.fetchval("PRAGMA page_count")
        await deps.db.fetchval(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(StorageError) as err:
            await handle_post(make_post(2, PARDON + " x" * 50_000), deps)
        assert not isinstance(err.value, StorageBusy)
        assert "is full" in str(err.value) and "nothing was half-written" in str(err.value)
        assert await deps.db.fetchval("SELECT count(*) FROM posts") == 1
        assert await deps.db.fetchval("SELECT count(*) FROM detections") == 1
        # Small writes still fit; the service is usable once space is back.
        await deps.db.fetchval("PRAGMA max_page_count = 1000000")
        assert (await handle_post(make_post(2, PARDON), deps)).outcome == "new"
    finally:
        await deps.db.close()
    assert integrity(path) == "ok"


def test_storage_errors_map_to_exit_code_3():
    from bot.cli import EXIT_STORAGE, _translate

    assert _translate(StorageBusy("locked")).exit_code == EXIT_STORAGE
    assert _translate(StorageError("full")).exit_code == EXIT_STORAGE


async def test_delivery_loop_survives_a_locked_database(tmp_path, detector, clock):
    """Bug found: a StorageError inside the delivery loop killed its task, silently stopping delivery
    while capture went on. Now the round is retried; the resend keeps its random_id."""
    from handlers.delivery_loop import DeliveryLoop
    from storage import subscribers
    from tests.conftest import RecordingSender

    path = tmp_path / "t.db"
    deps = await deps_for(path, detector, clock, busy_timeout_s=0.05)
    sender = RecordingSender()
    got_two = asyncio.Event()
    original = sender.send

    async def send(message):
        ids = await original(message)
        if len(sender.messages) == 2:
            got_two.set()
        return ids

    sender.send = send
    try:
        async with deps.db.transaction():
            await subscribers.upsert(deps.db, "telegram", "42", clock())
        await handle_post(make_post(1, PARDON), deps)
        loop = DeliveryLoop(deps, {"telegram": sender}, idle_s=0.2)
        with lock_holder(path) as release:
            task = asyncio.create_task(loop.run())
            while not sender.messages:  # sent, but marking it sent needs the lock
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert not task.done(), "the delivery task must not die on a locked database"
            release()
        await asyncio.wait_for(got_two.wait(), timeout=10)
        loop.stop()
        await asyncio.wait_for(task, timeout=10)
        assert sender.messages[0].random_id == sender.messages[1].random_id
        assert await deps.db.fetchval("SELECT status FROM outbox") == "sent"
    finally:
        await deps.db.close()
