"""Operator commands through the handler layer, with a fake channel resolver instead of Telegram."""

import dataclasses

from bot.errors import RetryLater
from bot.models import Channel
from handlers.delivery import deliver_due
from storage import audit, channels
from tests.bot.conftest import OPERATOR, FakeChat, RecordingSender, capture, make_post


async def test_watch_unwatch_channels(deps, db, clock):
    backfilled = []

    async def backfill(ch: Channel, n: int) -> int:
        backfilled.append((ch.username, n))
        return n - 1

    d = dataclasses.replace(deps, backfill=backfill)
    op = FakeChat(d, OPERATOR)
    assert "Watching @minjust" in await op.say("/watch @minjust")
    assert "Backfilled 29 post(s)" in await op.say("/watch https://t.me/prokuratura backfill 30")
    assert backfilled == [("prokuratura", 30)]
    assert "Usage" in await op.say("/watch @x backfill 5000")
    assert "Usage" in await op.say("/watch")
    assert "not a channel username" in await op.say("/watch @a")
    ch = await channels.find(db, "minjust")
    await capture(d, make_post(7, "Новости", channel_id=ch.channel_id, username="minjust"))
    clock.advance(7200)
    async with db.transaction():
        await channels.set_status(db, ch.channel_id, "private", clock(), error="CHANNEL_PRIVATE")
    out = await op.say("/channels")
    assert "@minjust [private]: last post #7" in out and "captured 2 h ago" in out and "CHANNEL_PRIVATE" in out
    assert "Stopped watching @prokuratura" in await op.say("/unwatch @prokuratura")
    assert "No channel" in await op.say("/unwatch @prokuratura")
    assert [r["action"] for r in await audit.recent(db)] == ["unwatch", "watch", "watch"]


async def test_watch_without_telegram_says_what_to_do(deps):
    op = FakeChat(dataclasses.replace(deps, resolve=None), OPERATOR)
    assert "needs Telegram" in await op.say("/watch @minjust")


async def test_subscribers_and_stats(deps, db, clock):
    for chat in (11, 12, 13):
        await FakeChat(deps, chat).send("/start")
    await FakeChat(deps, 13).send("/pause")
    op = FakeChat(deps, OPERATOR)
    out = await op.say("/subscribers")
    assert "telegram active: 2" in out and "telegram paused: 1" in out
    await capture(deps, make_post(1, "Помилованы 4 человека"))
    sender = RecordingSender()
    await deliver_due(deps, {"telegram": sender})

    class Flood:
        async def send(self, message):
            raise RetryLater("flood", after_s=30, flood=True)

    await capture(deps, make_post(2, "Помилованы 5 человек"))
    await deliver_due(deps, {"telegram": Flood()})
    stats = await op.say("/stats")
    assert "Alerts sent: 2" in stats and "Flood waits: 1" in stats and "Posts captured: 2" in stats
    assert "2 pending (" in stats  # lanes in flight when the flood wait came are retried too


async def test_detector_test_shows_evidence(deps):
    op = FakeChat(deps, OPERATOR)
    out = await op.say("/test Указом помилованы 14 человек")
    assert "<b>pardon</b>" in out and "pardon." in out and "помилованы" in out
    assert "No evidence" in await op.say("/test погода")
    assert "Usage" in await op.say("/test")
    long = await op.say("/test " + "помилован " * 600)
    assert "only the first 5000 characters" in long
    assert "too long" in await op.say("/test " + "x" * 20_000)


async def test_help_lists_operator_commands_only_for_operators(deps):
    j = FakeChat(deps, 11)
    op = FakeChat(deps, OPERATOR)
    assert "/watch" not in await j.say("/help")
    assert "/watch" in await op.say("/help")
