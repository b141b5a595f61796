"""EDGE: building Telethon clients from settings: the user client (capture) and the bot client (delivery).

A session file is full access to the account: it is created 0600 before Telethon opens it
(SQLite gives its -journal the same mode) and re-checked after; its path and contents are never
logged. A custom MTProto server (Telegram's test DCs, a self-hosted server) is set with
`session.set_dc` plus an extra RSA public key. Nothing here connects.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from telethon import TelegramClient
from telethon.crypto import rsa
from telethon.sessions import SQLiteSession, StringSession

from bot.errors import ConfigError
from config.settings import Settings, TelegramSettings

log = logging.getLogger(__name__)

SESSION_EXT = ".session"


def session_file(path: Path) -> Path:
    """The file Telethon will use for `path` (it appends .session when missing)."""
    return path if str(path).endswith(SESSION_EXT) else Path(str(path) + SESSION_EXT)


def secure_session_file(path: Path) -> Path:
    """Create the session file (and its folder) private to this user before Telethon opens it."""
    p = session_file(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    tighten(p)
    return p


def tighten(p: Path) -> None:
    """chmod 0600 the session file and any SQLite side file next to it."""
    for f in (p, Path(str(p) + "-journal"), Path(str(p) + "-wal"), Path(str(p) + "-shm")):
        if f.exists():
            os.chmod(f, 0o600)


_added_keys: set[str] = set()


def add_server_key(pem_file: Path) -> None:
    """Trust an extra RSA public key (PEM, PKCS#1) for a custom server. Idempotent."""
    pem = pem_file.read_text(encoding="ascii", errors="replace")
    if pem in _added_keys:
        return
    try:
        rsa.add_key(pem, old=False)
    except (ValueError, TypeError) as e:
        raise ConfigError([f"[telegram] server_rsa_key_file: {pem_file} is not an RSA public key in PEM "
                           f"(-----BEGIN RSA PUBLIC KEY-----) form ({type(e).__name__})"]) from None
    _added_keys.add(pem)


def _require_api(t: TelegramSettings) -> None:
    if not t.api_id or not t.api_hash:
        raise ConfigError(["[telegram] api_id and api_hash: required to talk to Telegram; get them at "
                           "https://my.telegram.org (API development tools), then run `tgwatch login`. "
                           "To try tgwatch without an account use `tgwatch run --replay FILE` or `tgwatch demo`"])


def build_client(settings: Settings, which: str) -> TelegramClient:
    """A not-yet-connected client: which='user' (capture, catch_up on) or 'bot' (delivery, commands)."""
    t = settings.telegram
    _require_api(t)
    if which == "user" and t.session_string:
        session = StringSession(t.session_string.reveal())
    else:
        path = secure_session_file(t.session_path if which == "user" else t.bot_session_path)
        session = SQLiteSession(str(path))
        tighten(path)
    if which == "user":
        # Telethon's own catch-up replays missed updates on start (file session only); the history
        # pass is still the guarantee.
        kwargs = dict(catch_up=t.catch_up)
    else:
        # One attempt per request, errors raised: our outbox retries, and Telethon must neither retry
        # RANDOM_ID_DUPLICATE as a server error nor sleep through a flood wait.
        kwargs = dict(request_retries=1, raise_last_call_error=True, flood_sleep_threshold=0)
    client = TelegramClient(session, t.api_id, t.api_hash.reveal(), base_logger="telethon", **kwargs)
    apply_custom_server(client, t)
    return client


def apply_custom_server(client: TelegramClient, t: TelegramSettings) -> bool:
    """Point the client at a custom MTProto server when configured. Returns True if it did."""
    if t.server_rsa_key_file:
        add_server_key(t.server_rsa_key_file)
    if not t.server_dc_id:
        return False
    client.session.set_dc(t.server_dc_id, t.server_host, t.server_port)
    log.info("using custom MTProto server: DC %d at %s:%d", t.server_dc_id, t.server_host, t.server_port)
    return True


def session_path_for(settings: Settings, which: str) -> Path | None:
    t = settings.telegram
    if which == "user" and t.session_string:
        return None
    return session_file(t.session_path if which == "user" else t.bot_session_path)
