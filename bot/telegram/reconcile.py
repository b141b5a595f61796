"""EDGE: the guarantee path. Finds and captures whatever the live path missed, within Telegram's
history rate limit.

A pass: one dialogs request per 100 joined channels tells each channel's top message id;
history is read (oldest first, 100 per request, from the channel's history cursor) ONLY where
the top id passed the cursor, and only while the GetHistory budget (carried over between
passes) allows; the rest waits for the next pass. Channels we cannot join have no dialog and
are read at a slower cadence. Runs on start, after every reconnect and periodically (jittered).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Protocol, Sequence

from telethon.errors import FloodWaitError, RPCError

from bot.models import Channel
from bot.telegram.albums import group_posts
from bot.telegram.convert import to_post
from bot.telegram.errors import ChannelUnresolved, SessionLost, channel_state, is_session_lost, mark_channel
from bot.telegram.ingest import ingest
from config.settings import IngestSettings
from handlers.deps import Deps
from handlers.notices import notify_operators
from storage import channel_sync, channels, events

log = logging.getLogger(__name__)

PAGE = 100  # messages per GetHistory request (Telegram's maximum)
DIALOG_BATCH = 100  # channels per messages.getPeerDialogs request
LONG_FLOOD_S = 600  # a history flood wait this long is told to operators (gaps stay unfilled meanwhile)


class HistorySource(Protocol):
    """The two Telegram reads a pass needs. Each call is ONE request."""

    async def top_message_ids(self, chans: Sequence[Channel]) -> dict[int, int]:
        """messages.getPeerDialogs for up to 100 joined channels: channel_id -> top message id.
        Channels without a dialog (not joined) are absent."""

    async def history(self, chan: Channel, min_id: int | None, limit: int) -> list:
        """One GetHistory: the oldest `limit` messages with id > min_id, oldest first; with
        min_id None, the newest `limit` messages. Returns Telethon Message/MessageService objects."""


class HistoryBudget:
    """Token bucket for GetHistory: `per_30s` requests per 30 s, burst `per_30s`. Outlives passes."""

    def __init__(self, per_30s: int, monotonic: Callable[[], float] = time.monotonic):
        self.capacity = float(per_30s)
        self.rate = per_30s / 30.0
        self.tokens = float(per_30s)
        self.monotonic = monotonic
        self._at = monotonic()

    def _refill(self) -> None:
        now = self.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    def try_take(self) -> bool:
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate)


@dataclass
class PassReport:
    channels: int = 0
    dialog_requests: int = 0
    history_reads: int = 0
    moved: int = 0
    posts_new: int = 0
    deferred: int = 0
    failed: int = 0
    failed_ids: set[int] = field(default_factory=set)


class Reconciler:
    def __init__(self, deps: Deps, source: HistorySource, settings: IngestSettings, *,
                 monotonic: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
                 before_pass: Callable[[], Awaitable[None]] | None = None):
        self.deps = deps
        self.before_pass = before_pass
        self.source = source
        self.settings = settings
        self.budget = HistoryBudget(settings.history_requests_per_30s, monotonic)
        self.rng = rng or random.Random()
        self._kick = asyncio.Event()
        self.passes = 0
        self._unresolved_logged: set[int] = set()

    async def _flood_wait(self, e: FloodWaitError) -> float:
        """A flood wait on the history pass: wait it out before the next pass (live capture goes on);
        tell operators once when it is long, since gaps are not filled meanwhile. Returns the wait."""
        log.warning("reconcile pass hit a flood wait of %d s; the next pass waits for it", e.seconds)
        if e.seconds >= LONG_FLOOD_S:
            until = self.deps.clock() + timedelta(seconds=e.seconds)
            await notify_operators(
                self.deps, "flood", "history", "waiting",
                f"Telegram asked tgwatch to pause history reads for {e.seconds / 3600:.1f} h (flood wait), "
                f"until {until:%Y-%m-%d %H:%M} UTC. Live capture goes on; posts it misses are filled in after.",
            )
        return float(e.seconds)

    async def _flood_over(self) -> None:
        """A pass succeeded: a later long flood wait is told again."""
        if await events.current(self.deps.db, "flood", "history") == "waiting":
            async with self.deps.db.transaction():
                await events.transition(self.deps.db, "flood", "history", "ok", self.deps.clock())

    def kick(self) -> None:
        """Run a pass soon (after a reconnect, or when the live path saw a hole)."""
        self._kick.set()

    async def run_pass(self) -> PassReport:
        """One reconcile pass. Raises SessionLost when the user session is gone."""
        rep = PassReport()
        if self.before_pass is not None:
            await self.before_pass()
        now = self.deps.clock()
        watched = [c for c in await channels.list_all(self.deps.db) if c.status in ("active", "unjoinable")]
        rep.channels = len(watched)
        sync = await channel_sync.get_all_for(self.deps.db, [c.channel_id for c in watched])
        tops: dict[int, int] = {}
        joined = [c for c in watched if c.status == "active"]
        for i in range(0, len(joined), DIALOG_BATCH):
            tops.update(await self._tops(joined[i:i + DIALOG_BATCH], rep))
        # Channels with a dialog: initialise their cursor, then pick the ones that moved.
        queue: list[tuple[Channel, int | None]] = []
        async with self.deps.db.transaction():
            for c in joined:
                if c.channel_id in tops and c.channel_id not in sync:
                    start = c.last_seen_message_id or tops[c.channel_id]
                    await channel_sync.set_cursor(self.deps.db, c.channel_id, start, now, history=False)
            await channel_sync.set_top(self.deps.db, tops, now)
        sync = await channel_sync.get_all_for(self.deps.db, [c.channel_id for c in watched])
        slow_before = now - timedelta(seconds=self.settings.unjoinable_interval_s)
        for c in watched:
            st = sync.get(c.channel_id)
            if c.channel_id in tops:
                if tops[c.channel_id] > st.history_cursor_id:
                    queue.append((c, tops[c.channel_id]))
            elif c.channel_id not in rep.failed_ids and (
                st is None or st.last_history_at is None or st.last_history_at <= slow_before
            ):
                queue.append((c, None))  # not joined: history at the slower cadence
        rep.moved = len(queue)
        epoch = datetime.min.replace(tzinfo=now.tzinfo)
        queue.sort(key=lambda q: (sync[q[0].channel_id].last_history_at or epoch) if q[0].channel_id in sync else epoch)
        await self._read(deque(queue), sync, rep)
        self.passes += 1
        if rep.history_reads or rep.failed or rep.deferred:
            log.info("reconcile pass: %d channels, %d moved, %d dialog requests, %d history reads, "
                     "%d new posts, %d deferred", rep.channels, rep.moved, rep.dialog_requests,
                     rep.history_reads, rep.posts_new, rep.deferred)
        return rep

    async def _tops(self, batch: list[Channel], rep: PassReport) -> dict[int, int]:
        """One dialogs request; a batch failing because of one channel is bisected to find it."""
        rep.dialog_requests += 1
        try:
            return await self.source.top_message_ids(batch)
        except RPCError as e:
            if is_session_lost(e):
                raise SessionLost(str(e)) from e
            if channel_state(e) is None:
                raise
            if len(batch) == 1:
                await self._channel_failed(batch[0], e, rep)
                return {}
            mid = len(batch) // 2
            return {**await self._tops(batch[:mid], rep), **await self._tops(batch[mid:], rep)}

    async def _channel_failed(self, c: Channel, e: BaseException, rep: PassReport) -> None:
        rep.failed += 1
        rep.failed_ids.add(c.channel_id)
        await mark_channel(self.deps, c.channel_id, _name(c), channel_state(e) or "private", e)

    async def _read(self, queue: deque, sync: dict, rep: PassReport) -> None:
        cursors = {c.channel_id: (sync[c.channel_id].history_cursor_id if c.channel_id in sync else 0)
                   for c, _ in queue}
        filled: dict[int, list[int]] = {}
        while queue:
            if not self.budget.try_take():
                rep.deferred = len(queue)
                break
            c, top = queue.popleft()
            cursor = cursors[c.channel_id]
            fresh = c.channel_id not in sync
            try:
                page = await self.source.history(c, None if fresh else cursor, 1 if fresh else PAGE)
            except ChannelUnresolved:
                rep.failed_ids.add(c.channel_id)
                if c.channel_id not in self._unresolved_logged:
                    self._unresolved_logged.add(c.channel_id)
                    log.warning("channel %s was added offline (--id) and Telegram cannot resolve it; "
                                "add it again with `tgwatch channels add @name`", c.channel_id)
                continue
            except RPCError as e:
                if is_session_lost(e):
                    raise SessionLost(str(e)) from e
                if channel_state(e) is None:
                    raise
                await self._channel_failed(c, e, rep)
                continue
            finally:
                rep.history_reads += 1
            more = await self._apply(c, None if fresh else cursor, top, page, cursors, filled, rep)
            sync.setdefault(c.channel_id, None)
            if more:
                queue.append((c, top))
        for cid, ids in filled.items():
            log.info("channel %s: history pass captured %d posts the live path missed (ids %d..%d)",
                     cid, len(ids), min(ids), max(ids))

    async def _apply(self, c: Channel, cursor: int | None, top: int | None, page: list, cursors: dict,
                     filled: dict, rep: PassReport) -> bool:
        """Capture one page; move the cursor. True when more history remains after it."""
        now = self.deps.clock()
        ids = sorted(m.id for m in page)
        if cursor is None:  # a channel never read: start from its newest message, capture nothing older
            cursor, new_cursor, more = 0, (ids[-1] if ids else 0), False
            posts = []
        else:
            full = len(page) >= PAGE
            posts = group_posts(p for p in (to_post(m, c.username) for m in page) if p is not None)
            if full and posts and posts[-1].grouped_id is not None and len(posts) > 1:
                # The album at the end of a full page may continue on the next page: read it again then.
                held = posts.pop()
                new_cursor = min(held.album_message_ids or (held.message_id,)) - 1
            else:
                new_cursor = ids[-1] if ids else cursor
            more = full
            if not full and top is not None:
                new_cursor = max(new_cursor, top)
        for post in posts:
            result = await ingest(post, self.deps, source="history")
            if result.outcome == "new":
                rep.posts_new += 1
                if c.status == "active":
                    filled.setdefault(c.channel_id, []).append(post.message_id)
        cursors[c.channel_id] = max(cursor, new_cursor)
        async with self.deps.db.transaction():
            await channel_sync.set_cursor(self.deps.db, c.channel_id, cursors[c.channel_id], now)
        return more and new_cursor > cursor

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Passes until `stop`: now, then every interval (+ jitter), sooner when kicked or deferred."""
        while not stop.is_set():
            self._kick.clear()
            rep = PassReport()
            flood_s = 0.0
            try:
                rep = await self.run_pass()
                await self._flood_over()
            except SessionLost:
                raise
            except FloodWaitError as e:
                flood_s = await self._flood_wait(e)
            except (RPCError, OSError, ConnectionError, asyncio.TimeoutError) as e:
                log.warning("reconcile pass failed (%s); retrying at the next pass", type(e).__name__)
            except Exception:  # a bug must not end capture for good: say it loudly, try again next pass
                log.exception("reconcile pass crashed; retrying at the next pass")
            delay = self.settings.reconcile_interval_s + self.rng.uniform(0, self.settings.reconcile_jitter_s)
            if rep.deferred:
                delay = min(delay, max(1.0, self.budget.wait_s() * 2))
            delay = max(delay, flood_s)  # asking again during a flood wait only prolongs it
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._kick.wait())]
            try:
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()


def _name(c: Channel) -> str:
    return f"@{c.username}" if c.username else f"{c.title or 'id'} ({c.channel_id})"
