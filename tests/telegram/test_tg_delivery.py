"""Bot delivery through the real outbox and BotSender against a fake server with Telegram's limits."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from telethon.extensions import html as tg_html

from bot.models import Post
from bot.telegram.fake_server import FakeBotServer, SimulatedCrash
from bot.telegram.pacing import Limits, Pacer
from bot.telegram.sender import BotSender, part_random_id
from handlers.delivery import OutgoingMessage, deliver_due
from handlers.posts import handle_post
from storage import outbox, subscribers

CHATS = ("101", "102", "-100500")


async def _setup(deps, chats=CHATS, text="Президент помиловал 5 человек <b>&amp; «ура»"):
    async with deps.db.transaction():
        for c in chats:
            await subscribers.upsert(deps.db, "telegram", c, deps.clock())
    post = Post(channel_id=42, message_id=7, text=text, posted_at=datetime(2025, 9, 11, 11, tzinfo=timezone.utc),
                channel_username="pul_pervogo")
    res = await handle_post(post, deps)
    assert res.alerts_queued == len(chats)
    return post


def _sender(server, vt, **limits):
    return BotSender(server, Pacer(Limits(**limits)), monotonic=vt, sleep=vt.sleep)


async def test_alerts_are_sent_escaped_once_each(deps, vt):
    await _setup(deps)
    server = FakeBotServer(vt)
    rnd = await deliver_due(deps, {"telegram": _sender(server, vt)})
    assert rnd.sent == 3 and server.rejected == 0
    assert sorted(server.per_chat().values()) == [1, 1, 1]
    # The post's own markup is shown literally, not interpreted.
    assert "<b>&amp; «ура»" in server.delivered[0].text
    assert await outbox.counts_by_status(deps.db) == {"sent": 3}


async def test_crash_between_send_and_mark_sent_does_not_duplicate(deps, vt):
    await _setup(deps)
    server = FakeBotServer(vt)
    server.crash_after_next_send = True
    with pytest.raises(SimulatedCrash):
        await deliver_due(deps, {"telegram": _sender(server, vt)})
    assert len(server.delivered) == 1
    assert (await outbox.counts_by_status(deps.db)) == {"pending": 3}  # the send was never recorded
    restarted = _sender(server, vt)  # a new process: fresh pacer, same database
    rnd = await deliver_due(deps, {"telegram": restarted})
    assert rnd.sent == 3
    assert restarted.duplicates == 1
    assert sorted(server.per_chat().values()) == [1, 1, 1]  # Telegram kept the first copy only


async def test_random_id_duplicate_counts_as_delivered(deps, vt):
    await _setup(deps, chats=("101",))
    item = (await outbox.due(deps.db, deps.clock(), 10))[0]
    server = FakeBotServer(vt)
    await server(__import__("telethon").tl.functions.messages.SendMessageRequest(
        peer=101, message="sent before the crash", random_id=item.random_id))
    rnd = await deliver_due(deps, {"telegram": _sender(server, vt)})
    assert rnd.sent == 1 and len(server.delivered) == 1
    assert await outbox.counts_by_status(deps.db) == {"sent": 1}


async def test_flood_wait_pauses_the_whole_queue(deps, vt, clock):
    await _setup(deps)
    server = FakeBotServer(vt)
    server.flood_next_s = 30
    sender = _sender(server, vt)
    rnd = await deliver_due(deps, {"telegram": sender})
    assert rnd.sent == 0 and rnd.retried == 1 and rnd.paused_until is not None
    assert server.calls == 1  # nothing else was tried during the pause
    assert sender.pacer.paused_until >= vt.now + 29
    # Nothing is dropped: after the wait everything goes out.
    clock.advance(31)
    rnd = await deliver_due(deps, {"telegram": sender})
    assert rnd.sent == 3 and server.rejected == 0
    assert await outbox.counts_by_status(deps.db) == {"sent": 3}


async def test_blocked_user_is_deactivated_and_not_retried(deps, vt):
    await _setup(deps)
    server = FakeBotServer(vt)
    server.blocked.add(102)
    rnd = await deliver_due(deps, {"telegram": _sender(server, vt)})
    assert rnd.sent == 2 and rnd.failed == 1
    sub = await subscribers.find(deps.db, "telegram", "102")
    assert sub.status == "blocked"
    assert (await outbox.counts_by_status(deps.db)) == {"sent": 2, "failed": 1}
    assert (await deliver_due(deps, {"telegram": _sender(server, vt)})).sent == 0


async def test_long_alert_is_split_with_stable_random_ids_and_edit_follows_up(deps, vt, clock):
    long_text = "Президент помиловал осуждённых. " + "<a> & " * 500  # escaping makes the HTML long
    post = await _setup(deps, chats=("101",), text=long_text)
    server = FakeBotServer(vt)
    sender = _sender(server, vt)
    assert (await deliver_due(deps, {"telegram": sender})).sent == 1
    parts = server.delivered
    assert len(parts) >= 2
    rid = (await outbox.for_post(deps.db, 42, 7))[0].random_id
    assert [d.random_id for d in parts] == [part_random_id(rid, i) for i in range(len(parts))]
    assert [d.at for d in parts] == sorted(d.at for d in parts) and parts[1].at - parts[0].at >= 1.0
    # An edit of the post becomes a follow-up that edits the alert in place (no second alert).
    clock.advance(60)
    edited = Post(**{**post.__dict__, "text": long_text.replace("Президент", "Глава государства"),
                     "edited_at": clock()})
    res = await handle_post(edited, deps)
    assert res.outcome == "edited" and res.alerts_queued == 0 and res.followups_queued == 1
    assert (await deliver_due(deps, {"telegram": sender})).sent == 1
    assert len(server.delivered) == len(parts)  # nothing new sent...
    assert [e[1] for e in server.edits][:len(parts)] == [d.message_id for d in parts]  # ...the alert was edited


async def test_sender_maps_unknown_chat_address_to_rejection(vt):
    from bot.errors import DeliveryRejected

    msg = OutgoingMessage(1, "alert", "telegram", "not-a-chat", 5, ("hi",), "hi")
    with pytest.raises(DeliveryRejected):
        await _sender(FakeBotServer(vt), vt).send(msg)


def test_html_parse_keeps_escaped_text_literal():
    text, entities = tg_html.parse("a &lt;b&gt; &amp; <b>bold</b>")
    assert text == "a <b> & bold" and len(entities) == 1
