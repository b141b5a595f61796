"""Bot command handlers (journalists and operators). Pure use cases over the database:
the Telegram edge only turns updates into IncomingMessage and Replies into API calls."""

from __future__ import annotations

import html

from handlers.chat import BotCommand, IncomingMessage, Reply
from handlers.deps import Deps
from storage import outbox, subscribers


def _address(msg: IncomingMessage) -> str:
    return str(msg.chat_id)


async def cmd_start(msg: IncomingMessage, deps: Deps, arg: str) -> list[Reply]:
    now = deps.clock()
    async with deps.db.transaction():
        sid = await subscribers.upsert(deps.db, "telegram", _address(msg), now)
        changed = await subscribers.set_status(deps.db, sid, "active", now)
    existing = await subscribers.get(deps.db, sid)
    if existing and not changed and existing.created_at and existing.created_at < now:
        return [Reply("You are already subscribed. /status shows what you receive; /help lists commands.")]
    return [Reply("Subscribed: you will get an alert when a watched channel announces a pardon, release, amnesty, "
                  "transfer or exchange. /help lists what else I can do.")]


async def cmd_stop(msg: IncomingMessage, deps: Deps, arg: str) -> list[Reply]:
    sub = await subscribers.find(deps.db, "telegram", _address(msg))
    if sub is None or sub.status != "active":
        return [Reply("You are not subscribed. Send /start to subscribe.")]
    now = deps.clock()
    async with deps.db.transaction():
        await subscribers.set_status(deps.db, sub.subscriber_id, "stopped", now)
        await outbox.drop_pending_for(deps.db, sub.subscriber_id, "subscriber stopped", now)
    return [Reply("Unsubscribed: no more alerts. Send /start to subscribe again.")]


async def cmd_help(msg: IncomingMessage, deps: Deps, arg: str) -> list[Reply]:
    is_op = msg.user_id is not None and msg.user_id in deps.operators
    lines = ["<b>tgwatch</b>: alerts about pardons and prisoner releases.", ""]
    for c in COMMANDS:
        if c.operator_only and not is_op:
            continue
        lines.append(f"/{c.name} — {html.escape(c.description, quote=False)}")
    return [Reply("\n".join(lines))]


COMMANDS: list[BotCommand] = [
    BotCommand("start", "subscribe to alerts", handler=cmd_start),
    BotCommand("stop", "unsubscribe", handler=cmd_stop),
    BotCommand("help", "list the commands", handler=cmd_help),
]
_BY_NAME = {c.name: c for c in COMMANDS}


async def handle_message(msg: IncomingMessage, deps: Deps, bot_username: str | None = None) -> list[Reply]:
    """Route one message or button press to its handler; unknown input gets a pointer to /help."""
    text = (msg.text or "").strip()
    if not text.startswith("/"):
        return [Reply("Send /help to see what I can do.")] if msg.chat_type == "private" else []
    head, _, arg = text.partition(" ")
    name, _, mention = head[1:].partition("@")
    if mention and bot_username and mention.lower() != bot_username.lower():
        return []  # a command for another bot in a group
    cmd = _BY_NAME.get(name.lower())
    if cmd is None:
        return [Reply(f"Unknown command /{html.escape(name[:40], quote=False)}. Send /help for the list.")]
    if cmd.operator_only and (msg.user_id is None or msg.user_id not in deps.operators):
        return [Reply("Sorry, that command is for the operators of this tgwatch.")]
    return await cmd.handler(msg, deps, arg.strip())
