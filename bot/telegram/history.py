"""EDGE: the real HistorySource for reconcile.py, over a Telethon user client. One request per call."""

from __future__ import annotations

from typing import Sequence

from telethon import TelegramClient
from telethon.tl import functions, types

from bot.models import Channel


def input_channel(c: Channel) -> types.InputPeerChannel:
    return types.InputPeerChannel(c.channel_id, c.access_hash or 0)


class TelethonHistory:
    def __init__(self, client: TelegramClient):
        self.client = client

    async def top_message_ids(self, chans: Sequence[Channel]) -> dict[int, int]:
        """ONE messages.getPeerDialogs for up to 100 channels: channel_id -> top message id."""
        res = await self.client(functions.messages.GetPeerDialogsRequest(
            peers=[types.InputDialogPeer(input_channel(c)) for c in chans]))
        tops: dict[int, int] = {}
        for d in res.dialogs:
            if isinstance(d.peer, types.PeerChannel):
                tops[d.peer.channel_id] = d.top_message
        return tops

    async def history(self, chan: Channel, min_id: int | None, limit: int) -> list:
        """ONE GetHistory: oldest `limit` messages after min_id (oldest first); newest ones when min_id is None."""
        peer = input_channel(chan)
        if min_id is None:
            msgs = [m async for m in self.client.iter_messages(peer, limit=limit)]
            return list(reversed(msgs))
        return [m async for m in self.client.iter_messages(peer, limit=limit, min_id=min_id, reverse=True)]
