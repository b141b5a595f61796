"""Digest delivery with a fake clock: no sleeping, the use case is called directly."""

from datetime import datetime, timezone

from bot.models import Detection, Subscription
from handlers.delivery import deliver_due
from handlers.digest import next_digest_at, plan_delivery, run_digests
from storage import outbox
from tests.bot.conftest import FakeChat, RecordingSender, capture, make_post

UTC = timezone.utc


def test_next_digest_at_in_subscriber_zone():
    now = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)  # 11:00 in Minsk (UTC+3)
    assert next_digest_at(now, 9, "Europe/Minsk") == datetime(2025, 3, 11, 6, 0, tzinfo=UTC)
    assert next_digest_at(now, 12, "Europe/Minsk") == datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    assert next_digest_at(now, 8, "UTC") == datetime(2025, 3, 11, 8, 0, tzinfo=UTC)  # strictly after
    # Across the spring DST change in Vilnius (30 March 2025: UTC+2 -> UTC+3).
    assert next_digest_at(datetime(2025, 3, 29, 12, 0, tzinfo=UTC), 9, "Europe/Vilnius") == \
        datetime(2025, 3, 30, 6, 0, tzinfo=UTC)
    assert next_digest_at(now, 9, "Not/AZone") == datetime(2025, 3, 10, 9, 0, tzinfo=UTC)  # falls back to UTC


def test_plan_delivery_modes():
    now = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    pardon, amnesty = Detection("pardon", 0.8), Detection("amnesty", 0.8)
    assert plan_delivery("active", Subscription(1), pardon, now) == ("pending", None)
    assert plan_delivery("paused", Subscription(1), pardon, now) == ("held", None)
    assert plan_delivery("active", Subscription(1, mode="mixed"), pardon, now) == ("pending", None)
    assert plan_delivery("active", Subscription(1, mode="mixed"), amnesty, now)[0] == "digest"
    assert plan_delivery("active", Subscription(1, mode="digest"), pardon, now)[0] == "digest"


async def test_digest_groups_alerts_into_one_message_at_the_chosen_hour(deps, clock):
    j = FakeChat(deps, 11)
    await j.send("/start")
    assert "09:00 (Europe/Minsk)" in await j.say("/digest 9 Europe/Minsk")
    for i in range(1, 4):
        await capture(deps, make_post(i, f"Помилованы {i} человек", minutes=i))
    sender = RecordingSender()
    await deliver_due(deps, {"telegram": sender})
    assert sender.sent == []  # nothing instant
    assert await run_digests(deps) == 0  # not due yet (11:00 Minsk now)
    clock.now = datetime(2025, 3, 11, 5, 59, tzinfo=UTC)
    assert await run_digests(deps) == 0
    clock.now = datetime(2025, 3, 11, 6, 0, tzinfo=UTC)
    assert await run_digests(deps) == 1
    assert await run_digests(deps) == 0  # idempotent
    await deliver_due(deps, {"telegram": sender})
    assert [m.kind for m in sender.sent] == ["digest"]
    digest = sender.sent[0]
    assert "Digest: 3 alert(s)" in digest.text
    for i in range(1, 4):
        assert f"https://t.me/minjust/{i}" in digest.text
    assert len(digest.payload["items"]) == 3
    # Edits of a digested post do not send follow-ups (the digest is a summary, not an alert to edit).
    counts = await outbox.counts_by_status(deps.db)
    assert counts.get("digested") == 3


async def test_mixed_mode_sends_pardons_at_once_and_digests_the_rest(deps, clock):
    j = FakeChat(deps, 12)
    await j.send("/start")
    await j.send("/mode mixed")
    await j.send("/terms add Bialiatski")
    await capture(deps, make_post(1, "Помилованы 2 человека"))
    await capture(deps, make_post(2, "Суд над Бяляцким"))  # term only: digest
    sender = RecordingSender()
    await deliver_due(deps, {"telegram": sender})
    assert [m.payload["post"]["message_id"] for m in sender.sent] == [1]
    clock.advance(86400)
    await run_digests(deps)
    await deliver_due(deps, {"telegram": sender})
    assert sender.sent[-1].kind == "digest" and "https://t.me/minjust/2" in sender.sent[-1].text


async def test_switching_back_to_instant_flushes_waiting_alerts(deps, clock):
    j = FakeChat(deps, 13)
    await j.send("/start")
    await j.send("/mode digest")
    await capture(deps, make_post(1, "Помилованы 2 человека"))
    await j.send("/mode instant")
    assert await run_digests(deps) == 1


async def test_pause_holds_alerts_and_resume_brings_one_digest(deps, clock):
    j = FakeChat(deps, 14)
    await j.send("/start")
    await capture(deps, make_post(1, "Помилованы 1 человек"))  # queued before the pause
    await j.send("/pause")
    await capture(deps, make_post(2, "Помилованы 2 человека"))
    await capture(deps, make_post(3, "Помилованы 3 человека"))
    sender = RecordingSender()
    await deliver_due(deps, {"telegram": sender})
    assert sender.sent == []
    assert "Queued for you: 3" in await j.say("/status")
    assert "Held alerts: 3" in await j.say("/resume")
    await deliver_due(deps, {"telegram": sender})
    assert [m.kind for m in sender.sent] == ["digest"] and len(sender.sent[0].payload["items"]) == 3


async def test_stop_drops_the_queue(deps):
    j = FakeChat(deps, 15)
    await j.send("/start")
    await j.send("/mode digest")
    await capture(deps, make_post(1, "Помилованы 1 человек"))
    await j.send("/stop")
    counts = await outbox.counts_by_status(deps.db)
    assert counts.get("digest", 0) == 0 and counts.get("pending", 0) == 0


async def test_digest_usage_errors(deps):
    j = FakeChat(deps, 16)
    await j.send("/start")
    assert "Usage" in await j.say("/digest")
    assert "Usage" in await j.say("/digest 24")
    assert "Unknown time zone" in await j.say("/digest 9 Mars/Olympus")
    assert "Unknown time zone" in await j.say("/digest 9 ../../etc/passwd")
    assert "Usage" in await j.say("/mode sometimes")
