"""Liveness notices reach operators once per state change (fake clock, direct calls)."""

import json
from datetime import timedelta

from bot.errors import RetryLater
from handlers.delivery import deliver_due
from handlers.liveness import check_channels, check_destinations, check_outbox, report_session, silence_state
from tests.bot.conftest import OPERATOR, FakeChat, RecordingSender, capture, make_post


async def _notices(db) -> list[str]:
    rows = await db.fetchall("SELECT payload FROM outbox WHERE kind = 'notice' ORDER BY outbox_id")
    return [json.loads(r[0])["text"] for r in rows]


async def test_session_revoked_is_told_once_and_recovery_too(deps, db):
    assert await report_session(deps, "ok") is False  # first healthy observation: silent
    assert await report_session(deps, "revoked", "AUTH_KEY_UNREGISTERED") is True
    assert await report_session(deps, "revoked") is False
    assert await report_session(deps, "ok") is True
    texts = await _notices(db)
    assert len(texts) == 2 and "revoked" in texts[0] and "tgwatch login" in texts[0] and "works again" in texts[1]
    # Notices are delivered to the operator through the outbox.
    sender = RecordingSender()
    await deliver_due(deps, {"telegram": sender})
    assert [m.address for m in sender.sent] == [str(OPERATOR)] * 2


async def test_silent_channel(deps, db, clock):
    from dataclasses import replace

    base = clock()
    for i in range(10):  # a post every 30 minutes
        clock.now = base + timedelta(minutes=30 * i)
        await capture(deps, replace(make_post(i + 1, f"post {i}"), posted_at=clock.now))
    assert await check_channels(deps) == 0
    clock.advance(2 * 3600)  # 2 h < 6 x 30 min
    assert await check_channels(deps) == 0
    clock.advance(2 * 3600)  # 4 h > 3 h
    assert await check_channels(deps) == 1
    assert await check_channels(deps) == 0
    await capture(deps, replace(make_post(99, "back"), posted_at=clock.now))
    assert await check_channels(deps) == 1
    texts = await _notices(db)
    assert "@minjust has been silent for 4 h" in texts[0] and "every 30 min" in texts[0]
    assert "posting again" in texts[1]


def test_silence_needs_history():
    from datetime import datetime, timezone

    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert silence_state(now, [now - timedelta(days=30)], 6)[0] == "unknown"


async def test_outbox_backlog_and_oldest_pending(deps, db, clock):
    from dataclasses import replace
    from config.settings import HealthSettings

    d = replace(deps, health=HealthSettings(backlog_threshold=2, oldest_pending_s=300))
    for chat in (1, 2, 3):
        await FakeChat(d, chat).send("/start")
    await capture(d, make_post(1, "Помилованы 3 человека"))
    assert await check_outbox(d) == 1  # backlog 3 > 2
    clock.advance(600)
    assert await check_outbox(d) == 1  # now also stale
    assert await check_outbox(d) == 0
    await deliver_due(d, {"telegram": RecordingSender()})
    assert await check_outbox(d) == 2  # both back to normal


async def test_failing_destination(deps, db, clock):
    await FakeChat(deps, 5).send("/start")
    await capture(deps, make_post(1, "Помилованы 3 человека"))

    class Down:
        async def send(self, message):
            raise RetryLater("HTTP 502")

    for _ in range(3):
        await deliver_due(deps, {"telegram": Down()})
        clock.advance(3600)
    assert await check_destinations(deps) == 1
    assert await check_destinations(deps) == 0
    await deliver_due(deps, {"telegram": RecordingSender()})
    assert await check_destinations(deps) == 1
    texts = await _notices(db)
    assert "keeps failing" in texts[0] and "works again" in texts[1]
    assert "5" not in texts[0].split("#")[0]  # the chat id is not in the notice
