"""Evidence records match what was captured; backups are consistent, verified, never clobbered."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from tests.research_support import BELTA, PARDON, PUL, make_deps, seed

from bot.errors import UserError
from handlers.backup import backup_database
from handlers.delivery import deliver_due
from handlers.evidence import post_evidence
from storage import subscribers


class Recorder:
    def __init__(self):
        self.sent = []

    async def send(self, message):
        self.sent.append(message)
        return [len(self.sent)]


@pytest.fixture
async def deps(tmp_path):
    d = await make_deps(tmp_path)
    async with d.db.transaction():
        await subscribers.upsert(d.db, "console", "secret-journalist-address", d.clock())
    await seed(d)
    yield d
    await d.db.close()


async def test_evidence_matches_what_was_captured(deps):
    await deliver_due(deps, {"console": Recorder()})
    rec = await post_evidence(deps.db, "@belta_telegramm", 2, now=deps.clock())
    assert rec["post"]["permalink"] == "https://t.me/belta_telegramm/2" and rec["post"]["current_version"] == 3
    stored = await deps.db.fetchall("SELECT * FROM post_versions WHERE message_id = 2 ORDER BY version")
    assert [v["text"] for v in rec["versions"]] == [r["text"] for r in stored]
    assert [v["captured_at"] for v in rec["versions"]] == [r["captured_at"] for r in stored]
    assert rec["versions"][0]["text"] == PARDON
    for v in rec["versions"]:
        assert v["text_sha256"] == hashlib.sha256(v["text"].encode()).hexdigest() and v["sha256_matches_text"]
    assert [(d["version"], d["label"]) for d in rec["detections"]] == [(1, "pardon"), (2, "pardon"), (3, "none")]
    notes = rec["notifications"]
    # Both edits came before the alert was delivered: the alert went out with the latest text,
    # so there was nothing to follow up (follow-ups edit alerts already sent).
    assert notes["by_kind"] == {"alert": {"sent": 1}}
    assert notes["first_sent_at"] is not None
    text = json.dumps(rec, ensure_ascii=False)
    assert "secret-journalist-address" not in text and "subscriber" not in text.replace("subscribers", "")


async def test_evidence_of_a_deleted_post(deps):
    rec = await post_evidence(deps.db, str(PUL), 12, now=deps.clock())
    assert rec["post"]["deleted_at"] == "2025-03-01T10:02:00+00:00"
    assert rec["versions"][0]["text"] == PARDON  # the text survives deletion
    # Deleted before its alert was sent: the queued alert itself carries the 'deleted' header.
    assert rec["notifications"]["by_kind"] == {"alert": {"pending": 1}}
    assert rec["notifications"]["first_sent_at"] is None


async def test_evidence_unknown_post_or_channel(deps):
    with pytest.raises(UserError, match="was not captured"):
        await post_evidence(deps.db, "belta_telegramm", 999, now=deps.clock())
    with pytest.raises(UserError, match="no channel"):
        await post_evidence(deps.db, "@nobody_here", 1, now=deps.clock())


async def test_backup_is_verified_and_complete(deps, tmp_path):
    target = tmp_path / "backup.db"
    r = await backup_database(deps.db, target)
    assert r.counts == {"posts": 5, "post_versions": 7, "detections": 7, "channels": 2}
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 1  # a full backup keeps everything
        assert conn.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'погода'").fetchone()[0] == 1
    finally:
        conn.close()
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]


async def test_backup_refuses_to_overwrite(deps, tmp_path):
    target = tmp_path / "backup.db"
    target.write_text("precious")
    with pytest.raises(UserError, match="--force"):
        await backup_database(deps.db, target)
    assert target.read_text() == "precious"
    await backup_database(deps.db, target, force=True)
    assert target.read_bytes().startswith(b"SQLite format 3")
    with pytest.raises(UserError, match="live database"):
        await backup_database(deps.db, deps.db.path, force=True)
    with pytest.raises(UserError, match="does not exist"):
        await backup_database(deps.db, tmp_path / "no" / "b.db")


async def test_backup_while_writing(deps, tmp_path):
    from tests.research_support import T0, post
    from handlers.posts import handle_post

    await handle_post(post(BELTA, 77, "ещё один пост", T0), deps)
    r = await backup_database(deps.db, tmp_path / "b.db")
    assert r.counts["posts"] == 6
