from storage.db import Database, open_database
from storage.migrations import MIGRATIONS, apply_migrations


async def test_migrations_apply_once_and_are_idempotent(tmp_path):
    path = tmp_path / "m.db"
    db = await Database.open(path)
    try:
        first = await apply_migrations(db)
        assert first == [name for name, _ in MIGRATIONS]
        assert await apply_migrations(db) == []
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"channels", "posts", "post_versions", "detections", "subscribers", "subscriptions", "outbox"} <= tables
        assert await db.fetchval("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)
    finally:
        await db.close()
    # A second process opening the same file finds nothing to do.
    db2 = await open_database(path)
    try:
        assert await apply_migrations(db2) == []
        assert await db2.fetchval("PRAGMA journal_mode") == "wal"
        assert await db2.fetchval("PRAGMA foreign_keys") == 1
    finally:
        await db2.close()


async def test_failed_migration_leaves_no_trace(tmp_path, monkeypatch):
    import storage.migrations as m

    async def broken(db):
        await db.execute("CREATE TABLE half_done (x)")
        await db.execute("THIS IS NOT SQL")

    monkeypatch.setattr(m, "MIGRATIONS", m.MIGRATIONS + [("9999_broken", broken)])
    db = await Database.open(tmp_path / "m.db")
    try:
        try:
            await m.apply_migrations(db)
        except Exception:
            pass
        names = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master")}
        assert "half_done" not in names
        assert await db.fetchval("SELECT count(*) FROM schema_migrations WHERE name = '9999_broken'") == 0
    finally:
        await db.close()
