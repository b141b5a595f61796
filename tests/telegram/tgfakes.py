"""Offline Telethon objects and a fake history source for the ingest tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from telethon.tl import types

T0 = datetime(2025, 9, 11, 9, 0, tzinfo=timezone.utc)


def msg(channel_id: int, message_id: int, text: str = "", *, grouped_id: int | None = None, media=None,
        edit_date: datetime | None = None, fwd_from=None) -> types.Message:
    return types.Message(id=message_id, peer_id=types.PeerChannel(channel_id), date=T0 + timedelta(minutes=message_id),
                         message=text, grouped_id=grouped_id, media=media, edit_date=edit_date, views=10,
                         fwd_from=fwd_from, post=True)


def photo() -> types.MessageMediaPhoto:
    return types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))


class FakeHistory:
    """Implements reconcile.HistorySource over in-memory channels, counting requests."""

    def __init__(self) -> None:
        self.messages: dict[int, list] = {}
        self.not_joined: set[int] = set()
        self.errors: dict[int, BaseException] = {}
        self.dialog_requests = 0
        self.history_reads = 0
        self.history_calls: list[tuple[int, int, int]] = []

    def post(self, channel_id: int, *messages) -> None:
        self.messages.setdefault(channel_id, []).extend(messages)

    def top(self, channel_id: int) -> int:
        return max((m.id for m in self.messages.get(channel_id, [])), default=0)

    async def top_message_ids(self, chans):
        self.dialog_requests += 1
        assert len(chans) <= 100
        for c in chans:
            if c.channel_id in self.errors and not getattr(self, "errors_in_history_only", False):
                raise self.errors[c.channel_id]
        return {c.channel_id: self.top(c.channel_id) for c in chans if c.channel_id not in self.not_joined}

    async def history(self, chan, min_id, limit):
        self.history_reads += 1
        self.history_calls.append((chan.channel_id, min_id, limit))
        if chan.channel_id in self.errors:
            raise self.errors[chan.channel_id]
        msgs = sorted(self.messages.get(chan.channel_id, []), key=lambda m: m.id)
        if min_id is None:
            return msgs[-limit:]
        return [m for m in msgs if m.id > min_id][:limit]
