"""EDGE: the live path. Raw channel updates of the user client -> Post -> handle_post / handle_deletion.

Fast but not trusted alone (Telegram drops channel updates on long disconnects and quiet gaps):
a new message that does not follow the history cursor is logged once and kicks a reconcile pass.
Handles raw updates (UpdateNewChannelMessage, UpdateEditChannelMessage, UpdateDeleteChannelMessages)
so tests can feed offline Telethon objects through exactly this code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from telethon import events
from telethon.tl import types

from bot.errors import TgwatchError
from bot.models import Channel
from bot.telegram.albums import AlbumBuffer
from bot.telegram.convert import channel_id_of, to_post
from bot.telegram.ingest import advance_live_cursor, id_range, ingest
from handlers.deps import Deps
from handlers.posts import handle_deletion
from handlers.retry import retry_busy
from storage import channel_sync, channels

log = logging.getLogger(__name__)

UPDATE_TYPES = (types.UpdateNewChannelMessage, types.UpdateEditChannelMessage, types.UpdateDeleteChannelMessages)


class LiveReader:
    def __init__(self, deps: Deps, *, monotonic: Callable[[], float] = time.monotonic, album_quiet_s: float = 1.0,
                 on_gap: Callable[[], None] = lambda: None,
                 retry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.deps = deps
        # A database locked by another process (a backup, a CLI command) must not drop a live post:
        # every write here waits it out with handlers.retry.retry_busy (all of them are idempotent).
        self.retry_sleep = retry_sleep
        self.monotonic = monotonic
        self.albums = AlbumBuffer(album_quiet_s)
        self.on_gap = on_gap
        self.watched: dict[int, Channel] = {}
        self._gaps_logged: set[tuple[int, int]] = set()

    async def refresh_watched(self) -> None:
        """Reload the watched channels (a `channels add` in another process shows up here)."""
        self.watched = {c.channel_id: c for c in await channels.list_all(self.deps.db)
                        if c.status in ("active", "unjoinable")}

    def register(self, client) -> None:
        client.add_event_handler(self.on_update, events.Raw(types=list(UPDATE_TYPES)))

    async def on_update(self, update: object) -> None:
        """Entry point for one raw update. Errors are logged; the history pass fills what is lost."""
        try:
            if isinstance(update, types.UpdateNewChannelMessage):
                await self.on_message(update.message, edited=False)
            elif isinstance(update, types.UpdateEditChannelMessage):
                await self.on_message(update.message, edited=True)
            elif isinstance(update, types.UpdateDeleteChannelMessages):
                if update.channel_id in self.watched:
                    await self._retrying(lambda: handle_deletion(update.channel_id, list(update.messages), self.deps))
        except TgwatchError as e:
            log.error("live update not captured (%s); the history pass will retry it", e)

    async def on_message(self, message: object, *, edited: bool) -> None:
        cid = channel_id_of(getattr(message, "peer_id", None))
        ch = self.watched.get(cid) if cid is not None else None
        if ch is None:
            return
        if not isinstance(message, types.Message):  # service message: nothing to store, but an id used
            if not edited:
                await self._follow(cid, message.id, message.id)
            return
        post = to_post(message, ch.username)
        if post is None:
            return
        if post.grouped_id is not None:
            self.albums.add(post, self.monotonic())
            return
        await self._capture(post, edited=edited)

    async def _retrying(self, call):
        return await retry_busy(call, sleep=self.retry_sleep)

    async def _capture(self, post, *, edited: bool = False) -> None:
        # A new post moves the history cursor in its own capture transaction (no second one per post).
        follow = None if edited else id_range(post)
        result = await self._retrying(lambda: ingest(post, self.deps, source="live", follow=follow))
        if follow is not None and not result.cursor_moved:
            await self._gap(post.channel_id, follow[0])

    async def _follow(self, channel_id: int, first: int, last: int) -> None:
        if not await self._retrying(lambda: advance_live_cursor(self.deps, channel_id, first, last)):
            await self._gap(channel_id, first)

    async def _gap(self, channel_id: int, first: int) -> None:
        """A live id that did not move the cursor: log a hole once, and kick the history pass."""
        st = await channel_sync.get(self.deps.db, channel_id)
        if st is not None and first > st.history_cursor_id + 1:
            key = (channel_id, st.history_cursor_id)
            if key not in self._gaps_logged:
                self._gaps_logged.add(key)
                log.info("channel %s: live post %d arrived after %d; ids %d..%d not seen live, "
                         "the history pass will fetch them", channel_id, first, st.history_cursor_id,
                         st.history_cursor_id + 1, first - 1)
                self.on_gap()

    async def flush_albums(self, *, force: bool = False) -> int:
        """Capture albums whose parts stopped arriving (all of them with force=True)."""
        done = self.albums.flush_all() if force else self.albums.flush_due(self.monotonic())
        for post in done:
            try:
                await self._capture(post)
            except TgwatchError as e:
                log.error("album not captured (%s); the history pass will retry it", e)
        return len(done)

    async def run_album_flusher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            wait = self.albums.next_due_in(self.monotonic())
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.albums.quiet_s if wait is None else max(wait, 0.05))
            except asyncio.TimeoutError:
                pass
            await self.flush_albums()
        await self.flush_albums(force=True)
