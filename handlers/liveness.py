"""Liveness: what operators must hear about, pushed once per state change (handlers.notices).

- the user session was revoked or banned (`report_session`, called by the Telegram reader);
- a channel is silent for longer than `health.silence_factor` times its usual gap between posts;
- the outbox backlog, or the age of the oldest pending row, passes its threshold;
- delivery to a destination keeps failing, or alerts to it were dead-lettered.

`run_checks` is what the scheduler calls every minute; tests call it with a fake clock.
The first observation of a healthy state is recorded silently: operators hear about changes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from statistics import median

from bot.timeutil import parse_iso
from handlers.deps import Deps
from handlers.notices import notify_operators_in_tx
from storage import bot_queries, channels, events, outbox

log = logging.getLogger(__name__)

MIN_POSTS_FOR_CADENCE = 5
MIN_SILENCE_S = 1800.0  # a channel posting every minute is not "silent" after 6 minutes
RETRYING_ATTEMPTS = 3


def _duration(s: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.1f} {unit}".replace(".0 ", " ")
    return f"{s:.0f} s"


async def _notify(deps: Deps, kind: str, subject: str, state: str, text: str) -> bool:
    async with deps.db.transaction():
        if state == "ok" and await events.current(deps.db, kind, subject) is None:
            await events.transition(deps.db, kind, subject, state, deps.clock(), detail=text)
            return False
        changed = await notify_operators_in_tx(deps, kind, subject, state, text)
    if changed:
        deps.wake()
    return changed


async def report_session(deps: Deps, state: str, detail: str = "") -> bool:
    """The user session is 'ok', 'revoked', 'banned' or 'unauthorized'. Notifies on change only."""
    texts = {
        "ok": "✅ The Telegram user session works again; capture resumed.",
        "revoked": "⛔ The Telegram user session was revoked (logged out elsewhere?). Capture stopped: run "
                   "`tgwatch login` again.",
        "banned": "⛔ The Telegram user account is banned or restricted. Capture stopped; use another account.",
        "unauthorized": "⛔ The Telegram user session is not authorised. Capture stopped: run `tgwatch login`.",
    }
    text = texts.get(state, f"⚠️ Telegram user session: {state}.")
    if detail:
        text += f" ({detail[:200]})"
    return await _notify(deps, "session", "user", state, text)


def silence_state(now: datetime, post_times: list[datetime], factor: float) -> tuple[str, float, float]:
    """('silent' | 'ok' | 'unknown', silence_s, usual_gap_s) from a channel's newest post dates."""
    if len(post_times) < MIN_POSTS_FOR_CADENCE:
        return "unknown", 0.0, 0.0
    times = sorted(post_times)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    usual = max(median(gaps), 60.0)
    silence = (now - times[-1]).total_seconds()
    return ("silent" if silence > max(factor * usual, MIN_SILENCE_S) else "ok"), silence, usual


async def check_channels(deps: Deps) -> int:
    now = deps.clock()
    notices = 0
    for ch in await channels.list_all(deps.db):
        if ch.status not in ("active", "unjoinable"):
            continue
        times = [parse_iso(s) for s in await bot_queries.channel_post_times(deps.db, ch.channel_id)]
        state, silence, usual = silence_state(now, times, deps.health.silence_factor)
        if state == "unknown":
            continue
        name = f"@{ch.username}" if ch.username else f"channel {ch.channel_id}"
        if state == "silent":
            text = (f"🔕 {name} has been silent for {_duration(silence)} (it usually posts every {_duration(usual)}). "
                    "It may have stopped posting, or capture may be broken: see /channels.")
        else:
            text = f"🔔 {name} is posting again."
        notices += await _notify(deps, "channel_silence", str(ch.channel_id), state, text)
    return notices


async def check_outbox(deps: Deps) -> int:
    now = deps.clock()
    h = deps.health
    pending = await outbox.pending_count(deps.db)
    oldest = await outbox.oldest_pending_at(deps.db)
    age = (now - oldest).total_seconds() if oldest else 0.0
    n = await _notify(
        deps, "outbox_backlog", "", "high" if pending > h.backlog_threshold else "ok",
        f"📬 Outbox backlog: {pending} pending (threshold {h.backlog_threshold}). Delivery is slow or stuck; see /stats."
        if pending > h.backlog_threshold else f"📬 Outbox backlog is back to normal ({pending} pending).",
    )
    n += await _notify(
        deps, "outbox_oldest", "", "stale" if age > h.oldest_pending_s else "ok",
        f"⏳ The oldest pending alert has waited {_duration(age)} (threshold {_duration(h.oldest_pending_s)}); "
        "see /stats." if age > h.oldest_pending_s else "⏳ Pending alerts are flowing again.",
    )
    return n


async def check_destinations(deps: Deps) -> int:
    n = 0
    for r in await bot_queries.destination_failures(deps.db):
        if r["kind"] == "webhook":
            subject, name = f"webhook:{r['address']}", f"webhook {r['address']}"
        else:
            subject, name = f"subscriber:{r['subscriber_id']}", f"{r['kind']} subscriber #{r['subscriber_id']}"
        failing = (r["retrying"] or 0) > 0
        n += await _notify(
            deps, "destination", subject, "failing" if failing else "ok",
            f"📮 Delivery to {name} keeps failing ({r['retrying']} alert(s) retried {RETRYING_ATTEMPTS}+ times)."
            if failing else f"📮 Delivery to {name} works again.",
        )
        dead = r["dead"] or 0
        if dead or await events.current(deps.db, "dead_letters", subject) is not None:
            n += await _notify(
                deps, "dead_letters", subject, "ok" if dead == 0 else str(dead),
                f"🪦 {dead} alert(s) to {name} were dead-lettered (rejected or out of attempts); "
                "they stay in the outbox with their last error.",
            )
    return n


async def run_checks(deps: Deps) -> int:
    """All periodic checks; returns how many notices were queued."""
    return await check_channels(deps) + await check_outbox(deps) + await check_destinations(deps)
