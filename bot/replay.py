"""EDGE: a replay source: channel events from a JSON Lines file, for the demo, tests and soak runs.

One JSON object per line:
    {"event": "new" | "edit" | "delete",      (default "new")
     "channel": "pul_pervogo",                 (username; required)
     "channel_id": 1001,                        (optional; derived from the username if absent)
     "message_id": 42,                          (for delete: "message_ids": [42, 43] also works)
     "date": "2025-09-11T12:00:00+03:00",       (required for new/edit)
     "edit_date": "...", "text": "...", "grouped_id": 7, "media": "photo", "views": 10, "forwards": 1}
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from bot.alerts import clean
from bot.errors import UserError
from bot.models import Post
from bot.timeutil import as_utc


@dataclass(frozen=True)
class ReplayEvent:
    kind: str  # new | edit | delete
    post: Post | None = None
    channel_id: int = 0
    message_ids: tuple[int, ...] = ()


def channel_id_for(username: str) -> int:
    """A stable id for a channel known only by name (replays); real ids come from Telegram."""
    return 1_000_000_000 + zlib.crc32(username.lower().encode()) % 1_000_000_000


def _date(v: object, where: str, key: str) -> datetime:
    if not isinstance(v, str):
        raise UserError(f"{where}: '{key}' must be an ISO-8601 date string like 2025-09-11T12:00:00+03:00")
    try:
        return as_utc(datetime.fromisoformat(v))
    except (ValueError, OverflowError):  # OverflowError: e.g. year 1 with a +05:00 offset
        raise UserError(f"{where}: '{key}' is not an ISO-8601 date: {v[:40]!r}") from None


# SQLite integers are signed 64-bit; Telegram ids (grouped_id included) fit.
MAX_ID = 2**63 - 1


def _is_id(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID


def _int(obj: dict, key: str, where: str, required: bool = True) -> int | None:
    v = obj.get(key)
    if v is None and not required:
        return None
    if not _is_id(v):
        raise UserError(f"{where}: '{key}' must be a positive whole number below 2^63")
    return v


def _count(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_ID else None


def parse_event(obj: object, where: str) -> ReplayEvent:
    if not isinstance(obj, dict):
        raise UserError(f"{where}: expected a JSON object")
    kind = obj.get("event", "new")
    if kind not in ("new", "edit", "delete"):
        raise UserError(f"{where}: 'event' must be new, edit or delete")
    channel = obj.get("channel")
    if not isinstance(channel, str) or not channel.strip():
        raise UserError(f"{where}: 'channel' (the channel's username) is required")
    channel = clean(channel.strip().lstrip("@"))  # lone surrogates (JSON allows them) become U+FFFD
    if not channel:
        raise UserError(f"{where}: 'channel' (the channel's username) is required")
    cid = _int(obj, "channel_id", where, required=False) or channel_id_for(channel)
    if kind == "delete":
        ids = obj.get("message_ids") or [obj.get("message_id")]
        if not isinstance(ids, list) or not ids or not all(_is_id(i) for i in ids):
            raise UserError(f"{where}: 'message_ids' must be a list of positive whole numbers")
        return ReplayEvent("delete", channel_id=cid, message_ids=tuple(ids))
    text = obj.get("text", "")
    if not isinstance(text, str):
        raise UserError(f"{where}: 'text' must be a string")
    post = Post(
        channel_id=cid,
        message_id=_int(obj, "message_id", where),
        text=text,
        posted_at=_date(obj.get("date"), where, "date"),
        edited_at=_date(obj["edit_date"], where, "edit_date") if obj.get("edit_date") else None,
        grouped_id=_int(obj, "grouped_id", where, required=False),
        media=clean(obj["media"]) if isinstance(obj.get("media"), str) else None,
        views=_count(obj.get("views")),
        forwards=_count(obj.get("forwards")),
        channel_username=channel,
    )
    return ReplayEvent(kind, post=post, channel_id=cid)


def read_replay(path: str | Path) -> Iterator[ReplayEvent]:
    """Yield events in file order; a bad line raises UserError naming the file and line."""
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot read replay file {p}: {e.strerror or e}") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{p.name} line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
            yield parse_event(obj, where)


def bundled_replay() -> Path:
    return Path(__file__).resolve().parent.parent / "config" / "demo_posts.jsonl"
