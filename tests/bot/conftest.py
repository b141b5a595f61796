"""Shared fixtures: a real migrated SQLite file per test, a fake clock, and a fake chat transport."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from bot.detection import load_detector
from bot.models import Channel, Post
from bot.timeutil import FakeClock
from handlers.chat import IncomingMessage, Reply
from handlers.commands import handle_message
from handlers.delivery import OutgoingMessage
from handlers.deps import Deps
from handlers.posts import handle_post
from storage.db import open_database

OPERATOR = 1000
BOT = "tgwatch_test_bot"


@pytest.fixture
async def db(tmp_path):
    database = await open_database(tmp_path / "t.db")
    yield database
    await database.close()


@pytest.fixture
def clock():
    return FakeClock(datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc))


@pytest.fixture
def deps(db, clock):
    async def resolve(username: str) -> Channel:
        return Channel(channel_id=5000 + len(username), username=username, title=username.title())

    return Deps(db=db, detector=load_detector(), clock=clock, operators=(OPERATOR,), resolve=resolve)


class FakeChat:
    """One Telegram chat talking to the bot through the handler layer (no network)."""

    def __init__(self, deps: Deps, chat_id: int, *, user_id: int | None = None, chat_type: str = "private",
                 user_name: str | None = "Journalist"):
        self.deps = deps
        self.chat_id = chat_id
        self.user_id = chat_id if user_id is None and chat_type == "private" else user_id
        self.chat_type = chat_type
        self.user_name = user_name
        self.replies: list[Reply] = []
        self._mid = 100

    async def send(self, text: str) -> list[Reply]:
        self._mid += 1
        msg = IncomingMessage(chat_id=self.chat_id, text=text, user_id=self.user_id, chat_type=self.chat_type,
                              message_id=self._mid, user_name=self.user_name)
        out = await handle_message(msg, self.deps, BOT)
        self.replies += out
        return out

    async def press(self, data: str, message_id: int = 777) -> list[Reply]:
        msg = IncomingMessage(chat_id=self.chat_id, text="", user_id=self.user_id, chat_type=self.chat_type,
                              message_id=message_id, callback_data=data, user_name=self.user_name)
        out = await handle_message(msg, self.deps, BOT)
        self.replies += out
        return out

    async def say(self, text: str) -> str:
        """Send and return the text of the replies addressed to this chat."""
        return "\n".join(r.text for r in await self.send(text) if r.chat_id in (None, self.chat_id))


class RecordingSender:
    """A sender that records what it would send, returning fake Telegram message ids."""

    def __init__(self):
        self.sent: list[OutgoingMessage] = []
        self._next = 5000

    async def send(self, message: OutgoingMessage) -> list[int]:
        self.sent.append(message)
        ids = []
        for _ in message.html_parts or ("",):
            self._next += 1
            ids.append(self._next)
        return list(message.edit_message_ids) if message.edit_message_ids else ids


@pytest.fixture
def chat_factory(deps):
    def make(chat_id: int, **kw) -> FakeChat:
        return FakeChat(deps, chat_id, **kw)

    return make


def make_post(message_id: int, text: str, *, channel_id: int = 42, username: str = "minjust", minutes: int = 0,
              edited_at: datetime | None = None) -> Post:
    return Post(channel_id=channel_id, message_id=message_id, text=text,
                posted_at=datetime(2025, 3, 10, 7, 0, tzinfo=timezone.utc).replace(minute=minutes % 60),
                edited_at=edited_at, channel_username=username)


async def capture(deps: Deps, post: Post):
    return await handle_post(post, deps)


def with_mode(deps: Deps, mode: str) -> Deps:
    return dataclasses.replace(deps, access_mode=mode)
