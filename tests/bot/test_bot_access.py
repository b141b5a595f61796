"""/start by access mode, in private chats, groups and channels; operator-only commands."""

import dataclasses

from storage import audit, subscribers
from tests.bot.conftest import OPERATOR, with_mode


async def _status(db, chat_id):
    sub = await subscribers.find(db, "telegram", str(chat_id))
    return sub.status if sub else None


async def test_open_mode_subscribes_at_once(chat_factory, db):
    j = chat_factory(11)
    assert "Subscribed" in await j.say("/start")
    assert await _status(db, 11) == "active"
    assert "already subscribed" in await j.say("/start")


async def test_group_and_channel_chats_can_subscribe(chat_factory, db):
    group = chat_factory(-100500, user_id=77, chat_type="group")
    assert "Subscribed" in await group.say("/start@tgwatch_test_bot")
    channel = chat_factory(-100600, chat_type="channel", user_name=None)
    assert "Subscribed" in await channel.say("/start")
    assert await _status(db, -100500) == "active" and await _status(db, -100600) == "active"
    # A command addressed to another bot, or chatter, gets no answer in a group.
    assert await group.send("/start@other_bot") == []
    assert await group.send("hello everyone") == []
    assert await group.send("/unknowncmd") == []


async def test_approval_mode_asks_operators_with_buttons(deps, db):
    from tests.bot.conftest import FakeChat

    d = with_mode(deps, "approval")
    j = FakeChat(d, 21, user_name="Anna <Reporter>")
    replies = await j.send("/start")
    assert "sent to the operators" in replies[0].text
    to_ops = [r for r in replies if r.chat_id == OPERATOR]
    assert len(to_ops) == 1
    assert "Anna &lt;Reporter&gt;" in to_ops[0].text  # escaped
    data = [b.data for row in to_ops[0].buttons for b in row]
    assert data[0].startswith("op:ap:") and data[1].startswith("op:dn:")
    assert all(len(x.encode()) <= 64 for x in data)
    assert await _status(db, 21) == "pending"
    assert "still waiting" in await j.say("/start")
    # Only an operator's button press approves.
    assert "operators" in (await j.press(data[0]))[0].text
    op = FakeChat(d, OPERATOR)
    out = await op.press(data[0], message_id=555)
    assert out[0].edit_message_id == 555 and "active" in out[0].text
    assert out[1].chat_id == 21 and "approved" in out[1].text
    assert await _status(db, 21) == "active"
    assert [r["action"] for r in await audit.recent(db)] == ["approve"]


async def test_approval_deny_and_stop_while_pending(deps, db):
    from tests.bot.conftest import FakeChat

    d = with_mode(deps, "approval")
    a, b = FakeChat(d, 31), FakeChat(d, 32)
    await a.send("/start")
    await b.send("/start")
    op = FakeChat(d, OPERATOR)
    sid = (await subscribers.find(db, "telegram", "31")).subscriber_id
    out = await op.send(f"/deny {sid}")
    assert "denied" in out[0].text and out[1].chat_id == 31
    assert "declined" in await a.say("/start")  # no new request spam
    # Stopping a pending request removes it: /start again asks again (no bypass of approval).
    assert "Unsubscribed" in await b.say("/stop")
    assert await _status(db, 32) is None
    assert "sent to the operators" in await b.say("/start")


async def test_approval_mode_admits_operators_and_returning_subscribers(deps, db):
    from tests.bot.conftest import FakeChat

    d = with_mode(deps, "approval")
    assert "Subscribed" in await FakeChat(d, OPERATOR).say("/start")
    j = FakeChat(d, 41)
    await j.send("/start")
    await FakeChat(d, OPERATOR).send(f"/approve {(await subscribers.find(db, 'telegram', '41')).subscriber_id}")
    await j.send("/stop")
    assert "Subscribed" in await j.say("/start")  # was approved before


async def test_invite_mode_codes_and_deep_links(deps, db):
    from tests.bot.conftest import FakeChat

    d = with_mode(deps, "invite")
    op = FakeChat(d, OPERATOR)
    text = await op.say("/invite 1")
    code = text.split("<code>")[1].split("</code>")[0]
    assert f"https://t.me/tgwatch_test_bot?start={code}" in text
    j, k = FakeChat(d, 51), FakeChat(d, 52)
    assert "invite-only" in await j.say("/start")
    assert "not valid" in await j.say("/start WRONGCODE")
    assert "not valid" in await j.say("/start <b>&amp;</b>")
    assert "Subscribed" in await j.say(f"/start {code}")  # what a deep link sends
    assert "not valid" in await k.say(f"/start {code}")  # single use
    # Expired codes do not work.
    text = await op.say("/invite 5")
    code2 = text.split("<code>")[1].split("</code>")[0]
    d.clock.advance(8 * 86400)
    assert "not valid" in await k.say(f"/start {code2}")
    # A revoked code does not work either.
    code3 = (await op.say("/invite")).split("<code>")[1].split("</code>")[0]
    assert "revoked" in await op.say(f"/revoke invite {code3}")
    assert "not valid" in await k.say(f"/start {code3}")


async def test_revoke_stops_alerts_and_blocks_start(chat_factory, db):
    j = chat_factory(61)
    await j.send("/start")
    sid = (await subscribers.find(db, "telegram", "61")).subscriber_id
    op = chat_factory(OPERATOR)
    out = await op.send(f"/revoke {sid}")
    assert "revoked" in out[0].text and out[1].chat_id == 61
    assert "revoked" in await j.say("/start")
    assert "nothing to revoke" in await op.say(f"/revoke {sid}")
    assert "No subscriber #999" in await op.say("/revoke 999")


async def test_operator_commands_refuse_others_politely(chat_factory, deps):
    from handlers.commands import COMMANDS

    j = chat_factory(71)
    await j.send("/start")
    for c in COMMANDS:
        if c.operator_only:
            assert "for the operators" in await j.say(f"/{c.name} x"), c.name
    # Operators' commands only in a private chat with the bot (subscriber details stay out of groups).
    group = chat_factory(-100700, user_id=OPERATOR, chat_type="group")
    assert "for the operators" in await group.say("/subscribers")


async def test_operator_replies_follow_subscriber_language(chat_factory, db):
    j = chat_factory(81)
    await j.send("/start")
    assert "Мова: беларуская" in await j.say("/language be")
    sid = (await subscribers.find(db, "telegram", "81")).subscriber_id
    out = await chat_factory(OPERATOR).send(f"/revoke {sid}")
    assert "Аператары" in out[1].text


async def test_paused_start_resumes(chat_factory):
    j = chat_factory(91)
    await j.send("/start")
    assert "Paused" in await j.say("/pause")
    assert "already paused" in await j.say("/pause")
    assert "Resumed" in await j.say("/start")
    assert "not paused" in await j.say("/resume")


async def test_approval_without_operators_says_so(deps, db):
    from tests.bot.conftest import FakeChat

    d = dataclasses.replace(with_mode(deps, "approval"), operators=())
    assert "no operator is configured" in await FakeChat(d, 99).say("/start")
    assert await _status(db, 99) is None
