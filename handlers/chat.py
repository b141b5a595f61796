"""What the bot edge hands to command handlers, and what they answer. No Telegram types here:
bot/telegram/ translates Telethon events into IncomingMessage and Replies into API calls."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IncomingMessage:
    chat_id: int
    text: str = ""
    user_id: int | None = None  # None for channel posts
    chat_type: str = "private"  # private | group | channel
    message_id: int | None = None
    callback_data: str | None = None  # set for inline-button presses
    user_name: str | None = None


@dataclass(frozen=True)
class Button:
    text: str
    data: str  # <= 64 bytes (Telegram's callback data limit)


@dataclass(frozen=True)
class Reply:
    text: str  # Telegram HTML, already escaped
    chat_id: int | None = None  # None: the chat the message came from
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit_message_id: int | None = None  # edit this message instead of sending a new one


@dataclass(frozen=True)
class BotCommand:
    name: str
    description: str  # one line; /help shows it and it is registered with Telegram
    operator_only: bool = False
    handler: object = field(default=None, compare=False)
