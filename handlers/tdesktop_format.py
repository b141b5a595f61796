"""Reading a Telegram Desktop chat export (`result.json`): streaming parse and message -> Post.

Format facts (from Telegram Desktop's export writer, export_output_json.cpp):
- A single-chat export is an object {"name", "type", "id", "messages": [...]}; `id` is the bare
  channel id (our channel_id). A whole-account export nests chats under "chats"/"left_chats".
- `date` is the exporting computer's LOCAL time without an offset; `date_unixtime` (a string of
  digits, newer exports) is exact, so it wins. Same for `edited` / `edited_unixtime`.
- `text` is a string, or an array mixing strings and entity objects {"type", "text", "href"...};
  `text_entities` always is an array of objects. The plain text is the concatenation.
- `type` is "message", "service" (joins, pins, title changes: not posts) or "unsupported".
- Media: `photo` / `file` hold a relative path or a note such as "(File not included. Change
  data exporting settings to download.)"; `media_type` says video_file, voice_message, sticker...
  `poll` is {"question", "closed", "total_voters", "answers"}.
- Albums have NO grouped_id in the export: each item is its own message. We rebuild them as
  live capture does (one Post, message_id = smallest id): consecutive ids with media, the same
  date_unixtime and forward origin, at most 10 items and at most one caption.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, BinaryIO, Iterator
from zoneinfo import ZoneInfo

from bot.errors import UserError
from bot.models import Post

CHANNEL_TYPES = ("public_channel", "private_channel", "public_supergroup", "private_supergroup")
ALBUM_MAX = 10
_FILE_KINDS = {
    "video_file": "video", "animation": "animation", "video_message": "video message",
    "voice_message": "voice message", "audio_file": "audio", "sticker": "sticker",
}


class CountingReader:
    """A binary reader that remembers how many bytes and lines it has handed out (for error messages)."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.bytes_read = 0
        self.lines_read = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.bytes_read += len(data)
        self.lines_read += data.count(b"\n")
        return data


@dataclass
class Header:
    name: str | None = None
    type: str | None = None
    id: int | None = None
    whole_account: bool = False


def read_header(raw: BinaryIO) -> Header:
    """The chat's name/type/id, read from the start of the file up to its messages array."""
    import ijson

    h = Header()
    try:
        for prefix, event, value in ijson.parse(raw):
            if prefix in ("name", "type") and event == "string":
                setattr(h, prefix, value)
            elif prefix == "id" and event in ("number", "string"):
                h.id = _int(value, "the chat id")
            elif prefix in ("chats", "left_chats") and event == "start_map":
                h.whole_account = True
                break
            elif prefix == "messages" and event == "start_array":
                break
    except ijson.JSONError as e:
        raise UserError(f"the file is not a Telegram Desktop JSON export (it does not parse: {e})") from e
    except UnicodeDecodeError:
        raise UserError("the file is not UTF-8 text; is it a Telegram Desktop JSON export?") from None
    except ValueError as e:  # an id that is not a whole number, or out of range
        raise UserError(f"the file's {e}; is it a Telegram Desktop JSON export?") from None
    return h


@dataclass
class RawCounts:
    messages: int = 0
    service: int = 0
    unsupported: int = 0
    local_dates: int = 0  # messages with no date_unixtime, read as local time in the given zone


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool):
        raise ValueError(f"{what} is not a number")
    if isinstance(v, int):
        n = v
    elif isinstance(v, str) and v.strip().lstrip("-").isdigit():
        n = int(v)
    elif hasattr(v, "to_integral_value") and v.is_finite() and v == v.to_integral_value():  # Decimal from ijson
        n = int(v)
    else:
        raise ValueError(f"{what} is not a whole number: {v!r}")
    if not -2**63 <= n < 2**63:  # SQLite integers are 64-bit; Telegram ids fit
        raise ValueError(f"{what} is out of range: {n}")
    return n


def bare_channel_id(v: Any) -> int:
    """tdesktop writes the bare id; accept a Bot API style -100... id too."""
    n = _int(v, "the chat id")
    s = str(n)
    if s.startswith("-100") and len(s) > 4:
        return int(s[4:])
    return abs(n)


def text_of(value: Any) -> str:
    """`text` as a plain string: a string, or the concatenation of an entity array."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
                parts.append(part.get("text", ""))
            else:
                raise ValueError(f"a text part is neither a string nor an entity object: {part!r:.60}")
        return "".join(parts)
    raise ValueError(f"`text` is neither a string nor an array: {value!r:.60}")


def _when(msg: dict, key: str, tz: ZoneInfo) -> tuple[datetime | None, bool]:
    raw = msg.get(f"{key}_unixtime")
    if raw not in (None, ""):
        return datetime.fromtimestamp(_int(raw, f"`{key}_unixtime`"), timezone.utc), False
    local = msg.get(key)
    if local in (None, ""):
        return None, False
    if not isinstance(local, str):
        raise ValueError(f"`{key}` is not a date string")
    dt = datetime.fromisoformat(local)
    return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).astimezone(timezone.utc), True


def media_kind(msg: dict) -> str | None:
    if "photo" in msg:
        return "photo"
    if "file" in msg:
        kind = _FILE_KINDS.get(msg.get("media_type") or "")
        if kind:
            return kind
        name = msg.get("file_name")
        return f"document: {name}" if isinstance(name, str) and name else "document"
    poll = msg.get("poll")
    if isinstance(poll, dict):
        return f"poll: {poll.get('question', '')}".rstrip(": ")
    for key, kind in (("location_information", "location"), ("place_name", "venue"),
                      ("contact_information", "contact"), ("game_title", "game"), ("invoice_information", "invoice")):
        if key in msg:
            return kind
    return None


def summarize_media(kinds: list[str]) -> str | None:
    """"photo", "photo x3", "photo x2, video" (the form live capture uses)."""
    if not kinds:
        return None
    counts = Counter(kinds)
    return ", ".join(k if n == 1 else f"{k} x{n}" for k, n in counts.items())


@dataclass
class Item:
    """One export message reduced to what a Post needs."""

    message_id: int
    text: str
    posted_at: datetime
    edited_at: datetime | None
    media: str | None
    forwarded_from: str | None
    date_key: Any
    local_date: bool = False
    members: list["Item"] = field(default_factory=list)


def to_item(msg: Any, tz: ZoneInfo) -> Item | str:
    """A message -> Item, or the reason to skip it ("service", "unsupported"). Raises ValueError if malformed."""
    if not isinstance(msg, dict):
        raise ValueError("a message is not a JSON object")
    mid = _int(msg.get("id"), "`id`")
    kind = msg.get("type", "message")
    if kind in ("service", "unsupported"):
        return kind
    if kind != "message":
        return "unsupported"
    posted, local = _when(msg, "date", tz)
    if posted is None:
        raise ValueError(f"message {mid} has no date")
    edited, local_e = _when(msg, "edited", tz)
    fwd = msg.get("forwarded_from")
    return Item(
        message_id=mid, text=text_of(msg.get("text")), posted_at=posted, edited_at=edited, media=media_kind(msg),
        forwarded_from=fwd if isinstance(fwd, str) else None, date_key=msg.get("date_unixtime") or msg.get("date"),
        local_date=local or local_e,
    )


def _joins(album: Item, item: Item) -> bool:
    last = album.members[-1] if album.members else album
    captions = sum(1 for m in [album, *album.members] if m.text)
    return (
        album.media is not None and item.media is not None
        and item.message_id == last.message_id + 1
        and item.date_key == album.date_key and item.forwarded_from == album.forwarded_from
        and len(album.members) + 1 < ALBUM_MAX
        and not (captions and item.text)
        and not album.media.startswith("poll") and not item.media.startswith("poll")
    )


def group_albums(items: Iterator[Item]) -> Iterator[Item]:
    """Merge consecutive album items into one (members kept); yields in file order."""
    current: Item | None = None
    for item in items:
        if current is not None and _joins(current, item):
            current.members.append(item)
            continue
        if current is not None:
            yield current
        current = item
    if current is not None:
        yield current


def to_post(item: Item, channel_id: int, username: str | None) -> Post:
    parts = [item, *item.members]
    edits = [m.edited_at for m in parts if m.edited_at]
    return Post(
        channel_id=channel_id,
        message_id=item.message_id,
        text="\n".join(m.text for m in parts if m.text),
        posted_at=item.posted_at,
        edited_at=max(edits) if edits else None,
        media=summarize_media([m.media for m in parts if m.media]),
        forwarded_from=item.forwarded_from,
        channel_username=username,
        album_message_ids=tuple(m.message_id for m in parts) if item.members else (),
    )
