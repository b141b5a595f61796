"""Journalist commands: joining (by access mode), leaving, pausing, forgetting, status, latest, search."""

from __future__ import annotations

import html
import logging

from bot.alerts import LABEL_ICONS, LABEL_TITLES
from bot.i18n import CATALOGUE, LANGUAGES, raw, t
from handlers.bot_context import Ctx, button, esc, shown
from handlers.bot_search import search_posts
from handlers.chat import Reply
from handlers.commands_filters import channels_text, describe_mode, labels_text, recent_matches
from handlers.digest import run_digests
from storage import audit, bot_queries, invites, subscribers

log = logging.getLogger(__name__)

LATEST_DEFAULT, LATEST_MAX = 5, 20


def _requester(ctx: Ctx) -> str:
    who = shown(ctx.msg.user_name or "", 40) or (f"user {ctx.msg.user_id}" if ctx.msg.user_id else "a channel")
    return f"{who} ({ctx.msg.chat_type} chat {ctx.msg.chat_id})"


async def _activate(ctx: Ctx, *, reason: str) -> Reply:
    now = ctx.deps.clock()
    async with ctx.deps.db.transaction():
        sid = await subscribers.upsert(ctx.deps.db, "telegram", ctx.address, now)
        await subscribers.set_status(ctx.deps.db, sid, "active", now)
        if reason == "invite":
            await audit.add(ctx.deps.db, now, None, "invite_used", subscriber_id=sid)
    return ctx.say("welcome")


async def cmd_start(ctx: Ctx) -> list[Reply]:
    sub, deps, mode = ctx.sub, ctx.deps, ctx.deps.access_mode
    status = sub.status if sub else None
    if status == "active":
        return [ctx.say("already")]
    if status == "paused":
        return await cmd_resume(ctx)
    if status == "revoked":
        return [ctx.say("revoked")]
    if status == "denied":
        return [ctx.say("denied")]
    if status in ("stopped", "blocked"):  # admitted before: coming back needs no new approval
        return [await _activate(ctx, reason="return")]
    if mode == "open" or ctx.is_operator:
        return [await _activate(ctx, reason="open")]
    if mode == "invite":
        code = ctx.arg.split()[0] if ctx.arg.split() else ""
        if not code:
            return [ctx.say("invite_needed")]
        if len(code) > 64 or not code.replace("-", "").replace("_", "").isalnum():
            return [ctx.say("invite_bad")]
        async with deps.db.transaction():
            ok = await invites.use(deps.db, code, deps.clock())
        if not ok:
            return [ctx.say("invite_bad")]
        return [await _activate(ctx, reason="invite")]
    # approval
    if status == "pending":
        return [ctx.say("request_waiting")]
    if not deps.operators:
        log.warning("access mode is 'approval' but [access] operators is empty: nobody can approve requests")
        return [ctx.say("no_operators")]
    now = deps.clock()
    async with deps.db.transaction():
        sid = await subscribers.upsert(deps.db, "telegram", ctx.address, now, status="pending")
        await subscribers.set_status(deps.db, sid, "pending", now)
        await bot_queries.set_display_name(deps.db, sid, shown(ctx.msg.user_name or "", 64) or None)
    replies = [ctx.say("request_sent")]
    text = f"🙋 Request to receive alerts from {esc(_requester(ctx))} (subscriber #{sid})."
    buttons = ((button("✅ Approve", f"op:ap:{sid}"), button("⛔ Deny", f"op:dn:{sid}")),)
    replies += [Reply(text, chat_id=op, buttons=buttons) for op in deps.operators]
    return replies


async def cmd_stop(ctx: Ctx) -> list[Reply]:
    sub = ctx.sub
    if sub is None or sub.status not in ("active", "paused", "pending"):
        return [ctx.say("not_subscribed")]
    now = ctx.deps.clock()
    async with ctx.deps.db.transaction():
        if sub.status == "pending":  # a request never granted: nothing to keep
            await bot_queries.forget(ctx.deps.db, sub.subscriber_id)
        else:
            await subscribers.set_status(ctx.deps.db, sub.subscriber_id, "stopped", now)
            await bot_queries.drop_queue(ctx.deps.db, sub.subscriber_id, "subscriber stopped", now)
    return [ctx.say("stopped")]


async def cmd_pause(ctx: Ctx) -> list[Reply]:
    sub = ctx.sub
    if sub is None or sub.status not in ("active", "paused"):
        return [ctx.say("not_subscribed")]
    if sub.status == "paused":
        return [ctx.say("already_paused")]
    async with ctx.deps.db.transaction():
        await subscribers.set_status(ctx.deps.db, sub.subscriber_id, "paused", ctx.deps.clock())
        await bot_queries.hold_queue(ctx.deps.db, sub.subscriber_id)
    return [ctx.say("paused")]


async def cmd_resume(ctx: Ctx) -> list[Reply]:
    sub = ctx.sub
    if sub is None or sub.status not in ("active", "paused"):
        return [ctx.say("not_subscribed")]
    if sub.status != "paused":
        return [ctx.say("not_paused")]
    now = ctx.deps.clock()
    async with ctx.deps.db.transaction():
        await subscribers.set_status(ctx.deps.db, sub.subscriber_id, "active", now)
        held = await bot_queries.release_held_to_digest(ctx.deps.db, sub.subscriber_id, now)
    if held:
        await run_digests(ctx.deps, subscriber_id=sub.subscriber_id)
    return [ctx.say("resumed", n=held)]


async def cmd_forget(ctx: Ctx) -> list[Reply]:
    if ctx.sub is None:
        return [ctx.say("nothing_stored")]
    if ctx.arg.strip().lower() not in ("yes", "да", "так"):
        return [Reply(ctx.tr("forget_confirm"), buttons=((button(raw(ctx.lang, "forget_button"), "fg:yes"),),))]
    return await forget_now(ctx)


async def forget_now(ctx: Ctx) -> list[Reply]:
    lang = ctx.lang
    if ctx.sub is None:
        return [ctx.say("nothing_stored")]
    async with ctx.deps.db.transaction():
        await audit.forget_subscriber(ctx.deps.db, ctx.sub.subscriber_id)
        await bot_queries.forget(ctx.deps.db, ctx.sub.subscriber_id)
    return [Reply(t(lang, "forgotten"))]


async def cmd_language(ctx: Ctx) -> list[Reply]:
    code = ctx.arg.strip().lower()[:8]
    if code not in LANGUAGES:
        rows = (tuple(button(name, f"s:lang:{c}") for c, name in LANGUAGES.items()),)
        return [Reply(ctx.tr("language_usage"), buttons=rows)]
    return await set_language(ctx, code)


async def set_language(ctx: Ctx, code: str) -> list[Reply]:
    if ctx.sub is None:
        return [Reply(t(code, "not_subscribed"))]
    async with ctx.deps.db.transaction():
        await bot_queries.set_language(ctx.deps.db, ctx.sub.subscriber_id, code, ctx.deps.clock())
    return [Reply(t(code, "language_set"))]


async def cmd_status(ctx: Ctx) -> list[Reply]:
    sub = ctx.sub
    if sub is None:
        return [ctx.say("not_subscribed")]
    f = await subscribers.subscription(ctx.deps.db, sub.subscriber_id)
    key = f"state_{sub.status}"
    state = ctx.tr(key) if key in CATALOGUE else esc(sub.status)
    queued = sum((await bot_queries.queued_for(ctx.deps.db, sub.subscriber_id)).values())
    lines = [
        ctx.tr("status_state", state=state),
        ctx.tr("status_filters", labels=await labels_text(ctx, f), channels=await channels_text(ctx, f),
               conf=f"{f.min_confidence:.2f}", terms=", ".join(f.terms) or raw(ctx.lang, "none"),
               language=LANGUAGES.get(sub.language, sub.language)),
        describe_mode(ctx, f),
        ctx.tr("status_queue", n=queued),
        "",
        ctx.tr("status_why"),
    ]
    return [Reply("\n".join(lines))]


def _post_line(icon: str, title: str, source: str, when: str, snippet: str, link: str) -> str:
    return (f"{icon} <b>{esc(title)}</b> · {esc(source)} · {when}\n{esc(snippet)}\n"
            f"<a href=\"{html.escape(link)}\">{esc(link)}</a>")


async def cmd_latest(ctx: Ctx) -> list[Reply]:
    if ctx.sub is None:
        return [ctx.say("not_subscribed")]
    arg = ctx.arg.strip()
    if arg and not (arg.isdecimal() and 1 <= int(arg) <= LATEST_MAX):
        return [ctx.say("latest_usage", max=LATEST_MAX)]
    n = int(arg) if arg else LATEST_DEFAULT
    f = await subscribers.subscription(ctx.deps.db, ctx.sub.subscriber_id)
    found = await recent_matches(ctx.deps, f, n)
    if not found:
        return [ctx.say("latest_none")]
    lines = [ctx.tr("latest_head", n=len(found))]
    for p, det, reason in found:
        label = det.label if det.is_positive else "none"
        title = LABEL_TITLES.get(label, label.title()) + (f" · “{reason[5:]}”" if reason.startswith("term:") else "")
        source = f"@{p.channel_username}" if p.channel_username else f"channel {p.channel_id}"
        lines.append(_post_line(LABEL_ICONS.get(label, "🔔"), title, source, p.posted_at.strftime("%Y-%m-%d %H:%M"),
                                shown(p.text, 200), p.permalink))
    return [Reply("\n\n".join(lines))]


async def cmd_search(ctx: Ctx) -> list[Reply]:
    query = ctx.arg.strip()
    words = [w for w in query.split() if sum(ch.isalnum() for ch in w) >= 2]
    if not words or len(query) > 200:
        return [ctx.say("search_usage")]
    hits = await search_posts(ctx.deps, " ".join(words[:8]), limit=10)
    q = shown(query, 60)
    if not hits:
        return [ctx.say("search_none", q=q)]
    lines = [ctx.tr("search_head", q=q, n=len(hits))]
    for h in hits:
        source = f"@{h.channel_username}" if h.channel_username else f"channel {h.channel_id}"
        lines.append(f"🔎 <b>{esc(source)}</b> · {h.posted_at.strftime('%Y-%m-%d %H:%M')}\n{esc(h.snippet)}\n"
                     f"<a href=\"{html.escape(h.permalink)}\">{esc(h.permalink)}</a>")
    return [Reply("\n\n".join(lines))]
