"""EDGE: `tgwatch login`: create the user session interactively (phone, code, 2FA password).

The prompts are injected (click in the CLI, scripted in tests). The session file is created 0600
before Telethon writes the key and checked again after; it is never printed or logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from telethon import errors as tg

from bot.errors import UserError
from bot.telegram.client import build_client, session_path_for, tighten
from config.settings import Settings

Prompt = Callable[[str, bool], str]  # (question, hide_input) -> answer


@dataclass(frozen=True)
class LoginResult:
    name: str
    user_id: int
    already: bool
    session: str  # where it is kept, for the person: a path or "session_string"


async def login(settings: Settings, prompt: Prompt) -> LoginResult:
    client = build_client(settings, "user")
    path = session_path_for(settings, "user")
    try:
        await client.connect()
        already = await client.is_user_authorized()
        if not already and settings.telegram.session_string:
            raise UserError("[telegram] session_string is set but not logged in; unset it to log in "
                            "into the session file, or put a valid StringSession there")
        if not already:
            try:
                await client.start(
                    phone=lambda: prompt("Phone number of the watching account (international format, +...)", False),
                    code_callback=lambda: prompt("Login code Telegram sent to that account", False),
                    password=lambda: prompt("Two-step verification password", True),
                    max_attempts=3,
                )
            except (tg.PhoneNumberInvalidError, tg.PhoneCodeInvalidError, tg.PhoneCodeExpiredError,
                    tg.PasswordHashInvalidError) as e:
                raise UserError(f"login failed ({type(e).__name__}); run `tgwatch login` again") from None
            except tg.FloodWaitError as e:
                raise UserError(f"Telegram asks to wait {e.seconds} s before another login attempt") from None
            except (ValueError, RuntimeError) as e:  # Telethon: too many wrong codes/passwords
                raise UserError(f"login failed: {e}; run `tgwatch login` again") from None
        me = await client.get_me()
        if getattr(me, "bot", False):
            raise UserError("that is a bot account; `tgwatch login` needs a user account (the bot uses bot_token)")
        name = " ".join(x for x in (me.first_name, me.last_name) if x) or (me.username or "?")
        return LoginResult(name, me.id, already, str(path) if path else "session_string")
    except OSError as e:
        raise UserError(f"cannot reach the Telegram server ({e.strerror or type(e).__name__}); "
                        "check the network and [telegram] server_* settings") from None
    finally:
        await client.disconnect()
        if path is not None:
            tighten(path)
