"""Consistent copies of the live database: a full backup, and the public copy `browse` serves.

Both use SQLite's online backup API, so tgwatch may keep writing meanwhile; the copy is
written under a temporary name, checked with PRAGMA integrity_check, and only then moved
into place, so PATH is either the old file or a complete, verified copy.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UserError
from handlers.search import refresh_index
from storage.backup import check_copy, make_public
from storage.db import Database


@dataclass(frozen=True)
class BackupResult:
    path: str
    size_bytes: int
    counts: dict[str, int]


def _target(path: str | Path, force: bool, db: Database) -> Path:
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{target} is a folder; give a file name, e.g. {target / 'tgwatch-backup.db'}")
    if not target.parent.exists():
        raise UserError(f"the folder {target.parent} does not exist; create it first")
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to overwrite it, or choose another name")
    if os.path.abspath(target) == os.path.abspath(db.path):
        raise UserError("the backup cannot overwrite the live database; choose another file")
    return target


async def _copy_checked(db: Database, target: Path, *, public: bool) -> BackupResult:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    await refresh_index(db)  # so the copy's full-text index is complete for Datasette/sqlite-utils
    try:
        tmp.unlink(missing_ok=True)
        await db.backup_to(tmp)
        if public:
            await asyncio.to_thread(make_public, tmp)
        counts = await asyncio.to_thread(check_copy, tmp)
        os.replace(tmp, target)
    except OSError as e:
        raise UserError(f"cannot write {target}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(str(target), target.stat().st_size, counts)


async def backup_database(db: Database, path: str | Path, *, force: bool = False) -> BackupResult:
    """Copy the whole database to `path` and verify it. Refuses to overwrite without force."""
    return await _copy_checked(db, _target(path, force, db), public=False)


async def public_copy(db: Database, path: str | Path) -> BackupResult:
    """A verified copy holding only the public archive (see storage.backup.PUBLIC_TABLES)."""
    return await _copy_checked(db, _target(path, True, db), public=True)
