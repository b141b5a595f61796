"""Hostile bot input: every command with any arguments, from anyone, answers with Replies, never an exception.

The command list is read from the router, so commands added later are covered automatically.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handlers import commands
from handlers.chat import IncomingMessage, Reply
from tests.test_hostile_posts import check_parts

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = [c.name for c in commands.COMMANDS]
ARGS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", " ", "@", "@pul_pervogo", "https://t.me/x/1", "<b>", "&amp;", "0", "-1", "99999999999999999999",
                     "1e9", "nan", "pardon release", "all", "on", "off", "\ud800", "\x00", "а" * 5000, "😀" * 3000,
                     "'; DROP TABLE subscribers; --", "25:00", "Europe/Nowhere", "\u202e"]),
)
MESSAGES = st.builds(
    lambda name, sep, arg, mention, user, chat_type, cb: IncomingMessage(
        chat_id=user or -100123, text=f"/{name}{mention}{sep}{arg}", user_id=user, chat_type=chat_type, callback_data=cb
    ),
    st.one_of(st.sampled_from(NAMES), st.text(max_size=10)),
    st.sampled_from([" ", "  ", "\n", "\t"]),
    ARGS,
    st.sampled_from(["", "@tgwatch_bot", "@other_bot", "@"]),
    st.sampled_from([None, 42, 777, 2**40]),  # 777 is an operator in the deps fixture
    st.sampled_from(["private", "group", "channel"]),
    st.one_of(st.none(), st.text(max_size=64)),
)


async def check(msg: IncomingMessage, deps) -> None:
    replies = await commands.handle_message(msg, deps, "tgwatch_bot")
    assert isinstance(replies, list) and all(isinstance(r, Reply) for r in replies)
    for r in replies:
        check_parts((r.text,)) if r.text.strip() else None


@FAST
@given(msg=MESSAGES)
@example(msg=IncomingMessage(chat_id=1, text="/start", user_id=1))
@example(msg=IncomingMessage(chat_id=1, text="/stop", user_id=1))
@example(msg=IncomingMessage(chat_id=1, text="/" + "x" * 10_000, user_id=1))
@example(msg=IncomingMessage(chat_id=777, text="/invite ", user_id=777))  # an operator's reply has <code>
async def test_any_command_from_anyone_gets_replies(msg, deps):
    await check(msg, deps)


@FAST
@given(text=st.text(max_size=200), cb=st.one_of(st.none(), st.text(max_size=64)))
async def test_any_message_or_button_gets_replies(text, cb, deps):
    await check(IncomingMessage(chat_id=5, text=text, user_id=5, callback_data=cb), deps)


async def test_sequences_of_commands_keep_the_subscriber_consistent(deps):
    """Start/stop in any order, repeated: one subscriber row, status follows the last command."""
    for name in ["start", "start", "stop", "stop", "start", *NAMES, "stop"]:
        await check(IncomingMessage(chat_id=9, text=f"/{name}", user_id=9), deps)
    rows = await deps.db.fetchall("SELECT status FROM subscribers WHERE address = '9'")
    assert len(rows) == 1
