"""EDGE: the bot Sender. Sends outbox messages with messages.SendMessageRequest and the row's
persisted random_id (Telegram drops a repeat, so a resend after a crash is not a duplicate),
paced by pacing.Pacer, and translates Telethon errors into RetryLater / DeliveryRejected.

The Telethon call is one injected function, `invoke(request)`: the bot client itself in
production (it resolves the int peer from its session cache), a fake server in tests.
The bot client must be built with request_retries=1 and flood_sleep_threshold=0 (client.py):
otherwise Telethon retries RANDOM_ID_DUPLICATE as a server error and sleeps through flood waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from telethon import errors as tg
from telethon.extensions import html as tg_html
from telethon.tl import functions, types

from bot.errors import DeliveryRejected, RetryLater
from bot.telegram.pacing import Pacer
from handlers.delivery import OutgoingMessage

log = logging.getLogger(__name__)

Invoke = Callable[[Any], Awaitable[Any]]

# The destination is gone for good: stop retrying and deactivate the subscriber.
REJECTED = (
    tg.UserIsBlockedError,
    tg.InputUserDeactivatedError,
    tg.UserDeactivatedError,
    tg.ChatWriteForbiddenError,
    tg.UserKickedError,
    tg.ChannelPrivateError,
    tg.ChatIdInvalidError,
    tg.PeerIdInvalidError,
    tg.UserBannedInChannelError,
    tg.ChatRestrictedError,
    tg.ChatAdminRequiredError,
)
MAX_RANDOM_ID = 2**63 - 1


def part_random_id(random_id: int, index: int) -> int:
    """Part i of a split message gets random_id + i (kept positive, never 0): stable across resends."""
    return (random_id - 1 + index) % MAX_RANDOM_ID + 1


def sent_message_id(result: Any, random_id: int) -> int | None:
    """The message id Telegram gave a send: UpdateShortSentMessage, or UpdateMessageID in Updates."""
    if isinstance(result, types.UpdateShortSentMessage):
        return result.id
    for u in getattr(result, "updates", None) or ():
        if isinstance(u, types.UpdateMessageID) and u.random_id == random_id:
            return u.id
    for u in getattr(result, "updates", None) or ():
        if isinstance(u, (types.UpdateNewMessage, types.UpdateNewChannelMessage)):
            return u.message.id
    return None


def translate(e: BaseException) -> Exception:
    """A Telethon error on send -> RetryLater (flood=True pauses the queue) or DeliveryRejected."""
    if isinstance(e, tg.FloodWaitError):
        return RetryLater(f"flood wait {e.seconds} s", after_s=max(1, e.seconds), flood=True)
    if isinstance(e, tg.SlowModeWaitError):  # per group, not global
        return RetryLater(f"slow mode {e.seconds} s", after_s=max(1, e.seconds))
    if isinstance(e, REJECTED):
        return DeliveryRejected(f"Telegram refused the chat: {type(e).__name__}")
    if isinstance(e, ValueError):  # Telethon could not resolve the chat id from its session
        return DeliveryRejected(f"unknown chat ({e})", deactivate=False)
    if isinstance(e, tg.RPCError):
        return RetryLater(f"Telegram error {type(e).__name__}")
    return RetryLater(f"network error {type(e).__name__}")


class BotSender:
    """Implements handlers.delivery.Sender for subscribers of kind 'telegram' (address = chat id)."""

    def __init__(self, invoke: Invoke, pacer: Pacer, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep):
        self.invoke = invoke
        self.pacer = pacer
        self.monotonic = monotonic
        self.sleep = sleep
        self.duplicates = 0

    async def _paced(self, chat_id: int) -> None:
        now = self.monotonic()
        at = self.pacer.reserve(chat_id, now)
        if at > now:
            await self.sleep(at - now)

    async def _call(self, request: Any) -> Any:
        try:
            return await self.invoke(request)
        except (tg.RPCError, ValueError, OSError, ConnectionError, asyncio.TimeoutError) as e:
            err = translate(e)
            if isinstance(err, RetryLater) and err.flood:
                self.pacer.pause_until(self.monotonic() + err.after_s)
            raise err from e

    async def send(self, message: OutgoingMessage) -> list[int]:
        try:
            chat_id = int(message.address)
        except ValueError:
            raise DeliveryRejected(f"not a Telegram chat id: {message.address[:40]!r}", deactivate=False) from None
        ids: list[int] = []
        edit_ids = list(message.edit_message_ids)
        for i, part in enumerate(message.html_parts):
            text, entities = tg_html.parse(part)
            if i < len(edit_ids) and await self._edit(chat_id, edit_ids[i], text, entities):
                ids.append(edit_ids[i])
                continue
            rid = part_random_id(message.random_id, i)
            await self._paced(chat_id)
            try:
                result = await self._call(functions.messages.SendMessageRequest(
                    peer=chat_id, message=text, random_id=rid, entities=entities or None, no_webpage=True))
            except RetryLater as e:
                if isinstance(e.__cause__, tg.RandomIdDuplicateError):
                    # Sent before (a crash between send and mark-sent): Telegram kept the first one.
                    self.duplicates += 1
                    log.info("outbox %d part %d was already delivered (random_id duplicate)", message.outbox_id, i)
                    continue
                raise
            mid = sent_message_id(result, rid)
            if mid is not None:
                ids.append(mid)
        return ids

    async def _edit(self, chat_id: int, message_id: int, text: str, entities: list) -> bool:
        """Follow-ups edit the alert in place (edits are idempotent). False when the alert can no
        longer be edited (deleted by the reader, too old): the caller sends it anew instead."""
        await self._paced(chat_id)
        try:
            await self._call(functions.messages.EditMessageRequest(
                peer=chat_id, id=message_id, message=text, entities=entities or None, no_webpage=True))
        except RetryLater as e:
            if isinstance(e.__cause__, tg.MessageNotModifiedError):
                return True
            if isinstance(e.__cause__, (tg.MessageIdInvalidError, tg.MessageEditTimeExpiredError)):
                return False
            raise
        return True
