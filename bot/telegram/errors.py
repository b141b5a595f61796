"""EDGE: Telethon errors -> our states. What a channel error means for the channel, which errors
mean the user session is gone, and the one-time operator notices for both."""

from __future__ import annotations

import logging

from telethon import errors as tg

from bot.errors import TgwatchError
from handlers.deps import Deps
from handlers.notices import notify_operators_in_tx
from storage import channels, events

log = logging.getLogger(__name__)

# Errors that mean the account lost access to one channel; the other channels go on.
CHANNEL_STATES: tuple[tuple[type[BaseException], str], ...] = (
    (tg.ChannelBannedError, "banned"),
    (tg.UserBannedInChannelError, "banned"),
    (tg.ChannelPrivateError, "private"),
    (tg.ChannelInvalidError, "deleted"),
    (tg.ChannelPublicGroupNaError, "private"),
)

# Errors that mean the user session is unusable: nothing will work until `tgwatch login`.
SESSION_LOST: tuple[type[BaseException], ...] = (
    tg.AuthKeyUnregisteredError,
    tg.SessionRevokedError,
    tg.SessionExpiredError,
    tg.AuthKeyDuplicatedError,
    tg.UserDeactivatedError,
    tg.UserDeactivatedBanError,
)


class ChannelUnresolved(TgwatchError):
    """No access hash for a channel (added offline with --id) and Telegram cannot resolve it."""


class SessionLost(TgwatchError):
    """The Telegram session was revoked, expired or the account deactivated; run `tgwatch login`."""


def channel_state(e: BaseException) -> str | None:
    """'private' | 'banned' | 'deleted' for errors about one channel, else None."""
    for cls, state in CHANNEL_STATES:
        if isinstance(e, cls):
            return state
    return None


def is_session_lost(e: BaseException) -> bool:
    return isinstance(e, SESSION_LOST)


_CHANNEL_TEXT = {
    "private": "became private or the account was removed from it",
    "banned": "banned the watching account",
    "deleted": "no longer exists (or its id is invalid)",
    "unjoinable": "cannot be joined (join refused or the account is in 500 channels); "
                  "it is still read from history, every few minutes instead of live",
}


async def mark_channel(deps: Deps, channel_id: int, name: str, state: str, error: BaseException | str) -> bool:
    """Record a channel's new state and tell operators once. Returns True when the state changed."""
    now = deps.clock()
    detail = type(error).__name__ if isinstance(error, BaseException) else str(error)
    async with deps.db.transaction():
        changed = await channels.set_status(deps.db, channel_id, state, now, detail)
        told = await notify_operators_in_tx(
            deps, "channel", str(channel_id), state,
            f"Channel {name} {_CHANNEL_TEXT.get(state, state)}. "
            + ("Capture of it has stopped; the other channels go on. " if state != "unjoinable" else "")
            + "See `tgwatch channels list`.",
        )
    if changed:
        log.warning("channel %s is now %s (%s)", channel_id, state, detail)
    if told:
        deps.wake()
    return changed


async def report_session_lost(deps: Deps, which: str, error: BaseException) -> None:
    """Tell operators once that the user (or bot) session is gone, and what to do."""
    async with deps.db.transaction():
        told = await notify_operators_in_tx(
            deps, "session", which, "lost",
            f"The Telegram {which} session stopped working ({type(error).__name__}). "
            + ("Capture has stopped; queued alerts are still delivered. Run `tgwatch login` and restart tgwatch."
               if which == "user" else "Check the bot token from @BotFather and restart tgwatch."),
        )
    log.error("telegram %s session lost (%s): %s", which, type(error).__name__,
              "capture stopped, run `tgwatch login`" if which == "user" else "check the bot token")
    if told:
        deps.wake()


async def report_session_ok(deps: Deps, which: str) -> None:
    """Record that the session works (so a later loss is told again)."""
    async with deps.db.transaction():
        await events.transition(deps.db, "session", which, "ok", deps.clock())
