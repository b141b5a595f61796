"""Telegram failures at the edge (issue 7), beyond the single-fault cases of the other tg tests:
flood waits of hours, a disconnect in the middle of a history pass, many users blocking the bot
at once, repeated flood waits on one alert. Real Telethon errors, fake transports, real SQLite."""

from __future__ import annotations

import random

from telethon import errors as tg

from bot.models import Channel
from bot.telegram.fake_server import FakeBotServer
from bot.telegram.pacing import Limits, Pacer
from bot.telegram.reconcile import Reconciler
from bot.telegram.sender import BotSender
from config.settings import DeliverySettings, IngestSettings
from handlers.delivery import deliver_due
from handlers.posts import handle_post
from storage import channel_sync, channels, outbox, posts, subscribers
from tests.conftest import make_post
from tgfakes import FakeHistory, msg


def flood(seconds: int) -> tg.FloodWaitError:
    return tg.FloodWaitError(request=None, capture=seconds)


async def _watch(deps, *ids, cursor=0):
    async with deps.db.transaction():
        for cid in ids:
            await channels.upsert(deps.db, Channel(cid, username=f"chan{cid}"), deps.clock())
            await channel_sync.set_cursor(deps.db, cid, cursor, deps.clock())


def _rec(deps, src, vt):
    return Reconciler(deps, src, IngestSettings(), monotonic=vt, rng=random.Random(1))


class FlakyHistory(FakeHistory):
    """Raises a given error on the n-th history read, once."""

    def __init__(self, fail_on_read: int, error: BaseException):
        super().__init__()
        self.fail_on_read, self.error = fail_on_read, error

    async def history(self, chan, min_id, limit):
        if self.history_reads + 1 == self.fail_on_read and self.error is not None:
            self.history_reads += 1
            err, self.error = self.error, None
            raise err
        return await super().history(chan, min_id, limit)


async def _three_channels_with_gaps(deps, src):
    await _watch(deps, 1, 2, 3)
    for cid in (1, 2, 3):
        src.post(cid, *[msg(cid, i, f"news {cid}/{i}") for i in range(1, 6)])


async def _assert_all_captured_once(deps):
    assert await posts.count(deps.db) == 15
    assert await deps.db.fetchval("SELECT count(*) FROM post_versions") == 15
    for cid in (1, 2, 3):
        assert (await channel_sync.get(deps.db, cid)).history_cursor_id == 5
        assert (await channels.get(deps.db, cid)).status == "active"


async def test_disconnect_mid_pass_loses_nothing_and_the_next_pass_fills_the_rest(deps, vt):
    src = FlakyHistory(fail_on_read=2, error=ConnectionError("connection reset by peer"))
    await _three_channels_with_gaps(deps, src)
    rec = _rec(deps, src, vt)
    try:
        await rec.run_pass()
        raise AssertionError("the disconnect should end the pass")
    except ConnectionError:
        pass
    # The channel read before the disconnect kept its progress; the others kept their cursor.
    assert await posts.count(deps.db) == 5
    await rec.run_pass()
    await _assert_all_captured_once(deps)
    assert not await deps.db.fetchall("SELECT * FROM events WHERE kind = 'channel'")  # no false notice


async def test_flood_wait_of_seconds_mid_pass_then_everything_is_read(deps, vt):
    src = FlakyHistory(fail_on_read=3, error=flood(7))
    await _three_channels_with_gaps(deps, src)
    rec = _rec(deps, src, vt)
    try:
        await rec.run_pass()
    except tg.FloodWaitError as e:
        assert e.seconds == 7
    await rec.run_pass()
    await _assert_all_captured_once(deps)


async def test_flood_wait_of_hours_on_history_keeps_channels_active(deps, vt):
    """A long flood is not a channel problem: no channel is marked private/banned, nothing is lost."""
    src = FlakyHistory(fail_on_read=1, error=flood(3 * 3600))
    await _three_channels_with_gaps(deps, src)
    try:
        await _rec(deps, src, vt).run_pass()
    except tg.FloodWaitError:
        pass
    assert await posts.count(deps.db) == 0
    await _rec(deps, src, vt).run_pass()
    await _assert_all_captured_once(deps)


def _sender(server, vt):
    return BotSender(server, Pacer(Limits()), monotonic=vt, sleep=vt.sleep)


async def _subscribers(deps, n):
    async with deps.db.transaction():
        for i in range(n):
            await subscribers.upsert(deps.db, "telegram", str(5000 + i), deps.clock())


async def test_many_users_block_the_bot_at_once(deps, vt):
    await _subscribers(deps, 60)
    await handle_post(make_post(1, "Президент помиловал 5 человек."), deps)
    server = FakeBotServer(vt)
    server.blocked.update(5000 + i for i in range(0, 60, 3) if i % 2 == 0 or i < 30)
    blocked = len(server.blocked)
    total = DeliverySettings().batch_size
    rnd = await deliver_due(deps, {"telegram": _sender(server, vt)}, limit=total)
    assert rnd.failed == blocked and rnd.sent == 60 - blocked
    assert await outbox.counts_by_status(deps.db) == {"sent": 60 - blocked, "failed": blocked}
    rows = await deps.db.fetchall("SELECT status, count(*) FROM subscribers GROUP BY status")
    assert dict((r[0], r[1]) for r in rows) == {"active": 60 - blocked, "blocked": blocked}
    # The next announcement goes only to those still active; nothing is retried for the blocked.
    await handle_post(make_post(2, "Президент помиловал 6 человек."), deps)
    rnd = await deliver_due(deps, {"telegram": _sender(server, vt)}, limit=total)
    assert rnd.sent == 60 - blocked and rnd.failed == 0


async def test_flood_wait_of_hours_on_the_bot_pauses_and_loses_nothing(deps, vt, clock):
    await _subscribers(deps, 5)
    await handle_post(make_post(1, "Президент помиловал 5 человек."), deps)
    server = FakeBotServer(vt)
    server.flood_next_s = 2 * 3600
    sender = _sender(server, vt)
    rnd = await deliver_due(deps, {"telegram": sender})
    assert rnd.sent == 0 and rnd.paused_until is not None
    assert (rnd.paused_until - clock()).total_seconds() >= 2 * 3600 - 1
    assert await outbox.counts_by_status(deps.db) == {"pending": 5}
    clock.advance(2 * 3600 + 1)
    vt.now += 2 * 3600 + 1
    assert (await deliver_due(deps, {"telegram": sender})).sent == 5
    assert sorted(server.per_chat().values()) == [1] * 5


async def test_repeated_flood_waits_never_dead_letter_an_alert(deps, vt, clock):
    """Bug found: each flood wait counted as a failed attempt of the row that happened to meet it,
    so an alert could be dead-lettered (never delivered) by floods that were not its fault."""
    await _subscribers(deps, 1)
    await handle_post(make_post(1, "Президент помиловал 5 человек."), deps)
    server = FakeBotServer(vt)
    sender = _sender(server, vt)
    for _ in range(deps.delivery.max_attempts + 2):
        server.flood_next_s = 30
        rnd = await deliver_due(deps, {"telegram": sender})
        assert rnd.failed == 0
        clock.advance(31)
        vt.now += 31
    assert await outbox.counts_by_status(deps.db) == {"pending": 1}
    assert (await deliver_due(deps, {"telegram": sender})).sent == 1


async def test_long_history_flood_tells_operators_once_and_waits_it_out(deps, vt):
    from storage import events

    src = FakeHistory()
    rec = _rec(deps, src, vt)
    assert await rec._flood_wait(flood(30)) == 30  # short: waited out, nobody is bothered
    assert not await deps.db.fetchall("SELECT * FROM outbox WHERE kind = 'notice'")
    assert await rec._flood_wait(flood(3 * 3600)) == 3 * 3600
    assert await rec._flood_wait(flood(3 * 3600)) == 3 * 3600  # told once per state change
    notices = await deps.db.fetchall("SELECT payload FROM outbox WHERE kind = 'notice'")
    assert len(notices) == 1 and "3.0 h" in notices[0][0] and "Live capture goes on" in notices[0][0]
    await rec._flood_over()
    assert await events.current(deps.db, "flood", "history") == "ok"
    await rec._flood_wait(flood(3 * 3600))  # a later long flood is told again
    assert len(await deps.db.fetchall("SELECT payload FROM outbox WHERE kind = 'notice'")) == 2
