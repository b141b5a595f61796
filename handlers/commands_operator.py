"""Operator commands: channels, access (approve/deny/revoke/invite), stats, detector test.

The router checks the operator allowlist before any of these runs; every change is audited.
Operator messages are English. They work only in a private chat with the bot, so subscriber
details never show up in a group.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.errors import UserError
from bot.i18n import t
from bot.timeutil import iso
from handlers.bot_context import Ctx, button, esc, shown
from handlers.channels import add_channel, list_channels, remove_channel
from handlers.chat import Reply
from storage import audit, bot_queries, invites, subscribers

MAX_BACKFILL = 1000
TEST_TEXT_LIMIT = 5_000
INVITE_DAYS = 7


def _ago(ctx: Ctx, when) -> str:
    if when is None:
        return "never"
    s = max(0, int((ctx.deps.clock() - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size} {unit} ago"
    return f"{s} s ago"


async def _audit(ctx: Ctx, action: str, subscriber_id: int | None = None, detail: str | None = None) -> None:
    async with ctx.deps.db.transaction():
        await audit.add(ctx.deps.db, ctx.deps.clock(), ctx.msg.user_id, action, subscriber_id=subscriber_id,
                        detail=detail)


async def cmd_watch(ctx: Ctx) -> list[Reply]:
    args = ctx.arg.split()
    usage = "Usage: /watch @channel [backfill N] (N up to 1000)."
    if not args or len(args) > 3:
        return [Reply(usage)]
    n = 0
    rest = [a.lower() for a in args[1:]]
    if rest:
        num = rest[-1]
        if not num.isdecimal() or int(num) > MAX_BACKFILL or (len(rest) == 2 and rest[0] != "backfill"):
            return [Reply(usage)]
        n = int(num)
    ch = await add_channel(args[0], ctx.deps, resolve=ctx.deps.resolve)
    await _audit(ctx, "watch", detail=f"@{ch.username or ch.channel_id} backfill={n}")
    text = f"Watching {esc('@' + ch.username if ch.username else ch.channel_id)} (id {ch.channel_id}, status {esc(ch.status)})."
    if n:
        if ctx.deps.backfill is None:
            text += f"\nBackfill of {n} posts needs the Telegram reader, which is not running here."
        else:
            got = await ctx.deps.backfill(ch, n)
            text += f"\nBackfilled {got} post(s)."
    return [Reply(text)]


async def cmd_unwatch(ctx: Ctx) -> list[Reply]:
    ref = ctx.arg.strip()
    if not ref or len(ref) > 100:
        return [Reply("Usage: /unwatch @channel")]
    ch = await remove_channel(ref, ctx.deps)
    await _audit(ctx, "unwatch", detail=f"@{ch.username or ch.channel_id}")
    return [Reply(f"Stopped watching {esc('@' + ch.username if ch.username else ch.channel_id)}; "
                  "its captured posts stay in the archive.")]


async def cmd_channels(ctx: Ctx) -> list[Reply]:
    views = await list_channels(ctx.deps)
    if not views:
        return [Reply("No channel is watched. Add one with /watch @channel.")]
    lines = [f"<b>Watched channels ({len(views)})</b>"]
    for v in views:
        c = v.channel
        name = f"@{c.username}" if c.username else (c.title or str(c.channel_id))
        lag = "—" if v.lag_s is None else f"{v.lag_s:.0f} s"
        line = (f"• {esc(name)} [{esc(c.status)}]: last post #{c.last_seen_message_id} {_ago(ctx, v.last_post_at)}; "
                f"captured {_ago(ctx, c.last_capture_at)}; lag {lag}")
        if c.last_error:
            line += f"; error: {esc(shown(c.last_error, 120))}"
        lines.append(line)
    return [Reply("\n".join(lines))]


async def cmd_subscribers(ctx: Ctx) -> list[Reply]:
    counts = await bot_queries.subscriber_counts(ctx.deps.db)
    lines = ["<b>Subscribers</b>"]
    for (kind, status), n in sorted(counts.items()):
        lines.append(f"• {esc(kind)} {esc(status)}: {n}")
    if len(lines) == 1:
        lines.append("none yet")
    pending = await bot_queries.pending_requests(ctx.deps.db)
    rows = []
    if pending:
        lines.append(f"\n<b>Waiting for approval ({len(pending)})</b>")
        for r in pending:
            who = shown(r["display_name"] or "", 40) or "unnamed"
            lines.append(f"#{r['subscriber_id']} {esc(who)} (chat {esc(r['address'])})")
            rows.append((button(f"✅ #{r['subscriber_id']}", f"op:ap:{r['subscriber_id']}"),
                         button(f"⛔ #{r['subscriber_id']}", f"op:dn:{r['subscriber_id']}")))
    active_invites = await invites.active(ctx.deps.db, ctx.deps.clock())
    lines.append(f"\nAccess mode: {esc(ctx.deps.access_mode)}; open invite codes: {len(active_invites)}")
    return [Reply("\n".join(lines), buttons=tuple(rows))]


def _sid(arg: str) -> int | None:
    a = arg.strip().lstrip("#")
    return int(a) if a.isdecimal() and len(a) < 19 else None


async def _decide(ctx: Ctx, sid: int | None, action: str) -> list[Reply]:
    """approve | deny | revoke one subscriber; tells them in their chat."""
    if sid is None:
        return [Reply(f"Usage: /{action} SUBSCRIBER_NUMBER (see /subscribers).")]
    sub = await subscribers.get(ctx.deps.db, sid)
    if sub is None or sub.kind != "telegram":
        return [Reply(f"No subscriber #{sid}; /subscribers lists them.")]
    allowed = {"approve": ("pending", "denied", "revoked", "stopped"), "deny": ("pending",),
               "revoke": ("active", "paused", "pending", "stopped", "blocked")}[action]
    if sub.status not in allowed:
        return [Reply(f"Subscriber #{sid} is {esc(sub.status)}; nothing to {action}.")]
    new_status = {"approve": "active", "deny": "denied", "revoke": "revoked"}[action]
    now = ctx.deps.clock()
    async with ctx.deps.db.transaction():
        await subscribers.set_status(ctx.deps.db, sid, new_status, now)
        if action == "revoke":
            await bot_queries.drop_queue(ctx.deps.db, sid, "access revoked", now)
        await audit.add(ctx.deps.db, now, ctx.msg.user_id, action, subscriber_id=sid)
    key = {"approve": "approved", "deny": "denied", "revoke": "revoked"}[action]
    replies = [Reply(f"Subscriber #{sid}: {new_status}.", edit_message_id=ctx.msg.message_id
                     if ctx.msg.callback_data else None)]
    if sub.address.lstrip("-").isdecimal():
        replies.append(Reply(t(sub.language, key), chat_id=int(sub.address)))
    return replies


async def cmd_approve(ctx: Ctx) -> list[Reply]:
    return await _decide(ctx, _sid(ctx.arg), "approve")


async def cmd_deny(ctx: Ctx) -> list[Reply]:
    return await _decide(ctx, _sid(ctx.arg), "deny")


async def cmd_revoke(ctx: Ctx) -> list[Reply]:
    args = ctx.arg.split()
    if len(args) == 2 and args[0].lower() == "invite":
        code = args[1][:64]
        async with ctx.deps.db.transaction():
            ok = await invites.revoke(ctx.deps.db, code, ctx.deps.clock())
            if ok:
                await audit.add(ctx.deps.db, ctx.deps.clock(), ctx.msg.user_id, "revoke_invite", detail=code)
        return [Reply("Invite code revoked." if ok else "No such open invite code.")]
    if len(args) != 1:
        return [Reply("Usage: /revoke SUBSCRIBER_NUMBER, or /revoke invite CODE.")]
    return await _decide(ctx, _sid(args[0]), "revoke")


async def cmd_invite(ctx: Ctx) -> list[Reply]:
    args = ctx.arg.split()
    if len(args) > 1 or (args and not (args[0].isdecimal() and 1 <= int(args[0]) <= 100)):
        return [Reply("Usage: /invite [USES] (1-100, default 1); the code is valid for 7 days.")]
    uses = int(args[0]) if args else 1
    code = secrets.token_urlsafe(9)
    now = ctx.deps.clock()
    expires = now + timedelta(days=INVITE_DAYS)
    async with ctx.deps.db.transaction():
        await invites.create(ctx.deps.db, code, ctx.msg.user_id, now, expires, uses)
        await audit.add(ctx.deps.db, now, ctx.msg.user_id, "invite", detail=f"uses={uses}")
    link = f"https://t.me/{ctx.bot_username}?start={code}" if ctx.bot_username else None
    text = f"Invite code <code>{code}</code> ({uses} use(s), until {iso(expires)[:16]} UTC)."
    text += f"\nLink: {esc(link)}" if link else "\nThe journalist sends /start " + code
    if ctx.deps.access_mode != "invite":
        text += f"\nNote: access mode is {esc(ctx.deps.access_mode)}, so codes are not required right now."
    return [Reply(text)]


async def cmd_stats(ctx: Ctx) -> list[Reply]:
    s = await bot_queries.stats_since(ctx.deps.db, ctx.deps.clock() - timedelta(hours=24))
    lines = [
        "<b>Last 24 h</b>",
        f"Alerts sent: {s['alerts_sent']} (follow-ups {s['followups_sent']}, digests {s['digests_sent']})",
        f"Posts captured: {s['posts_captured']}",
        f"Queue: {s['queue_pending']} pending ({s['retrying']} retrying), {s['queue_digest']} waiting for digests",
        f"Failures: {s['failed']} rejected, {s['dead']} dead-lettered",
        f"Flood waits: {s['flood_waits']}",
    ]
    return [Reply("\n".join(lines))]


async def cmd_test(ctx: Ctx) -> list[Reply]:
    text = ctx.arg
    if not text.strip():
        return [Reply("Usage: /test TEXT — runs the detector on TEXT and shows the verdict with evidence.")]
    note = ""
    if len(text) > TEST_TEXT_LIMIT:
        text, note = text[:TEST_TEXT_LIMIT], f"\n(only the first {TEST_TEXT_LIMIT} characters were checked)"
    d = ctx.deps.detector.detect(text)
    lines = [f"<b>{esc(d.label)}</b> · confidence {d.confidence:.2f} · detector {esc(d.detector_version)}"]
    if d.count is not None:
        lines.append(f"People: {d.count}")
    if d.names:
        lines.append("Names: " + esc(shown(", ".join(d.names), 300)))
    if d.countries:
        lines.append("Citizenship: " + esc(", ".join(d.countries)))
    if d.extra_labels:
        lines.append("Also: " + esc(", ".join(d.extra_labels)))
    for e in d.evidence[:20]:
        lines.append(f"• {esc(e.role)} {esc(e.rule_id)}: “{esc(shown(e.text, 120))}” [{e.start}:{e.end}]")
    if not d.evidence:
        lines.append("No evidence: no rule matched.")
    return [Reply("\n".join(lines) + note)]


async def on_button(ctx: Ctx, data: str) -> list[Reply]:
    """`op:ap:<sid>` / `op:dn:<sid>` from an approval request."""
    parts = data.split(":")
    if len(parts) == 3 and parts[1] in ("ap", "dn"):
        return await _decide(ctx, _sid(parts[2]), "approve" if parts[1] == "ap" else "deny")
    raise UserError("this button is out of date; use /subscribers")
