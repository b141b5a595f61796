"""Journalist filter commands (/labels /from /confidence /terms /mode /digest) and the use cases the
inline /settings menu shares with them. Every change saves the subscription in one transaction."""

from __future__ import annotations

import dataclasses

from bot.detection.terms import MAX_TERM_CHARS, normalize_term
from bot.i18n import raw
from bot.models import LABELS, Detection, Post, Subscription
from handlers.bot_context import Ctx, shown
from handlers.chat import Reply
from handlers.deps import Deps
from handlers.digest import next_digest_at, zone
from handlers.matching import match_reason
from storage import bot_queries, channels, detections, posts, subscribers

MAX_TERMS = 20
MAX_LIST_ARGS = 20


async def known_labels(deps: Deps) -> list[str]:
    """Built-in labels, then operator-defined ones (from the detector's rules or seen in detections)."""
    extra = list(getattr(deps.detector, "labels", ()) or ()) + await bot_queries.known_labels(deps.db)
    out = list(LABELS)
    for label in extra:
        if isinstance(label, str) and label and label != "none" and label not in out:
            out.append(label)
    return out


async def watched(deps: Deps) -> list:
    return [c for c in await channels.list_all(deps.db) if c.status != "removed"]


def channel_name(c) -> str:
    return f"@{c.username}" if c.username else (c.title or str(c.channel_id))


async def labels_text(ctx: Ctx, f: Subscription) -> str:
    return ", ".join(f.labels) if f.labels else raw(ctx.lang, "all")


async def channels_text(ctx: Ctx, f: Subscription) -> str:
    if not f.channel_ids:
        return raw(ctx.lang, "all")
    names = []
    for cid in f.channel_ids:
        c = await channels.get(ctx.deps.db, cid)
        names.append(channel_name(c) if c else str(cid))
    return ", ".join(names)


def describe_mode(ctx: Ctx, f: Subscription) -> str:
    return ctx.tr(f"mode_{f.mode}", hour=f"{f.digest_hour:02d}", tz=f.timezone)


async def save(ctx: Ctx, f: Subscription, *, reschedule: bool = False) -> None:
    async with ctx.deps.db.transaction():
        await subscribers.save_subscription(ctx.deps.db, f)
        if reschedule:
            now = ctx.deps.clock()
            due = now if f.mode == "instant" else next_digest_at(now, f.digest_hour, f.timezone)
            await bot_queries.reschedule_digest(ctx.deps.db, f.subscriber_id, due)


async def current(ctx: Ctx) -> Subscription | None:
    if ctx.sub is None or ctx.sub.status in ("revoked", "denied"):
        return None
    return await subscribers.subscription(ctx.deps.db, ctx.sub.subscriber_id)


async def cmd_labels(ctx: Ctx) -> list[Reply]:
    f = await current(ctx)
    if f is None:
        return [ctx.say("not_subscribed")]
    known = await known_labels(ctx.deps)
    args = ctx.arg.replace(",", " ").lower().split()
    if not args:
        return [ctx.say("labels_set", labels=await labels_text(ctx, f)),
                ctx.say("labels_unknown", bad="—", known=", ".join(known))]
    if args == ["all"]:
        chosen: tuple[str, ...] = ()
    else:
        bad = [a for a in args[:MAX_LIST_ARGS] if a not in known]
        if bad or len(args) > MAX_LIST_ARGS:
            return [ctx.say("labels_unknown", bad=shown(" ".join(bad), 60) or "…", known=", ".join(known))]
        chosen = tuple(dict.fromkeys(args))
    f = dataclasses.replace(f, labels=chosen)
    await save(ctx, f)
    return [ctx.say("labels_set", labels=await labels_text(ctx, f))]


async def cmd_from(ctx: Ctx) -> list[Reply]:
    f = await current(ctx)
    if f is None:
        return [ctx.say("not_subscribed")]
    known = await watched(ctx.deps)
    known_txt = ", ".join(channel_name(c) for c in known) or raw(ctx.lang, "none")
    args = ctx.arg.replace(",", " ").split()
    if not args:
        return [ctx.say("channels_set", channels=await channels_text(ctx, f))]
    if [a.lower() for a in args] == ["all"]:
        ids: tuple[int, ...] = ()
    else:
        ids_list, bad = [], []
        for a in args[:MAX_LIST_ARGS]:
            c = await channels.find(ctx.deps.db, a[:80]) if len(a) <= 80 else None
            if c is None or c.status == "removed":
                bad.append(a)
            else:
                ids_list.append(c.channel_id)
        if bad or len(args) > MAX_LIST_ARGS:
            return [ctx.say("channels_unknown", bad=shown(" ".join(bad), 60) or "…", known=known_txt)]
        ids = tuple(dict.fromkeys(ids_list))
    f = dataclasses.replace(f, channel_ids=ids)
    await save(ctx, f)
    return [ctx.say("channels_set", channels=await channels_text(ctx, f))]


def parse_confidence(s: str) -> float | None:
    s = s.strip().replace(",", ".")
    pct = s.endswith("%")
    try:
        v = float(s.rstrip("%")) if len(s) <= 10 else None
    except ValueError:
        return None
    if v is None or v != v:
        return None
    if pct or v > 1:
        v = v / 100
    return round(v, 2) if 0 <= v <= 1 else None


async def cmd_confidence(ctx: Ctx) -> list[Reply]:
    f = await current(ctx)
    if f is None:
        return [ctx.say("not_subscribed")]
    v = parse_confidence(ctx.arg)
    if v is None:
        return [ctx.say("confidence_usage")]
    f = dataclasses.replace(f, min_confidence=v)
    await save(ctx, f)
    return [ctx.say("confidence_set", value=f"{v:.2f}")]


async def cmd_terms(ctx: Ctx) -> list[Reply]:
    f = await current(ctx)
    if f is None:
        return [ctx.say("not_subscribed")]
    verb, _, rest = ctx.arg.strip().partition(" ")
    verb = verb.lower()
    if not verb:
        return [ctx.say("terms_list", terms=", ".join(f.terms)) if f.terms else ctx.say("terms_none")]
    if verb == "clear":
        await save(ctx, dataclasses.replace(f, terms=()))
        return [ctx.say("terms_cleared")]
    if verb not in ("add", "remove", "del", "delete"):
        return [ctx.say("terms_usage")]
    term = normalize_term(rest) if len(rest) <= MAX_TERM_CHARS else ""
    if not term:
        return [ctx.say("term_bad", max=MAX_TERM_CHARS)]
    folded = {x.casefold(): x for x in f.terms}
    if verb == "add":
        if term.casefold() in folded:
            return [ctx.say("term_added", term=term)]
        if len(f.terms) >= MAX_TERMS:
            return [ctx.say("terms_too_many", max=MAX_TERMS)]
        await save(ctx, dataclasses.replace(f, terms=f.terms + (term,)))
        return [ctx.say("term_added", term=term)]
    if term.casefold() not in folded:
        return [ctx.say("term_not_found", term=term)]
    await save(ctx, dataclasses.replace(f, terms=tuple(x for x in f.terms if x.casefold() != term.casefold())))
    return [ctx.say("term_removed", term=term)]


async def set_mode(ctx: Ctx, f: Subscription, mode: str) -> list[Reply]:
    f = dataclasses.replace(f, mode=mode)
    await save(ctx, f, reschedule=True)
    return [Reply(describe_mode(ctx, f))]


async def cmd_mode(ctx: Ctx) -> list[Reply]:
    f = await current(ctx)
    if f is None:
        return [ctx.say("not_subscribed")]
    mode = ctx.arg.strip().lower()
    if not mode:
        return [Reply(describe_mode(ctx, f)), ctx.say("mode_usage")]
    if mode not in ("instant", "digest", "mixed"):
        return [ctx.say("mode_usage")]
    return await set_mode(ctx, f, mode)


async def cmd_digest(ctx: Ctx) -> list[Reply]:
    f = await current(ctx)
    if f is None:
        return [ctx.say("not_subscribed")]
    args = ctx.arg.split()
    if not args or len(args) > 2 or not args[0].isdecimal() or not 0 <= int(args[0]) <= 23:
        return [ctx.say("digest_usage")]
    tz = f.timezone
    if len(args) == 2:
        try:
            tz = zone(args[1]).key
        except ValueError:
            return [ctx.say("timezone_bad", tz=shown(args[1], 40))]
    mode = "digest" if f.mode == "instant" else f.mode
    f = dataclasses.replace(f, digest_hour=int(args[0]), timezone=tz, mode=mode)
    await save(ctx, f, reschedule=True)
    return [Reply(describe_mode(ctx, f))]


async def recent_matches(deps: Deps, f: Subscription, n: int, scan: int = 500) -> list[tuple[Post, Detection, str]]:
    """The newest captured posts this subscription would have been alerted about."""
    out = []
    for r in await bot_queries.recent_posts(deps.db, scan):
        stored = await posts.get(deps.db, r["channel_id"], r["message_id"])
        found = await detections.latest(deps.db, r["channel_id"], r["message_id"])
        if stored is None or found is None:
            continue
        reason = match_reason(stored.post, found[1], f)
        if reason is not None:
            out.append((stored.post, found[1], reason))
            if len(out) >= n:
                break
    return out

