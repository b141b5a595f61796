"""Albums: several channel messages sharing a grouped_id become ONE post (one detection, one alert).

Pure functions plus a small time-driven buffer for the live path (album parts arrive as
separate updates within a fraction of a second). The caption can be on any part.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from bot.models import Post
from bot.telegram.convert import combine_media


def combine_album(parts: Iterable[Post]) -> Post:
    """Combine the parts of one album (same channel and grouped_id) into one Post.

    The smallest message id names the post; captions (usually one) are joined in id order.
    """
    ordered = sorted({p.message_id: p for p in parts}.values(), key=lambda p: p.message_id)
    if not ordered:
        raise ValueError("an album needs at least one part")
    first = ordered[0]
    if len(ordered) == 1 and first.grouped_id is None:
        return first
    edits = [p.edited_at for p in ordered if p.edited_at]
    views = [p.views for p in ordered if p.views is not None]
    forwards = [p.forwards for p in ordered if p.forwards is not None]
    return replace(
        first,
        text="\n\n".join(p.text for p in ordered if p.text),
        posted_at=min(p.posted_at for p in ordered),
        edited_at=max(edits) if edits else None,
        media=combine_media(p.media for p in ordered),
        views=max(views) if views else None,
        forwards=max(forwards) if forwards else None,
        forwarded_from=next((p.forwarded_from for p in ordered if p.forwarded_from), None),
        album_message_ids=tuple(p.message_id for p in ordered),
    )


def merge_with_stored(stored: Post, new: Post) -> Post:
    """Fold newly seen album parts into the album post already stored (keeps its message id).

    A part without caption never blanks the stored caption; an edited caption replaces it.
    Media stays as first stored unless it was unknown, so a late part is not an 'edit'.
    """
    ids = tuple(sorted(set(stored.album_message_ids or (stored.message_id,)) | set(new.album_message_ids or (new.message_id,))))
    if not new.text or new.text == stored.text or new.text in stored.text:
        text = stored.text
    elif not stored.text or new.edited_at:
        text = new.text
    else:
        text = stored.text + "\n\n" + new.text
    edited = max((d for d in (stored.edited_at, new.edited_at) if d), default=None)
    return replace(
        stored,
        text=text,
        edited_at=edited if text != stored.text else stored.edited_at,
        media=stored.media or new.media,
        views=max((v for v in (stored.views, new.views) if v is not None), default=None),
        forwards=max((v for v in (stored.forwards, new.forwards) if v is not None), default=None),
        channel_username=new.channel_username or stored.channel_username,
        album_message_ids=ids,
    )


def group_posts(posts: Iterable[Post]) -> list[Post]:
    """A page of posts (any order) -> posts with albums combined, ordered by message id."""
    singles: list[Post] = []
    albums: dict[tuple[int, int], list[Post]] = {}
    for p in posts:
        if p.grouped_id is None:
            singles.append(p)
        else:
            albums.setdefault((p.channel_id, p.grouped_id), []).append(p)
    out = singles + [combine_album(parts) for parts in albums.values()]
    return sorted(out, key=lambda p: (p.channel_id, p.message_id))


class AlbumBuffer:
    """Holds album parts until no new part arrived for `quiet_s`; then they flush as one Post.

    Driven by the caller's clock (monotonic seconds): `add()` then `flush_due(now)`.
    """

    def __init__(self, quiet_s: float = 1.0):
        self.quiet_s = quiet_s
        self._parts: dict[tuple[int, int], dict[int, Post]] = {}
        self._last: dict[tuple[int, int], float] = {}

    def add(self, post: Post, now: float) -> None:
        assert post.grouped_id is not None
        key = (post.channel_id, post.grouped_id)
        self._parts.setdefault(key, {})[post.message_id] = post  # a later version (edit) replaces
        self._last[key] = now

    def __len__(self) -> int:
        return len(self._parts)

    def next_due_in(self, now: float) -> float | None:
        if not self._last:
            return None
        return max(0.0, min(self._last.values()) + self.quiet_s - now)

    def flush_due(self, now: float) -> list[Post]:
        due = [k for k, t in self._last.items() if now - t >= self.quiet_s]
        return [self._pop(k) for k in due]

    def flush_all(self) -> list[Post]:
        return [self._pop(k) for k in list(self._parts)]

    def _pop(self, key: tuple[int, int]) -> Post:
        self._last.pop(key, None)
        return combine_album(self._parts.pop(key).values())
