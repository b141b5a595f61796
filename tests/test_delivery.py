"""Outbox delivery through a fake sender: sent once, retried with backoff, paused on flood, rejected for good."""

from datetime import timedelta

from bot.errors import DeliveryRejected, RetryLater
from handlers.delivery import deliver_due
from handlers.posts import handle_post
from storage import outbox, subscribers
from tests.conftest import make_post

PARDON = "Александр Лукашенко помиловал 14 осуждённых <b>&amp; ещё</b>."


async def setup(deps, n=1):
    async with deps.db.transaction():
        for i in range(n):
            await subscribers.upsert(deps.db, "telegram", str(100 + i), deps.clock())
    await handle_post(make_post(1, PARDON), deps)


async def test_delivers_each_alert_once(deps, sender):
    await setup(deps, 3)
    rnd = await deliver_due(deps, {"telegram": sender})
    assert rnd.sent == 3
    assert (await deliver_due(deps, {"telegram": sender})).sent == 0
    assert len(sender.messages) == 3
    m = sender.messages[0]
    assert "&lt;b&gt;&amp;amp; ещё&lt;/b&gt;" in "".join(m.html_parts)  # post HTML rendered literally
    assert "https://t.me/pul_pervogo/1" in m.text
    assert len({msg.random_id for msg in sender.messages}) == 3


async def test_transient_failure_retries_with_backoff(deps, sender, clock):
    await setup(deps)
    sender.fail_with = [RetryLater("server error"), RetryLater("server error")]
    assert (await deliver_due(deps, {"telegram": sender})).retried == 1
    item = (await outbox.for_post(deps.db, 1001, 1))[0]
    assert item.attempts == 1 and item.next_attempt_at == clock() + timedelta(seconds=2)
    assert (await deliver_due(deps, {"telegram": sender})).retried == 0  # not due yet
    clock.advance(2)
    assert (await deliver_due(deps, {"telegram": sender})).retried == 1
    item = (await outbox.for_post(deps.db, 1001, 1))[0]
    assert item.next_attempt_at == clock() + timedelta(seconds=4)
    clock.advance(4)
    assert (await deliver_due(deps, {"telegram": sender})).sent == 1
    item = (await outbox.for_post(deps.db, 1001, 1))[0]
    assert item.status == "sent" and item.attempts == 3 and item.random_id == sender.messages[0].random_id


async def test_flood_wait_pauses_the_whole_queue(deps, sender, clock):
    await setup(deps, 5)
    sender.fail_with = [RetryLater("flood", after_s=30, flood=True)]
    rnd = await deliver_due(deps, {"telegram": sender})
    assert rnd.paused_until == clock() + timedelta(seconds=30)
    assert rnd.sent == 0 and rnd.retried == 1  # the round stopped at the flood wait
    assert await outbox.pending_count(deps.db) == 5  # nothing dropped
    clock.advance(30)
    assert (await deliver_due(deps, {"telegram": sender})).sent == 5


async def test_rejected_destination_is_deactivated(deps, sender):
    await setup(deps, 2)
    sender.fail_with = [DeliveryRejected("bot was blocked by the user")]
    rnd = await deliver_due(deps, {"telegram": sender})
    assert rnd.failed == 1 and rnd.sent == 1
    blocked = await subscribers.find(deps.db, "telegram", "100")
    assert blocked.status == "blocked"
    # New alerts no longer go to the blocked subscriber.
    await handle_post(make_post(2, PARDON + " Ещё один указ."), deps)
    assert (await deliver_due(deps, {"telegram": sender})).sent == 1


async def test_dead_letter_after_max_attempts(deps, sender, clock):
    await setup(deps)
    sender.fail_with = [RetryLater("down")] * 20
    for _ in range(deps.delivery.max_attempts):
        await deliver_due(deps, {"telegram": sender})
        clock.advance(deps.delivery.backoff_max_s)
    item = (await outbox.for_post(deps.db, 1001, 1))[0]
    assert item.status == "dead" and item.attempts == deps.delivery.max_attempts


async def test_crash_between_send_and_mark_resends_with_same_random_id(deps, sender):
    """The destination deduplicates by random_id; we must resend the same one."""
    await setup(deps)

    class KilledAfterSend(Exception):
        pass

    class CrashAfterSend:
        def __init__(self):
            self.seen = []

        async def send(self, message):
            self.seen.append(message.random_id)
            raise KilledAfterSend("killed after send")

    crashing = CrashAfterSend()
    try:
        await deliver_due(deps, {"telegram": crashing})
    except KilledAfterSend:
        pass
    await deliver_due(deps, {"telegram": sender})
    assert sender.messages[0].random_id == crashing.seen[0]


async def test_sends_to_different_subscribers_overlap_but_each_keeps_its_order(deps, clock):
    """Throughput must not be one round trip per message: lanes overlap up to [delivery] concurrency."""
    import asyncio
    from dataclasses import replace

    from config.settings import DeliverySettings

    deps = replace(deps, delivery=DeliverySettings(concurrency=3))
    await setup(deps, 6)

    class SlowSender:
        def __init__(self):
            self.in_flight = self.max_in_flight = 0
            self.order: list[tuple[str, str]] = []
            self.overlapped = asyncio.Event()

        async def send(self, message):
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.in_flight >= 2:
                self.overlapped.set()
            # A network round trip long enough for another lane to start sending (two sleep(0)s
            # were not, on a loaded machine: the other lane was still reading the database).
            try:
                await asyncio.wait_for(self.overlapped.wait(), timeout=5)
            except asyncio.TimeoutError:
                pass
            self.in_flight -= 1
            self.order.append((message.address, message.kind))
            return [1]

    slow = SlowSender()
    assert (await deliver_due(deps, {"telegram": slow})).sent == 6
    assert 1 < slow.max_in_flight <= 3
    # An edit after the alerts were sent: each subscriber gets its follow-up after its alert.
    await handle_post(make_post(1, PARDON.replace("14", "15")), deps)
    assert (await deliver_due(deps, {"telegram": slow})).sent == 6
    for address in {a for a, _ in slow.order}:
        assert [k for a, k in slow.order if a == address] == ["alert", "followup"]
