"""What capturing a post means, independent of how it is written: the result type, the cleaning every
source gets, when a stored post counts as unchanged, and the detector call that never loses a post. Pure."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from bot.alerts import clean
from bot.models import Detection, Evidence, Post

# The capture path's log (handlers.posts), wherever it is written from.
log = logging.getLogger("handlers.posts")


@dataclass(frozen=True)
class PostResult:
    outcome: str  # "new" | "edited" | "unchanged"
    version: int
    detection: Detection | None  # None when the text did not change
    alerts_queued: int = 0
    followups_queued: int = 0
    cursor_moved: bool | None = None  # with follow=(first, last): whether the live history cursor moved


def storable(post: Post) -> Post:
    """The post as it can be stored and sent: lone surrogates (possible in JSON input, never from
    Telegram) become U+FFFD, since SQLite's UTF-8 and Telegram cannot carry them. Doing it here, for
    every source, keeps a re-capture of the same input 'unchanged' instead of a new version."""
    fields = {k: clean(v) for k, v in (("text", post.text), ("media", post.media),
                                        ("channel_username", post.channel_username),
                                        ("forwarded_from", post.forwarded_from)) if v and clean(v) != v}
    return replace(post, **fields) if fields else post


def is_stale(post: Post, stored: Post) -> bool:
    """An older state of a stored post: the stored one was edited later than this one claims."""
    if stored.edited_at is None:
        return False
    return post.edited_at is None or post.edited_at < stored.edited_at


def alert_key(channel_id: int, message_id: int) -> str:
    return f"alert:{channel_id}:{message_id}"


def safe_detect(detector, text: str) -> Detection:
    """The detector's verdict, or a recorded 'none' if the detector itself fails: a detector bug
    must never cost us the post (the archive is the guarantee; `tgwatch redetect` re-judges it
    once the detector is fixed). The failure is logged without the post text."""
    try:
        return detector.detect(text)
    except Exception as e:  # noqa: BLE001 - any detector bug; the post must still be stored
        log.error("detector %s failed (%s: %s); post stored with label none for redetect",
                  getattr(detector, "version", "?"), type(e).__name__, e)
        return Detection("none", 0.0, evidence=(Evidence("detector.error", 0, 0, "", "block"),),
                         detector_version=f"{getattr(detector, 'version', '')}!error")
