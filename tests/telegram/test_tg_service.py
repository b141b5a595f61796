"""`tgwatch run` end to end over fake Telethon clients: history pass, live update, bot delivery,
a lost session degrading to delivery-only, and a clean stop. Real SQLite, real app wiring."""

from __future__ import annotations

import asyncio
import inspect
import time

from telethon import errors as tg
from telethon.tl import functions, types

from bot.app import run_telegram_service
from bot.models import Channel
from bot.telegram.fake_server import FakeBotServer
from bot.telegram.service import TelegramEdges
from config.secrets import Secret
from config.settings import AccessSettings, DatabaseSettings, IngestSettings, Settings, TelegramSettings
from storage import channel_sync, channels, posts, subscribers
from storage.db import open_database
from tgfakes import T0, msg

CID = 1234567


def _dialog(channel_id: int, top: int) -> types.Dialog:
    """A Dialog for any API layer: the unread counters differ between Telethon versions."""
    params = inspect.signature(types.Dialog.__init__).parameters
    kw = {n: 0 for n, p in params.items() if n != "self" and p.default is inspect.Parameter.empty}
    kw.update(peer=types.PeerChannel(channel_id), top_message=top, notify_settings=types.PeerNotifySettings())
    return types.Dialog(**kw)


class FakeUserClient:
    """The few TelegramClient methods the user side uses, over in-memory channel history."""

    def __init__(self, history: dict[int, list]):
        self.history = history
        self.handlers: list = []
        self.connected = False
        self.fail_with: BaseException | None = None
        self.requests: list = []
        self.changed = asyncio.Event()

    async def connect(self):
        self.connected = True
        self.connects = getattr(self, "connects", 0) + 1

    def is_connected(self):
        return self.connected

    async def is_user_authorized(self):
        return True

    async def disconnect(self):
        self.connected = False

    def add_event_handler(self, callback, event):
        self.handlers.append((callback, event))

    async def get_input_entity(self, peer):
        """The session cache: knows the watched channel (added offline, without its access hash)."""
        if isinstance(peer, types.PeerChannel) and peer.channel_id in self.history:
            return types.InputPeerChannel(peer.channel_id, 42)
        raise ValueError("Could not find the input entity")

    async def emit(self, update):
        for callback, event in self.handlers:
            if isinstance(update, tuple(event.types)):
                await callback(update)

    async def __call__(self, request):
        self.requests.append(type(request).__name__)
        self.changed.set()
        if self.fail_with is not None:
            raise self.fail_with
        assert isinstance(request, functions.messages.GetPeerDialogsRequest)
        dialogs = []
        for p in request.peers:
            cid = p.peer.channel_id
            top = max((m.id for m in self.history.get(cid, [])), default=0)
            dialogs.append(_dialog(cid, top))
        return types.messages.PeerDialogs(dialogs=dialogs, messages=[], chats=[], users=[],
                                          state=types.updates.State(pts=1, qts=0, date=T0, seq=0, unread_count=0))

    async def iter_messages(self, peer, limit=None, min_id=0, reverse=False):
        self.requests.append("GetHistoryRequest")
        msgs = sorted(self.history.get(peer.channel_id, []), key=lambda m: m.id)
        picked = [m for m in msgs if m.id > min_id][:limit] if reverse else list(reversed(msgs))[:limit]
        for m in picked:
            yield m


class FakeBotClient:
    def __init__(self, server: FakeBotServer):
        self.server = server
        self.commands: list = []
        self.handlers: list = []

    async def start(self, bot_token):
        assert bot_token == "123:abc"

    async def get_me(self):
        return types.User(id=1, username="tgw_bot", bot=True)

    def add_event_handler(self, callback, event):
        self.handlers.append((callback, event))

    async def __call__(self, request):
        if isinstance(request, functions.bots.SetBotCommandsRequest):
            self.commands = [c.command for c in request.commands]
            return True
        return await self.server(request)

    async def disconnect(self):
        pass


def _settings(tmp_path) -> Settings:
    return Settings(
        database=DatabaseSettings(path=tmp_path / "t.db"),
        telegram=TelegramSettings(api_id=1, api_hash=Secret("x" * 32), bot_token=Secret("123:abc")),
        ingest=IngestSettings(reconcile_interval_s=3600),
        access=AccessSettings(operators=(999,)),
    )


async def _prepare(settings):
    db = await open_database(settings.database.path)
    async with db.transaction():
        await channels.upsert(db, Channel(CID, username="pul_pervogo"), T0)
        await channel_sync.set_cursor(db, CID, 9, T0, history=False)
        await subscribers.upsert(db, "telegram", "101", T0)
    await db.close()


async def _until(server: FakeBotServer, pred, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not pred():
        server.changed.clear()
        await asyncio.wait_for(server.changed.wait(), timeout=max(0.01, deadline - time.monotonic()))


async def test_run_captures_history_and_live_and_delivers_then_stops(tmp_path):
    settings = _settings(tmp_path)
    await _prepare(settings)
    user = FakeUserClient({CID: [msg(CID, 10, "Президент помиловал 5 человек")]})
    server = FakeBotServer(time.monotonic)
    bot = FakeBotClient(server)
    edges = TelegramEdges(settings, user=user, bot=bot)
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram_service(settings, {}, edges=edges, stop=stop))
    await asyncio.wait_for(edges.started.wait(), 10)
    await _until(server, lambda: len(server.delivered) == 1)  # the history pass found post 10
    await user.emit(types.UpdateNewChannelMessage(msg(CID, 11, "Освобождены двое"), pts=2, pts_count=1))
    await _until(server, lambda: len(server.delivered) == 2)  # the live path delivered post 11
    stop.set()
    assert await asyncio.wait_for(task, 20) == 0
    assert [d.chat_id for d in server.delivered] == [101, 101]
    assert "start" in bot.commands and server.rejected == 0
    db = await open_database(settings.database.path)
    try:
        assert (await posts.get(db, CID, 10)).source == "history"
        assert (await posts.get(db, CID, 11)).source == "live"
        assert (await channel_sync.get(db, CID)).history_cursor_id == 11
    finally:
        await db.close()


async def test_lost_session_tells_operators_once_and_keeps_delivering(tmp_path):
    settings = _settings(tmp_path)
    await _prepare(settings)
    user = FakeUserClient({CID: []})
    user.fail_with = tg.AuthKeyUnregisteredError(request=None)
    server = FakeBotServer(time.monotonic)
    edges = TelegramEdges(settings, user=user, bot=FakeBotClient(server))
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram_service(settings, {}, edges=edges, stop=stop))
    await _until(server, lambda: len(server.delivered) == 1)
    notice = server.delivered[0]
    assert notice.chat_id == 999 and "tgwatch login" in notice.text
    assert edges.degraded and not user.connected
    stop.set()
    assert await asyncio.wait_for(task, 20) == 0


async def test_reconnect_triggers_a_reconcile_pass(tmp_path):
    settings = _settings(tmp_path)
    await _prepare(settings)
    user = FakeUserClient({CID: [msg(CID, 10, "news")]})
    edges = TelegramEdges(settings, user=user, bot=FakeBotClient(FakeBotServer(time.monotonic)), check_s=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram_service(settings, {}, edges=edges, stop=stop))
    await asyncio.wait_for(edges.started.wait(), 10)

    async def dialog_requests(n):
        while user.requests.count("GetPeerDialogsRequest") < n:
            user.changed.clear()
            await asyncio.wait_for(user.changed.wait(), 10)

    await dialog_requests(1)  # the pass on start
    user.connected = False  # the connection drops; the supervisor reconnects and kicks a pass
    await dialog_requests(2)
    assert user.connects == 2
    stop.set()
    assert await asyncio.wait_for(task, 20) == 0


async def test_refused_bot_token_is_a_clear_error(tmp_path):
    import pytest

    from bot.errors import UserError

    settings = _settings(tmp_path)
    bot = FakeBotClient(FakeBotServer(time.monotonic))

    async def refuse(bot_token):
        raise tg.AccessTokenInvalidError(request=None)

    bot.start = refuse
    edges = TelegramEdges(settings, user=FakeUserClient({}), bot=bot)
    with pytest.raises(UserError, match="bot_token"):
        await run_telegram_service(settings, {}, edges=edges, stop=asyncio.Event())
