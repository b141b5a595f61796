"""EDGE: Telethon messages -> our `Post`. Pure functions over offline `telethon.tl.types` objects.

Reads raw fields only (`.message`, not `.text`: an offline or raw-update Message has no client,
so `.text` is None and would be Markdown-formatted anyway). Albums are combined in albums.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from telethon.tl import types

from bot.models import Post
from bot.timeutil import as_utc


def channel_id_of(peer: object) -> int | None:
    """The bare channel id of a PeerChannel (channels and supergroups); None for users and small groups."""
    return peer.channel_id if isinstance(peer, types.PeerChannel) else None


def _document_kind(doc: object) -> str:
    attrs = getattr(doc, "attributes", None) or []
    name = None
    for a in attrs:
        if isinstance(a, types.DocumentAttributeSticker):
            return "sticker"
        if isinstance(a, types.DocumentAttributeAnimated):
            return "gif"
        if isinstance(a, types.DocumentAttributeVideo):
            return "video note" if getattr(a, "round_message", False) else "video"
        if isinstance(a, types.DocumentAttributeAudio):
            return "voice" if getattr(a, "voice", False) else "audio"
        if isinstance(a, types.DocumentAttributeFilename):
            name = a.file_name
    return f"document: {name}" if name else "document"


def media_summary(media: object) -> str | None:
    """A short human summary of a message's media ("photo", "video", "document: a.pdf"), or None.

    Link previews count as no media: Telegram adds them later through an edit update, which
    must not look like an edit of the post.
    """
    if media is None or isinstance(media, (types.MessageMediaEmpty, types.MessageMediaWebPage)):
        return None
    if isinstance(media, types.MessageMediaPhoto):
        return "photo"
    if isinstance(media, types.MessageMediaDocument):
        return _document_kind(media.document) if media.document is not None else "document"
    if isinstance(media, types.MessageMediaPoll):
        q = getattr(media.poll, "question", "")
        q = getattr(q, "text", q)  # TextWithEntities in newer layers, str in older ones
        return f"poll: {q}"[:200] if q else "poll"
    if isinstance(media, (types.MessageMediaGeo, types.MessageMediaGeoLive)):
        return "location"
    name = type(media).__name__
    return name[len("MessageMedia"):].lower() if name.startswith("MessageMedia") else name.lower()


def forwarded_from(fwd: object) -> str | None:
    """Who a forwarded message came from, from its raw MessageFwdHeader (no network lookups)."""
    if fwd is None:
        return None
    if getattr(fwd, "from_name", None):
        return fwd.from_name
    peer = getattr(fwd, "from_id", None)
    if isinstance(peer, types.PeerChannel):
        post = getattr(fwd, "channel_post", None)
        return f"channel {peer.channel_id}" + (f" post {post}" if post else "")
    if isinstance(peer, types.PeerUser):
        return f"user {peer.user_id}"
    if isinstance(peer, types.PeerChat):
        return f"chat {peer.chat_id}"
    return "unknown"


def to_post(message: object, username: str | None = None) -> Post | None:
    """One channel message as a Post; None for service/empty messages and non-channel chats."""
    if not isinstance(message, types.Message):
        return None
    channel_id = channel_id_of(message.peer_id)
    if channel_id is None:
        return None
    return Post(
        channel_id=channel_id,
        message_id=message.id,
        text=message.message or "",
        posted_at=as_utc(message.date),
        edited_at=as_utc(message.edit_date) if message.edit_date else None,
        grouped_id=message.grouped_id,
        media=media_summary(message.media),
        views=message.views,
        forwards=message.forwards,
        channel_username=username,
        forwarded_from=forwarded_from(message.fwd_from),
    )


def combine_media(summaries: Iterable[str | None]) -> str | None:
    """["photo", "photo", "video"] -> "photo x2, video"."""
    counts = Counter(s.split(":")[0] for s in summaries if s)
    if not counts:
        return None
    return ", ".join(k if n == 1 else f"{k} x{n}" for k, n in sorted(counts.items()))
