"""EDGE: the real HistorySource for reconcile.py, over a Telethon user client. One request per call
(plus, once per process, a lookup for a channel added offline without its access hash)."""

from __future__ import annotations

from typing import Sequence

from telethon import TelegramClient
from telethon import errors as tg
from telethon.tl import functions, types

from bot.models import Channel
from bot.telegram.errors import ChannelUnresolved


def input_channel(c: Channel) -> types.InputPeerChannel:
    return types.InputPeerChannel(c.channel_id, c.access_hash or 0)


class TelethonHistory:
    def __init__(self, client: TelegramClient):
        self.client = client
        self._peers: dict[int, types.InputPeerChannel] = {}

    async def _peer(self, c: Channel) -> types.InputPeerChannel:
        """The channel's input peer. Without a stored access hash: the session's entity cache, else
        its @username (one ResolveUsername, remembered); ChannelUnresolved when neither works."""
        if c.access_hash:
            return input_channel(c)
        if c.channel_id in self._peers:
            return self._peers[c.channel_id]
        peer = None
        try:
            peer = await self.client.get_input_entity(types.PeerChannel(c.channel_id))
        except ValueError:
            if c.username:
                try:
                    peer = await self.client.get_input_entity(c.username)
                except (ValueError, tg.UsernameNotOccupiedError, tg.UsernameInvalidError):
                    peer = None
        if not isinstance(peer, types.InputPeerChannel) or peer.channel_id != c.channel_id:
            raise ChannelUnresolved(f"channel {c.channel_id} has no access hash and cannot be resolved")
        self._peers[c.channel_id] = peer
        return peer

    async def top_message_ids(self, chans: Sequence[Channel]) -> dict[int, int]:
        """ONE messages.getPeerDialogs for up to 100 channels: channel_id -> top message id.
        Channels that cannot be resolved are left out (the history call then reports them)."""
        peers = []
        for c in chans:
            try:
                peers.append(types.InputDialogPeer(await self._peer(c)))
            except ChannelUnresolved:
                continue
        if not peers:
            return {}
        res = await self.client(functions.messages.GetPeerDialogsRequest(peers=peers))
        tops: dict[int, int] = {}
        for d in res.dialogs:
            if isinstance(d.peer, types.PeerChannel):
                tops[d.peer.channel_id] = d.top_message
        return tops

    async def history(self, chan: Channel, min_id: int | None, limit: int) -> list:
        """ONE GetHistory: oldest `limit` messages after min_id (oldest first); newest ones when min_id is None."""
        peer = await self._peer(chan)
        if min_id is None:
            msgs = [m async for m in self.client.iter_messages(peer, limit=limit)]
            return list(reversed(msgs))
        return [m async for m in self.client.iter_messages(peer, limit=limit, min_id=min_id, reverse=True)]
