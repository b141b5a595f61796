"""Operator use cases for watched channels: add, list, remove. No Telegram here: resolving a
@name to an id goes through the `resolve` port that the Telegram edge provides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Awaitable, Callable

from bot.errors import UserError
from bot.models import Channel
from handlers.deps import Deps
from storage import channels

Resolver = Callable[[str], Awaitable[Channel]]

_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


def parse_channel_ref(ref: str) -> str:
    """'@name', 'name', 't.me/name' or 'https://t.me/name' -> 'name'; raises UserError otherwise."""
    raw = (ref or "").strip()
    for prefix in ("https://t.me/", "http://t.me/", "t.me/"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix):].split("/")[0].split("?")[0]
    raw = raw.lstrip("@")
    if not _USERNAME.match(raw):
        shown = ref if len(ref) <= 40 else ref[:40] + "…"
        raise UserError(
            f"{shown!r} is not a channel username: expected @name (5-32 letters, digits or _), or a t.me/name link"
        )
    return raw


@dataclass(frozen=True)
class ChannelView:
    channel: Channel
    last_post_at: datetime | None
    lag_s: float | None  # last capture minus the post's own date, when known


async def add_channel(ref: str, deps: Deps, *, resolve: Resolver | None = None, channel_id: int | None = None) -> Channel:
    """Watch a channel. With `channel_id` no network is needed (offline set-up, tests); otherwise
    `resolve` (the Telegram edge) looks the name up and joins. Idempotent."""
    username = parse_channel_ref(ref)
    if channel_id is not None:
        if channel_id <= 0:
            raise UserError(f"--id must be a positive channel id, got {channel_id}")
        ch = Channel(channel_id=channel_id, username=username)
    elif resolve is not None:
        ch = await resolve(username)
    else:
        raise UserError(
            f"resolving @{username} needs Telegram: configure [telegram] and run `tgwatch login`, "
            "or pass --id CHANNEL_ID to add it offline"
        )
    now = deps.clock()
    async with deps.db.transaction():
        await channels.upsert(deps.db, ch, now)
        await channels.set_status(deps.db, ch.channel_id, ch.status, now)
    return await channels.get(deps.db, ch.channel_id)


async def remove_channel(ref: str, deps: Deps) -> Channel:
    """Stop watching; captured posts stay in the archive."""
    ch = await channels.find(deps.db, ref)
    if ch is None or ch.status == "removed":
        raise UserError(f"No channel {ref} is watched; see `tgwatch channels list`.")
    async with deps.db.transaction():
        await channels.set_status(deps.db, ch.channel_id, "removed", deps.clock())
    return ch


async def list_channels(deps: Deps) -> list[ChannelView]:
    rows = await deps.db.fetchall(
        """SELECT c.channel_id, c.last_post_at,
             (SELECT julianday(p.captured_at) - julianday(p.posted_at) FROM posts p
              WHERE p.channel_id = c.channel_id ORDER BY p.message_id DESC LIMIT 1) AS lag_days
           FROM channels c WHERE c.status != 'removed'"""
    )
    extra = {r["channel_id"]: r for r in rows}
    out = []
    for ch in await channels.list_all(deps.db):
        r = extra.get(ch.channel_id)
        from bot.timeutil import parse_iso

        lag = r["lag_days"] * 86400 if r and r["lag_days"] is not None else None
        out.append(ChannelView(ch, parse_iso(r["last_post_at"]) if r else None, lag))
    return out
