"""EDGE: adding a channel through Telegram: resolve @name once (id + access hash), join it (live
updates only arrive for joined channels), set its history cursor, and optionally backfill."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from telethon import errors as tg
from telethon.tl import functions, types

from bot.errors import UserError
from bot.models import Channel
from bot.telegram.albums import group_posts
from bot.telegram.convert import to_post
from bot.telegram.errors import SessionLost, is_session_lost
from bot.telegram.history import input_channel
from bot.telegram.ingest import ingest
from handlers.deps import Deps
from storage import channel_sync

log = logging.getLogger(__name__)

# A join Telegram refuses for this account; the channel can still be read from history if public.
UNJOINABLE = (tg.ChannelsTooMuchError, tg.InviteRequestSentError, tg.ChannelPrivateError,
              tg.UserBannedInChannelError, tg.ChannelBannedError)


async def resolve_and_join(client: Any, username: str) -> Channel:
    """Look @username up and join it. status 'unjoinable' when the join is refused.

    Raises UserError for names that are not channels, SessionLost when the session is gone.
    """
    try:
        entity = await client.get_entity(username)
    except (tg.UsernameNotOccupiedError, tg.UsernameInvalidError, ValueError):
        raise UserError(f"@{username} does not exist on Telegram; check the spelling") from None
    except tg.RPCError as e:
        if is_session_lost(e):
            raise SessionLost(str(e)) from e
        raise UserError(f"Telegram would not resolve @{username} ({type(e).__name__}); try again later") from None
    if not isinstance(entity, types.Channel):
        raise UserError(f"@{username} is a user or a small group, not a channel; only channels can be watched")
    status = "active"
    if getattr(entity, "left", True):
        try:
            await client(functions.channels.JoinChannelRequest(input_channel(_channel(entity, username))))
        except UNJOINABLE as e:
            log.warning("cannot join @%s (%s): it will be read from history at the slower cadence",
                        username, type(e).__name__)
            status = "unjoinable"
        except tg.RPCError as e:
            if is_session_lost(e):
                raise SessionLost(str(e)) from e
            raise
    return _channel(entity, username, status)


def _channel(entity: types.Channel, username: str, status: str = "active") -> Channel:
    return Channel(channel_id=entity.id, username=entity.username or username, title=entity.title,
                   access_hash=entity.access_hash, status=status)


async def start_capture(client: Any, deps: Deps, ch: Channel, *, backfill: int = 0,
                        since: datetime | None = None) -> int:
    """Set the history cursor at the channel's newest message, capturing `backfill` older messages
    (or all since `since`) first, without alerts. Returns the number of posts captured."""
    peer = input_channel(ch)
    newest = [m async for m in client.iter_messages(peer, limit=1)]
    top = newest[0].id if newest else 0
    messages: list = []
    if since is not None:
        messages = [m async for m in client.iter_messages(peer, offset_date=since, reverse=True)]
    elif backfill > 0:
        messages = [m async for m in client.iter_messages(peer, limit=backfill)]
    captured = 0
    for post in group_posts(p for p in (to_post(m, ch.username) for m in messages) if p is not None):
        result = await ingest(post, deps, source="backfill", alert=False)
        captured += result.outcome == "new"
    async with deps.db.transaction():
        await channel_sync.set_cursor(deps.db, ch.channel_id, max([top] + [m.id for m in messages]), deps.clock(),
                                      history=False)
    return captured


async def add_channel_online(settings: Any, deps: Deps, ref: str, *, backfill: int = 0,
                             since: datetime | None = None) -> tuple[Channel, int]:
    """`tgwatch channels add @name` with Telegram: resolve, join, store, start capture. Idempotent;
    a channel already watched keeps its history cursor unless a backfill is asked for."""
    from bot.telegram.client import build_client
    from bot.telegram.errors import mark_channel
    from handlers.channels import add_channel, parse_channel_ref

    name = parse_channel_ref(ref)  # a bad name fails before anything else
    t = settings.telegram
    if not t.api_id or not t.api_hash:
        raise UserError(f"resolving @{name} needs Telegram: set [telegram] api_id and api_hash and run "
                        "`tgwatch login`, or pass --id CHANNEL_ID to add it offline")
    client = build_client(settings, "user")
    try:
        await client.connect()
        if not await client.is_user_authorized():
            raise UserError("the user session is not logged in; run `tgwatch login` first")
        ch = await add_channel(ref, deps, resolve=lambda name: resolve_and_join(client, name))
        if ch.status == "unjoinable":
            await mark_channel(deps, ch.channel_id, f"@{ch.username}", "unjoinable", "join refused")
        captured = 0
        if await channel_sync.get(deps.db, ch.channel_id) is None or backfill or since:
            captured = await start_capture(client, deps, ch, backfill=backfill, since=since)
        return ch, captured
    except SessionLost:
        raise UserError("the user session stopped working (revoked or expired); run `tgwatch login` again") from None
    except tg.FloodWaitError as e:
        raise UserError(f"Telegram asks to wait {e.seconds} s before more requests; try again then") from None
    except tg.RPCError as e:
        if is_session_lost(e):
            raise UserError("the user session stopped working; run `tgwatch login` again") from None
        raise UserError(f"Telegram refused the request ({type(e).__name__}); try again later") from None
    except OSError as e:
        raise UserError(f"cannot reach the Telegram server ({e.strerror or type(e).__name__}); "
                        "check the network and the [telegram] server_* settings") from None
    finally:
        await client.disconnect()
