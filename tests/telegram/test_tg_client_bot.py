"""Client construction (session files, custom servers) and the bot's conversation edge, offline."""

from __future__ import annotations

import stat

import pytest
import rsa as pyrsa
from telethon.crypto import AuthKey
from telethon.crypto import rsa as tg_rsa
from telethon.sessions import StringSession
from telethon.tl import functions, types

from bot.errors import ConfigError
from bot.telegram.bot import BotFrontend, bot_commands, incoming_from_callback, incoming_from_message
from bot.telegram.client import build_client
from config.secrets import Secret
from config.settings import Settings, TelegramSettings
from handlers import commands
from handlers.chat import Button, Reply
from storage import subscribers
from tgfakes import T0


def _settings(tmp_path, **kw) -> Settings:
    base = dict(api_id=12345, api_hash=Secret("0123456789abcdef"), session_path=tmp_path / "s" / "user.session",
                bot_session_path=tmp_path / "s" / "bot")
    return Settings(telegram=TelegramSettings(**{**base, **kw}))


def _mode(p) -> int:
    return stat.S_IMODE(p.stat().st_mode)


async def test_session_files_are_created_0600(tmp_path):
    s = _settings(tmp_path)
    user = build_client(s, "user")
    bot = build_client(s, "bot")
    try:
        assert _mode(tmp_path / "s" / "user.session") == 0o600
        assert _mode(tmp_path / "s" / "bot.session") == 0o600  # Telethon's extension added
        assert bot._request_retries == 1 and bot.flood_sleep_threshold == 0  # no silent retries/sleeps
    finally:
        user.session.close()
        bot.session.close()


async def test_string_session_is_used_when_configured(tmp_path):
    ss = StringSession()
    ss.set_dc(2, "149.154.167.40", 443)
    ss.auth_key = AuthKey(bytes(256))
    s = _settings(tmp_path, session_string=Secret(ss.save()))
    client = build_client(s, "user")
    assert isinstance(client.session, StringSession)
    assert not (tmp_path / "s" / "user.session").exists()


async def test_custom_server_sets_dc_and_trusts_its_key(tmp_path):
    pub, _ = pyrsa.newkeys(512)
    pem = tmp_path / "server.pem"
    pem.write_bytes(pub.save_pkcs1())
    s = _settings(tmp_path, server_dc_id=2, server_host="127.0.0.1", server_port=10443, server_rsa_key_file=pem)
    client = build_client(s, "user")
    try:
        assert (client.session.dc_id, client.session.server_address, client.session.port) == (2, "127.0.0.1", 10443)
        assert tg_rsa._compute_fingerprint(pub) in tg_rsa._server_keys
    finally:
        client.session.close()


async def test_bad_key_file_and_missing_api_are_config_errors(tmp_path):
    pem = tmp_path / "bad.pem"
    pem.write_text("not a key")
    with pytest.raises(ConfigError):
        build_client(_settings(tmp_path, server_rsa_key_file=pem), "user")
    with pytest.raises(ConfigError, match="my.telegram.org"):
        build_client(Settings(), "user")


def test_incoming_translation():
    m = types.Message(id=3, peer_id=types.PeerUser(501), date=T0, message="/start")
    msg = incoming_from_message(m)
    assert (msg.chat_id, msg.user_id, msg.chat_type, msg.text) == (501, 501, "private", "/start")
    g = types.Message(id=4, peer_id=types.PeerChannel(77), from_id=types.PeerUser(9), date=T0, message="/help@tgw_bot")
    msg = incoming_from_message(g)
    assert (msg.chat_id, msg.user_id, msg.chat_type) == (-1000000000077, 9, "group")
    q = types.UpdateBotCallbackQuery(query_id=1, user_id=501, peer=types.PeerUser(501), msg_id=3, chat_instance=1,
                                     data=b"sub:pardon")
    msg = incoming_from_callback(q)
    assert (msg.chat_id, msg.callback_data, msg.message_id) == (501, "sub:pardon", 3)


def test_command_menu_lists_every_public_command():
    menu = bot_commands()
    assert [c.command for c in menu] == [c.name for c in commands.COMMANDS if not c.operator_only]
    assert all(c.description for c in menu)
    req = functions.bots.SetBotCommandsRequest(scope=types.BotCommandScopeDefault(), lang_code="", commands=menu)
    assert req.to_dict()["commands"]


class RecordingClient:
    def __init__(self):
        self.sent: list[tuple] = []

    async def send_message(self, chat, text, **kw):
        self.sent.append(("send", chat, text, kw))

    async def edit_message(self, chat, mid, text, **kw):
        self.sent.append(("edit", chat, mid, text, kw))


async def test_start_command_subscribes_and_replies(deps):
    client = RecordingClient()
    front = BotFrontend(client, deps, "tgw_bot")
    m = types.Message(id=3, peer_id=types.PeerUser(501), date=T0, message="/start")
    await front.handle(incoming_from_message(m))
    sub = await subscribers.find(deps.db, "telegram", "501")
    assert sub is not None and sub.status == "active"
    assert client.sent[0][0] == "send" and client.sent[0][1] == 501 and client.sent[0][3]["parse_mode"] == "html"


async def test_replies_with_buttons_and_edits(deps):
    client = RecordingClient()
    front = BotFrontend(client, deps, "tgw_bot")
    await front.send_reply(Reply("pick", buttons=((Button("Pardons", "sub:pardon"),),)), 501)
    await front.send_reply(Reply("done", edit_message_id=9), 501)
    kind, chat, text, kw = client.sent[0]
    button = kw["buttons"][0][0]
    assert button.text == "Pardons"
    data = getattr(button, "data", None) or button.type.data  # the shape depends on the API layer
    assert data == b"sub:pardon"
    assert client.sent[1][:3] == ("edit", 501, 9)
