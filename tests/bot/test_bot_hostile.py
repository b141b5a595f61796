"""Hostile input: every command, as journalist and operator, with empty, huge (100 kB), binary-looking
and markup-laden arguments answers with a clear, well-formed message and never crashes."""

from __future__ import annotations

import asyncio
import dataclasses
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings, strategies as st

from bot.alerts import utf16_len
from bot.detection import load_detector
from bot.timeutil import FakeClock
from handlers.chat import IncomingMessage
from handlers.commands import COMMANDS, handle_message
from handlers.deps import Deps
from storage.db import open_database
from tests.bot.conftest import BOT, OPERATOR

ALLOWED_TAGS = {"b", "i", "a", "code"}
MARKUP = ["<b>", "</b>", "<a href='javascript:alert(1)'>", "&amp;", "&#0;", "&lt;", "*", "_", "`", "[x](y)",
          "\x00", "\u202e", "@", "@minjust", "backfill", "add", "remove", "invite", "9", "-1", "999999999999999999999",
          "Europe/Minsk", "0.5", "all", "pardon", "yes", "\n", "</code>", "<script>", "%", "NaN", "1e309",
          "9223372036854775808", "-9223372036854775809", "#99999999999999999999", "²", "٣", "¹²"]

hostile = st.one_of(
    st.just(""),
    st.just("x" * 100_000),
    st.just("<b>" * 3000),
    st.just("а" * 9000),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(st.sampled_from(MARKUP), max_size=25).map(" ".join),
)


class TagCheck(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.bad.append(tag)
        self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.bad.append("/" + tag)


def check_reply_text(text: str) -> None:
    assert text.strip(), "empty reply"
    assert utf16_len(text) <= 4096
    assert "went wrong" not in text, text[:300]
    p = TagCheck()
    p.feed(text)
    p.close()
    assert not p.bad and not p.open, (p.bad, p.open, text[:300])


def test_every_command_survives_hostile_input(tmp_path):
    loop = asyncio.new_event_loop()
    db = loop.run_until_complete(open_database(tmp_path / "hostile.db"))

    async def resolve(username):
        from bot.models import Channel

        return Channel(channel_id=7000 + len(username), username=username)

    deps = Deps(db=db, detector=load_detector(), clock=FakeClock(), operators=(OPERATOR,), resolve=resolve)
    names = [c.name for c in COMMANDS]

    def send(chat_id: int, text: str, *, callback: str | None = None, chat_type: str = "private"):
        user_id = None if chat_type == "channel" else (chat_id if chat_type == "private" else OPERATOR)
        msg = IncomingMessage(chat_id=chat_id, text=text, user_id=user_id, chat_type=chat_type, message_id=1,
                              callback_data=callback, user_name="<i>Eve</i>")
        return loop.run_until_complete(handle_message(msg, deps, BOT))

    send(11, "/start")
    send(OPERATOR, "/watch @minjust")
    seen: set[str] = set()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(names), arg=hostile, as_operator=st.booleans(), mode=st.sampled_from(
        ["open", "approval", "invite"]), chat_type=st.sampled_from(["private", "private", "group", "channel"]))
    def run(name, arg, as_operator, mode, chat_type):
        nonlocal deps
        deps = dataclasses.replace(deps, access_mode=mode)
        chat = {"private": OPERATOR if as_operator else 11, "group": -1001, "channel": -1002}[chat_type]
        replies = send(chat, f"/{name} {arg}", chat_type=chat_type)
        seen.add(name)
        assert replies, f"/{name} gave no answer"
        for r in replies:
            check_reply_text(r.text)
            for row in r.buttons:
                for b in row:
                    assert len(b.data.encode("utf-8")) <= 64
        if name in ("stop", "forget"):
            send(chat, "/start", chat_type=chat_type)

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.one_of(st.text(max_size=100), st.lists(st.sampled_from(
        ["s", "lab", "t", "ch", "conf", "mode", "hr", "lang", "op", "ap", "dn", "fg", "yes", "1", "-5", "<b>", ""]),
        max_size=5).map(":".join)), as_operator=st.booleans())
    def press(data, as_operator):
        replies = send(OPERATOR if as_operator else 11, "", callback=data)
        for r in replies:
            check_reply_text(r.text)

    try:
        run()
        press()
        assert seen == set(names)  # every command was exercised
    finally:
        loop.run_until_complete(db.close())
        loop.close()
