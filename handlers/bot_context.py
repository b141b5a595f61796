"""What every bot command handler receives (`Ctx`) and small helpers shared by the command modules."""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.i18n import t
from bot.models import Subscriber
from handlers.chat import Button, IncomingMessage, Reply
from handlers.deps import Deps
from storage import subscribers

# Telegram's limit on callback data, in bytes.
CALLBACK_LIMIT = 64


@dataclass(frozen=True)
class Ctx:
    msg: IncomingMessage
    deps: Deps
    arg: str
    bot_username: str | None
    sub: Subscriber | None  # this chat's subscriber row, if any

    @property
    def lang(self) -> str:
        return self.sub.language if self.sub else "en"

    @property
    def is_operator(self) -> bool:
        return self.msg.user_id is not None and self.msg.user_id in self.deps.operators

    @property
    def address(self) -> str:
        return chat_address(self.msg)

    def say(self, key: str, **kwargs: object) -> Reply:
        return Reply(t(self.lang, key, **kwargs))

    def tr(self, key: str, **kwargs: object) -> str:
        return t(self.lang, key, **kwargs)


def chat_address(msg: IncomingMessage) -> str:
    """A chat is the subscriber (a private chat, a group or a newsroom channel)."""
    return str(msg.chat_id)


async def load_subscriber(deps: Deps, msg: IncomingMessage) -> Subscriber | None:
    return await subscribers.find(deps.db, "telegram", chat_address(msg))


def shown(value: str, limit: int = 60) -> str:
    """User input echoed back: cut to `limit` characters, single line (escape it with t() or esc())."""
    one_line = " ".join((value or "").split())
    return one_line if len(one_line) <= limit else one_line[:limit] + "…"


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def button(text: str, data: str) -> Button:
    if len(data.encode("utf-8")) > CALLBACK_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {data!r}")
    return Button(text, data)
