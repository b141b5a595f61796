"""Migration 0810 (outbox unique key (dedupe_key, subscriber_id), partial index of queued rows):
the rebuild keeps every row, column and index; and every per-subscriber or per-post outbox query
still searches an index (EXPLAIN QUERY PLAN) instead of scanning the whole outbox."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from storage import bot_queries, outbox, subscribers
from storage.db import open_database
from storage.migrations import MIGRATIONS, applied

NOW = datetime(2025, 9, 11, 12, 0, tzinfo=timezone.utc)


async def _queue_some(db, sid: int) -> None:
    async with db.transaction():
        for i, (kind, key, status) in enumerate([("alert", "alert:1:1", "pending"), ("alert", "alert:1:2", "sent"),
                                                  ("followup", "edit:1:1:v2", "pending"),
                                                  ("alert", "alert:1:3", "digest")]):
            await outbox.enqueue(db, subscriber_id=sid, destination="telegram:1", kind=kind, dedupe_key=key,
                                 now=NOW, channel_id=1, message_id=i, status=status)


async def test_the_rebuild_keeps_rows_columns_and_indexes(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    import storage.migrations as m

    monkeypatch.setattr(m, "MIGRATIONS", [x for x in MIGRATIONS if x[0] != "0810_outbox_dedupe_key_first"])
    db = await open_database(path)
    sid = await _make_subscriber(db)
    await _queue_some(db, sid)
    before = [tuple(r) for r in await db.fetchall("SELECT * FROM outbox ORDER BY outbox_id")]
    columns = [tuple(r) for r in await db.fetchall("PRAGMA table_xinfo(outbox)")]
    await db.close()

    monkeypatch.setattr(m, "MIGRATIONS", MIGRATIONS)
    db = await open_database(path)
    try:
        assert "0810_outbox_dedupe_key_first" in await applied(db)
        assert [tuple(r) for r in await db.fetchall("SELECT * FROM outbox ORDER BY outbox_id")] == before
        assert [tuple(r) for r in await db.fetchall("PRAGMA table_xinfo(outbox)")] == columns
        indexes = {r["name"]: r for r in await db.fetchall("PRAGMA index_list(outbox)")}
        assert {"outbox_due", "outbox_post", "outbox_subscriber_open"} <= set(indexes)
        unique = [n for n, r in indexes.items() if r["unique"] and r["origin"] == "u"]
        keys = [tuple(r["name"] for r in await db.fetchall(f"PRAGMA index_info({u})")) for u in unique]
        assert sorted(keys) == [("dedupe_key", "subscriber_id"), ("random_id",)]
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        assert await db.fetchval("PRAGMA integrity_check") == "ok"
        # The foreign key still cascades, and a repeated (subscriber, dedupe_key) is still refused.
        assert not await outbox.enqueue(db, subscriber_id=sid, destination="telegram:1", kind="alert",
                                        dedupe_key="alert:1:1", now=NOW)
        async with db.transaction():
            await db.execute("DELETE FROM subscribers WHERE subscriber_id = ?", (sid,))
        assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await db.close()


async def _make_subscriber(db) -> int:
    async with db.transaction():
        return await subscribers.upsert(db, "telegram", "1", NOW)


async def test_outbox_queries_search_an_index(db):
    sid = await _make_subscriber(db)
    await _queue_some(db, sid)
    statements: list[str] = []
    await db.run_job(lambda conn: conn.set_trace_callback(statements.append))
    async with db.transaction():
        await bot_queries.hold_queue(db, sid)
        await bot_queries.release_held_to_digest(db, sid, NOW)
        await bot_queries.reschedule_digest(db, sid, NOW)
        await bot_queries.queued_for(db, sid)
        await bot_queries.supersede_followups(db, sid, 1, 1, NOW)
        await outbox.drop_pending_for(db, sid, "blocked", NOW)
        await bot_queries.drop_queue(db, sid, "stop", NOW)
        await outbox.for_post(db, 1, 1)
    await db.run_job(lambda conn: conn.set_trace_callback(None))
    queries = [s for s in statements if "outbox" in s and s.split()[0] in ("SELECT", "UPDATE")]
    queries.append(f"SELECT outbox_id FROM outbox WHERE subscriber_id = {sid} AND dedupe_key = 'alert:1:1'")
    assert len(queries) >= 9
    conn = sqlite3.connect(db.path)
    try:
        for sql in queries:
            plan = " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "SEARCH outbox USING" in plan and "SCAN outbox" not in plan, (sql, plan)
    finally:
        conn.close()
