"""The inline-keyboard `/settings` menu. Button data is `s:<section>[:<value>]` (≤ 64 bytes);
each press edits the menu message in place and saves through the same use cases as the commands."""

from __future__ import annotations

import dataclasses

from bot.i18n import LANGUAGES, raw
from handlers.bot_context import Ctx, button
from handlers.chat import Button, Reply
from handlers.commands_filters import (
    channel_name, channels_text, current, describe_mode, known_labels, labels_text, save, set_mode, watched,
)
from handlers.commands_journalist import set_language

CONFIDENCE_STEPS = ("0", "0.5", "0.6", "0.7", "0.8", "0.9")
MAX_CHANNEL_BUTTONS = 24


def _mark(on: bool, text: str) -> str:
    return ("✅ " if on else "") + text


def _rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i:i + per_row]) for i in range(0, len(buttons), per_row))


def _back(ctx: Ctx) -> tuple[Button, ...]:
    return (button(raw(ctx.lang, "btn_back"), "s:menu"),)


async def _summary(ctx: Ctx, f) -> str:
    return "\n".join([
        ctx.tr("settings_head"),
        ctx.tr("status_filters", labels=await labels_text(ctx, f), channels=await channels_text(ctx, f),
               conf=f"{f.min_confidence:.2f}", terms=", ".join(f.terms) or raw(ctx.lang, "none"),
               language=LANGUAGES.get(ctx.lang, ctx.lang)),
        describe_mode(ctx, f),
        ctx.tr("settings_terms_hint"),
    ])


async def render(ctx: Ctx, section: str = "menu") -> Reply:
    """The menu (or one of its pages) as a Reply; edits the pressed message when there is one."""
    f = await current(ctx)
    edit = ctx.msg.message_id if ctx.msg.callback_data else None
    if f is None:
        return Reply(ctx.tr("not_subscribed"), edit_message_id=edit)
    L = ctx.lang
    if section == "lab":
        labels = [lb for lb in await known_labels(ctx.deps) if len(f"s:lab:t:{lb}".encode()) <= 64]
        btns = [button(_mark(not f.labels, raw(L, "btn_all")), "s:lab:all")]
        btns += [button(_mark(lb in f.labels, lb), f"s:lab:t:{lb}") for lb in labels]
        rows = _rows(btns, 3) + (_back(ctx),)
    elif section == "ch":
        chans = (await watched(ctx.deps))[:MAX_CHANNEL_BUTTONS]
        btns = [button(_mark(not f.channel_ids, raw(L, "btn_all")), "s:ch:all")]
        btns += [button(_mark(c.channel_id in f.channel_ids, channel_name(c)[:40]), f"s:ch:t:{c.channel_id}")
                 for c in chans]
        rows = _rows(btns, 2) + (_back(ctx),)
    elif section == "conf":
        btns = [button(_mark(abs(float(v) - f.min_confidence) < 1e-9, v), f"s:conf:{v}") for v in CONFIDENCE_STEPS]
        rows = _rows(btns, 3) + (_back(ctx),)
    elif section == "mode":
        btns = [button(_mark(f.mode == m, m), f"s:mode:{m}") for m in ("instant", "digest", "mixed")]
        rows = (tuple(btns), _back(ctx))
    elif section == "hr":
        btns = [button(_mark(f.digest_hour == h, f"{h:02d}"), f"s:hr:{h}") for h in range(24)]
        rows = _rows(btns, 6) + (_back(ctx),)
    elif section == "lang":
        rows = (tuple(button(_mark(L == c, n), f"s:lang:{c}") for c, n in LANGUAGES.items()), _back(ctx))
    else:
        rows = (
            (button(raw(L, "btn_labels"), "s:lab"), button(raw(L, "btn_channels"), "s:ch")),
            (button(raw(L, "btn_confidence"), "s:conf"), button(raw(L, "btn_mode"), "s:mode")),
            (button(raw(L, "btn_hour"), "s:hr"), button(raw(L, "btn_language"), "s:lang")),
        )
    return Reply(await _summary(ctx, f), buttons=rows, edit_message_id=edit)


async def cmd_settings(ctx: Ctx) -> list[Reply]:
    return [await render(ctx)]


async def on_button(ctx: Ctx, data: str) -> list[Reply]:
    """Handle one `s:...` press: apply the change (if any) and re-render the page."""
    parts = data.split(":")
    section = parts[1] if len(parts) > 1 else "menu"
    f = await current(ctx)
    if f is None:
        return [Reply(ctx.tr("not_subscribed"))]
    if len(parts) == 2 or section == "menu":
        return [await render(ctx, section)]
    value = parts[-1]
    if section == "lab":
        known = await known_labels(ctx.deps)
        if value == "all":
            f = dataclasses.replace(f, labels=())
        elif parts[2] == "t" and value in known:
            labels = [x for x in f.labels if x != value] if value in f.labels else [*f.labels, value]
            f = dataclasses.replace(f, labels=tuple(labels))
        else:
            return [Reply(ctx.tr("settings_expired"))]
        await save(ctx, f)
    elif section == "ch":
        if value == "all":
            f = dataclasses.replace(f, channel_ids=())
        elif parts[2] == "t" and value.lstrip("-").isdecimal() and int(value) in {c.channel_id for c in await watched(ctx.deps)}:
            cid = int(value)
            ids = [x for x in f.channel_ids if x != cid] if cid in f.channel_ids else [*f.channel_ids, cid]
            f = dataclasses.replace(f, channel_ids=tuple(ids))
        else:
            return [Reply(ctx.tr("settings_expired"))]
        await save(ctx, f)
    elif section == "conf" and value in CONFIDENCE_STEPS:
        await save(ctx, dataclasses.replace(f, min_confidence=float(value)))
    elif section == "mode" and value in ("instant", "digest", "mixed"):
        await set_mode(ctx, f, value)
    elif section == "hr" and value.isdecimal() and 0 <= int(value) <= 23:
        await save(ctx, dataclasses.replace(f, digest_hour=int(value)), reschedule=True)
    elif section == "lang" and value in LANGUAGES:
        await set_language(ctx, value)
        ctx = dataclasses.replace(ctx, sub=dataclasses.replace(ctx.sub, language=value))
    else:
        return [Reply(ctx.tr("settings_expired"))]
    return [await render(ctx, section)]


__all__ = ["cmd_settings", "on_button", "render"]
