"""EDGE: the bot's conversation side. Telethon messages and button presses -> handlers.chat.IncomingMessage
-> handlers.commands.handle_message -> Replies sent back (HTML, inline buttons). Also registers the
command menu with Telegram. Alerts do NOT go through here: they come from the outbox (sender.py).
"""

from __future__ import annotations

import logging
from typing import Any

from telethon import Button as TgButton
from telethon import events, utils
from telethon.errors import RPCError
from telethon.tl import functions, types

from bot.errors import TgwatchError
from handlers import commands
from handlers.chat import IncomingMessage, Reply
from handlers.deps import Deps

log = logging.getLogger(__name__)


def chat_type(peer: object, message: object = None) -> str:
    if isinstance(peer, types.PeerUser):
        return "private"
    if isinstance(peer, types.PeerChannel) and getattr(message, "post", False):
        return "channel"
    return "group"


def incoming_from_message(message: types.Message) -> IncomingMessage:
    """A message to the bot as our IncomingMessage. Chat ids are Telethon's marked ids
    (users positive, groups negative) so they can be sent to again."""
    peer = message.peer_id
    sender = message.from_id
    user_id = sender.user_id if isinstance(sender, types.PeerUser) else (
        peer.user_id if isinstance(peer, types.PeerUser) else None)
    return IncomingMessage(chat_id=utils.get_peer_id(peer), text=message.message or "", user_id=user_id,
                           chat_type=chat_type(peer, message), message_id=message.id)


def incoming_from_callback(query: types.UpdateBotCallbackQuery) -> IncomingMessage:
    data = (query.data or b"").decode("utf-8", "replace")
    return IncomingMessage(chat_id=utils.get_peer_id(query.peer), text=data if data.startswith("/") else "",
                           user_id=query.user_id, chat_type=chat_type(query.peer), message_id=query.msg_id,
                           callback_data=data)


def telethon_buttons(reply: Reply) -> list[list[Any]] | None:
    if not reply.buttons:
        return None
    return [[TgButton.inline(b.text, b.data.encode("utf-8")) for b in row] for row in reply.buttons]


def bot_commands() -> list[types.BotCommand]:
    """The menu Telegram shows: every non-operator command with its one-line description."""
    return [types.BotCommand(command=c.name, description=c.description[:256])
            for c in commands.COMMANDS if not c.operator_only]


async def register_commands(client: Any) -> None:
    await client(functions.bots.SetBotCommandsRequest(scope=types.BotCommandScopeDefault(), lang_code="",
                                                      commands=bot_commands()))


class BotFrontend:
    """Answers commands and button presses. `client` needs send_message/edit_message (TelegramClient)."""

    def __init__(self, client: Any, deps: Deps, bot_username: str | None):
        self.client = client
        self.deps = deps
        self.bot_username = bot_username

    def register(self, client: Any) -> None:
        client.add_event_handler(self._on_new_message, events.NewMessage(incoming=True))
        client.add_event_handler(self._on_callback, events.CallbackQuery())

    async def _on_new_message(self, event: Any) -> None:
        await self.handle(incoming_from_message(event.message))

    async def _on_callback(self, event: Any) -> None:
        await self.handle(incoming_from_callback(event.query))
        try:
            await event.answer()
        except RPCError as e:  # the button spinner just times out on the user's side
            log.debug("callback answer failed: %s", type(e).__name__)

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """Route one incoming message and send the replies. Errors become a short apology, not silence."""
        try:
            replies = await commands.handle_message(msg, self.deps, self.bot_username)
        except TgwatchError as e:
            log.error("command failed: %s", type(e).__name__)
            replies = [Reply(f"Sorry, that did not work: {e}")]
        for r in replies:
            await self.send_reply(r, msg.chat_id)
        return replies

    async def send_reply(self, r: Reply, default_chat: int) -> None:
        chat = r.chat_id if r.chat_id is not None else default_chat
        try:
            if r.edit_message_id is not None:
                await self.client.edit_message(chat, r.edit_message_id, r.text, parse_mode="html",
                                               buttons=telethon_buttons(r), link_preview=False)
            else:
                await self.client.send_message(chat, r.text, parse_mode="html", buttons=telethon_buttons(r),
                                               link_preview=False)
        except RPCError as e:
            # A reply is an answer to a person now: no outbox, no retry; the person can ask again.
            log.warning("bot reply not sent: %s", type(e).__name__)
