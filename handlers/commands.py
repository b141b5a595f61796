"""Bot command registry and router (journalists and operators). Pure use cases over the database:
the Telegram edge only turns updates into IncomingMessage and sends the Replies (with buttons).

`COMMANDS` is what /help shows; `menu(lang, operator=...)` is what the edge registers with
Telegram (per language; the operator menu for operators' chats). `handle_message` routes a message
or a button press and never raises: bad input gets an `Error: ...` answer.

Contract with the Telegram edge (bot/telegram/):
- a button press arrives as IncomingMessage(callback_data=..., message_id=<the message carrying
  the buttons>); the edge answers the callback query itself;
- each Reply is sent to `chat_id` (None: the chat the update came from), as Telegram HTML, with
  `buttons` as an inline keyboard (callback data ≤ 64 bytes); `edit_message_id` means edit that
  message instead of sending a new one (menus after a press); every reply is ≤ 4096 UTF-16 units.
"""

from __future__ import annotations

import html
import logging

from bot.alerts import split_html, utf16_len
from bot.errors import TgwatchError, UserError
from bot.i18n import command_description, t
from handlers import commands_filters as filters
from handlers import commands_journalist as j
from handlers import commands_operator as op
from handlers import settings_menu
from handlers.bot_context import Ctx, load_subscriber, shown
from handlers.chat import BotCommand, IncomingMessage, Reply
from handlers.deps import Deps

log = logging.getLogger(__name__)

MAX_ARG_CHARS = 10_000
TELEGRAM_LIMIT = 4096


async def cmd_help(ctx: Ctx) -> list[Reply]:
    lines = [ctx.tr("help_head"), ""]
    for c in COMMANDS:
        if c.operator_only and not ctx.is_operator:
            continue
        desc = command_description(c.name, c.description, ctx.lang)
        lines.append(f"/{c.name} — {html.escape(desc, quote=False)}")
    return [Reply("\n".join(lines))]


def menu(lang: str = "en", *, operator: bool = False) -> list[tuple[str, str]]:
    """(name, description) pairs for Telegram's command menu in `lang`; the edge registers the
    journalist menu for everyone (per language) and the full one for operators' chats."""
    return [(c.name, command_description(c.name, c.description, lang)) for c in COMMANDS
            if operator or not c.operator_only]


COMMANDS: list[BotCommand] = [
    BotCommand("start", "subscribe to alerts (with an invite code if the bot needs one)", handler=j.cmd_start),
    BotCommand("settings", "choose labels, channels, confidence, delivery and language with buttons",
               handler=settings_menu.cmd_settings),
    BotCommand("status", "what you receive and why", handler=j.cmd_status),
    BotCommand("latest", "recent posts matching your filters: /latest [N]", handler=j.cmd_latest),
    BotCommand("search", "search captured posts: /search WORDS", handler=j.cmd_search),
    BotCommand("terms", "watch terms: /terms, /terms add WORDS, /terms remove WORDS, /terms clear",
               handler=filters.cmd_terms),
    BotCommand("labels", "which kinds of news: /labels all or /labels pardon release ...", handler=filters.cmd_labels),
    BotCommand("from", "which channels: /from all or /from @channel ...", handler=filters.cmd_from),
    BotCommand("confidence", "minimum detector confidence: /confidence 0.7", handler=filters.cmd_confidence),
    BotCommand("mode", "delivery: /mode instant, digest or mixed", handler=filters.cmd_mode),
    BotCommand("digest", "digest time: /digest HOUR [TIME ZONE]", handler=filters.cmd_digest),
    BotCommand("pause", "hold alerts until /resume", handler=j.cmd_pause),
    BotCommand("resume", "get alerts again (held ones come as one digest)", handler=j.cmd_resume),
    BotCommand("language", "the bot's language: /language en, ru or be", handler=j.cmd_language),
    BotCommand("stop", "unsubscribe", handler=j.cmd_stop),
    BotCommand("forget", "delete everything stored about you", handler=j.cmd_forget),
    BotCommand("help", "list the commands", handler=cmd_help),
    BotCommand("watch", "watch a channel: /watch @channel [backfill N]", operator_only=True, handler=op.cmd_watch),
    BotCommand("unwatch", "stop watching a channel: /unwatch @channel", operator_only=True, handler=op.cmd_unwatch),
    BotCommand("channels", "watched channels with last post, capture, lag and errors", operator_only=True,
               handler=op.cmd_channels),
    BotCommand("subscribers", "subscriber counts and pending requests", operator_only=True,
               handler=op.cmd_subscribers),
    BotCommand("approve", "approve a request: /approve NUMBER", operator_only=True, handler=op.cmd_approve),
    BotCommand("deny", "deny a request: /deny NUMBER", operator_only=True, handler=op.cmd_deny),
    BotCommand("revoke", "revoke access: /revoke NUMBER, or /revoke invite CODE", operator_only=True,
               handler=op.cmd_revoke),
    BotCommand("invite", "create an invite code: /invite [USES]", operator_only=True, handler=op.cmd_invite),
    BotCommand("stats", "alerts sent, queue, failures and flood waits in the last 24 h", operator_only=True,
               handler=op.cmd_stats),
    BotCommand("test", "run the detector on a text: /test TEXT", operator_only=True, handler=op.cmd_test),
]
_BY_NAME = {c.name: c for c in COMMANDS}


def _fit(replies: list[Reply]) -> list[Reply]:
    """Every reply within Telegram's 4096-unit limit: long ones are split (buttons on the last part)."""
    out: list[Reply] = []
    for r in replies:
        if utf16_len(r.text) <= TELEGRAM_LIMIT:
            out.append(r)
            continue
        parts = split_html(r.text, TELEGRAM_LIMIT)
        if r.edit_message_id is not None:
            out.append(Reply(parts[0], r.chat_id, r.buttons, r.edit_message_id))
            continue
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            out.append(Reply(p, r.chat_id, r.buttons if last else ()))
    return out


async def _route(msg: IncomingMessage, deps: Deps, bot_username: str | None) -> list[Reply]:
    sub = await load_subscriber(deps, msg)
    is_op = msg.user_id is not None and msg.user_id in deps.operators
    if msg.callback_data is not None:
        data = msg.callback_data[:64]
        ctx = Ctx(msg, deps, "", bot_username, sub)
        if data.startswith("s:"):
            return await settings_menu.on_button(ctx, data)
        if data == "fg:yes":
            return await j.forget_now(ctx)
        if data.startswith("op:"):
            if not is_op:
                return [ctx.say("operator_only")]
            return await op.on_button(ctx, data)
        return [ctx.say("settings_expired")]
    text = (msg.text or "").strip()
    lang = sub.language if sub else "en"
    if not text.startswith("/"):
        return [Reply(t(lang, "send_help"))] if msg.chat_type == "private" else []
    head, _, arg = text.partition(" ") if " " in text.split("\n")[0] else text.partition("\n")
    name, _, mention = head[1:].partition("@")
    if mention and bot_username and mention.lower() != bot_username.lower():
        return []  # a command for another bot in a group
    cmd = _BY_NAME.get(name.lower())
    if cmd is None:
        if msg.chat_type != "private":
            return []  # groups see many commands meant for other bots
        return [Reply(t(lang, "unknown_command", name=shown(name, 40)))]
    if cmd.operator_only and (not is_op or msg.chat_type != "private"):
        return [Reply(t(lang, "operator_only"))]
    if len(arg) > MAX_ARG_CHARS:
        return [Reply(t(lang, "input_too_long", max=MAX_ARG_CHARS))]
    return await cmd.handler(Ctx(msg, deps, arg.strip(), bot_username, sub))


async def handle_message(msg: IncomingMessage, deps: Deps, bot_username: str | None = None) -> list[Reply]:
    """Route one message or button press to its handler; unknown input gets a pointer to /help."""
    try:
        replies = await _route(msg, deps, bot_username)
    except UserError as e:
        replies = [Reply("Error: " + html.escape(str(e), quote=False))]
    except TgwatchError as e:  # storage trouble: the operators see it in the log
        log.error("bot command failed: %s", e)
        replies = [Reply(t("en", "internal_error"))]
    except Exception:  # last resort at the edge of a long-lived bot: log it, answer, keep running
        log.exception("bot command crashed")
        replies = [Reply(t("en", "internal_error"))]
    return _fit(replies)
