"""EDGE: running both Telegram clients for `tgwatch run`: the user client feeds the live reader and
the reconcile passes; the bot client delivers the outbox (sender.py) and answers commands (bot.py).

States: a lost user session (revoked, account deactivated) is told to operators once and leaves
the service DEGRADED: capture stops, the bot keeps delivering queued alerts and notices and
answering commands, until SIGTERM; then `tgwatch login` and a restart. A disconnect is retried
with backoff and followed by a reconcile pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from contextlib import suppress
from typing import Any

from telethon.errors import RPCError

from bot.errors import UserError
from bot.telegram.bot import BotFrontend, register_commands
from bot.telegram.client import build_client, session_path_for, tighten
from bot.telegram.errors import SessionLost, is_session_lost, report_session_lost, report_session_ok
from bot.telegram.history import TelethonHistory
from bot.telegram.pacing import Limits, Pacer
from bot.telegram.reader import LiveReader
from bot.telegram.reconcile import Reconciler
from bot.telegram.sender import BotSender
from config.settings import Settings
from handlers.deps import Deps

log = logging.getLogger(__name__)


def _report_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("capture task %s stopped: %r", task.get_name(), task.exception())


class TelegramEdges:
    """Owns the two clients and the capture tasks. `senders()` before the service is built,
    `start(deps)` once it is, `run_until(stop)`, then `close()`."""

    def __init__(self, settings: Settings, *, check_s: float = 5.0, user: Any = None, bot: Any = None):
        """`user`/`bot` replace the real clients (tests pass fakes with the same few methods)."""
        self.settings = settings
        self.check_s = check_s
        self.user = user if user is not None else build_client(settings, "user")
        if bot is None and settings.telegram.bot_token:
            bot = build_client(settings, "bot")
        self.bot = bot
        self.sender = BotSender(self.bot, Pacer(Limits.from_settings(settings.delivery))) if self.bot else None
        self.degraded = False
        self.started = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def senders(self) -> dict[str, Any]:
        return {"telegram": self.sender} if self.sender else {}

    async def start(self, deps: Deps) -> None:
        """Connect and check both sessions. Raises UserError (what to do) when either cannot start."""
        self.deps = deps
        try:
            await self._start(deps)
        except OSError as e:
            raise UserError(f"cannot reach the Telegram server ({e.strerror or type(e).__name__}); "
                            "check the network and the [telegram] server_* settings") from None
        except RPCError as e:
            if is_session_lost(e):
                raise UserError(f"the user session stopped working ({type(e).__name__}); "
                                "run `tgwatch login` again") from None
            raise UserError(f"Telegram refused to start ({type(e).__name__}); if it names the bot token, "
                            "check [telegram] bot_token from @BotFather") from None

    async def _start(self, deps: Deps) -> None:
        await self.user.connect()
        if not await self.user.is_user_authorized():
            raise UserError("the user session is not logged in; run `tgwatch login` first")
        await report_session_ok(deps, "user")
        if self.bot is not None:
            await self.bot.start(bot_token=self.settings.telegram.bot_token.reveal())
            me = await self.bot.get_me()
            self.frontend = BotFrontend(self.bot, self._operator_deps(deps), me.username)
            self.frontend.register(self.bot)
            try:
                await register_commands(self.bot)
            except RPCError as e:
                log.warning("could not register the bot command menu (%s)", type(e).__name__)
            await report_session_ok(deps, "bot")
        else:
            log.warning("no [telegram] bot_token: alerts to Telegram subscribers stay queued")
        self.reader = LiveReader(deps, on_gap=lambda: self.reconciler.kick())
        # Each pass first reloads the watched set: `channels add` may run in another process.
        self.reconciler = Reconciler(deps, TelethonHistory(self.user), self.settings.ingest,
                                     before_pass=self.reader.refresh_watched)
        await self.reader.refresh_watched()
        self.reader.register(self.user)
        self.started.set()

    def _operator_deps(self, deps: Deps) -> Deps:
        """The bot's /watch resolves, joins and backfills through the user client (the Deps ports)."""
        from bot.telegram.channels import resolve_and_join, start_capture

        async def resolve(username: str):
            return await resolve_and_join(self.user, username)

        async def backfill(ch, n: int) -> int:
            return await start_capture(self.user, deps, ch, backfill=n)

        return dataclasses.replace(deps, resolve=resolve, backfill=backfill)

    async def run_until(self, stop: asyncio.Event) -> None:
        """Capture until `stop` is set. A lost session degrades instead of raising."""
        capture_stop = asyncio.Event()
        self._capture_stop = capture_stop
        self._tasks = [
            asyncio.create_task(self._reconcile(capture_stop), name="reconcile"),
            asyncio.create_task(self.reader.run_album_flusher(capture_stop), name="albums"),
            asyncio.create_task(self._supervise(capture_stop), name="connection"),
        ]
        for t in self._tasks:
            t.add_done_callback(_report_crash)
        await stop.wait()
        capture_stop.set()
        for t in self._tasks:
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, timeout=5)

    async def _reconcile(self, stop: asyncio.Event) -> None:
        try:
            await self.reconciler.run_forever(stop)
        except SessionLost as e:
            await self._lose_session(e, stop)

    async def _lose_session(self, e: BaseException, stop: asyncio.Event) -> None:
        if self.degraded:
            return
        self.degraded = True
        await report_session_lost(self.deps, "user", e.__cause__ or e)
        stop.set()  # capture stops; delivery and the bot go on
        with suppress(Exception):
            await self.user.disconnect()

    async def _supervise(self, stop: asyncio.Event) -> None:
        """Reconnect the user client with backoff; every reconnect triggers a reconcile pass."""
        backoff = 1.0
        while not stop.is_set():
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.check_s)
            if stop.is_set():
                return
            if self.user.is_connected():
                backoff = 1.0
                continue
            log.warning("user client disconnected; reconnecting")
            try:
                await self.user.connect()
                if not await self.user.is_user_authorized():
                    raise SessionLost("not authorized after reconnect")
            except SessionLost as e:
                await self._lose_session(e, stop)
                return
            except RPCError as e:
                if is_session_lost(e):
                    await self._lose_session(e, stop)
                    return
                log.warning("reconnect failed (%s); next try in %.0f s", type(e).__name__, backoff)
            except OSError as e:
                log.warning("reconnect failed (%s); next try in %.0f s", type(e).__name__, backoff)
            else:
                log.info("user client reconnected; running a reconcile pass")
                self.reconciler.kick()
                continue
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, 300.0)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for client in (self.user, self.bot):
            if client is not None:
                with suppress(Exception):
                    await client.disconnect()
        for which in ("user", "bot"):
            path = session_path_for(self.settings, which)
            if path is not None and path.exists():
                tighten(path)
