"""Offline Telethon messages and updates through the real conversion code and live reader."""

from __future__ import annotations

from datetime import timedelta

from telethon.tl import types

from bot.models import Channel
from bot.telegram.albums import AlbumBuffer, combine_album, merge_with_stored
from bot.telegram.convert import media_summary, to_post
from bot.telegram.reader import LiveReader
from storage import channel_sync, channels, outbox, posts, subscribers
from tgfakes import T0, msg, photo

CID = 1234567


def test_to_post_reads_raw_fields():
    m = msg(CID, 5, "Указ о помиловании", media=photo(),
            fwd_from=types.MessageFwdHeader(date=T0, from_id=types.PeerChannel(77), channel_post=9))
    assert m.text is None or m.text == m.message  # offline: no client, .text is unusable
    p = to_post(m, "pul_pervogo")
    assert (p.channel_id, p.message_id, p.text, p.media) == (CID, 5, "Указ о помиловании", "photo")
    assert p.posted_at == T0 + timedelta(minutes=5) and p.views == 10
    assert p.forwarded_from == "channel 77 post 9"
    assert p.permalink == "https://t.me/pul_pervogo/5"


def test_to_post_skips_service_and_private_chats():
    service = types.MessageService(id=3, peer_id=types.PeerChannel(CID), date=T0,
                                   action=types.MessageActionPinMessage())
    assert to_post(service) is None
    assert to_post(types.Message(id=1, peer_id=types.PeerUser(5), date=T0, message="hi")) is None


def test_media_summaries():
    doc = types.MessageMediaDocument(document=types.Document(
        id=1, access_hash=1, file_reference=b"", date=T0, mime_type="application/pdf", size=1, dc_id=1,
        attributes=[types.DocumentAttributeFilename("decree.pdf")]))
    assert media_summary(doc) == "document: decree.pdf"
    assert media_summary(types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1))) is None
    assert media_summary(types.MessageMediaGeo(geo=types.GeoPointEmpty())) == "location"


def test_album_parts_combine_whichever_carries_the_caption():
    parts = [to_post(msg(CID, i, "Помилованы 3 человека" if i == 12 else "", grouped_id=99, media=photo()))
             for i in (12, 10, 11)]
    album = combine_album(parts)
    assert album.message_id == 10 and album.album_message_ids == (10, 11, 12)
    assert album.text == "Помилованы 3 человека" and album.media == "photo x3"
    late = to_post(msg(CID, 13, "", grouped_id=99, media=photo()))
    merged = merge_with_stored(album, late)
    assert merged.message_id == 10 and merged.text == album.text and merged.album_message_ids == (10, 11, 12, 13)


def test_album_buffer_waits_for_quiet():
    buf = AlbumBuffer(quiet_s=1.0)
    buf.add(to_post(msg(CID, 1, "", grouped_id=5)), now=0.0)
    buf.add(to_post(msg(CID, 2, "cap", grouped_id=5)), now=0.5)
    assert buf.flush_due(1.2) == []
    [post] = buf.flush_due(1.6)
    assert post.album_message_ids == (1, 2) and len(buf) == 0


async def _reader(deps, vt):
    async with deps.db.transaction():
        await channels.upsert(deps.db, Channel(CID, username="pul_pervogo"), deps.clock())
        await channel_sync.set_cursor(deps.db, CID, 9, deps.clock(), history=False)
        await subscribers.upsert(deps.db, "telegram", "101", deps.clock())
    gaps: list[int] = []
    r = LiveReader(deps, monotonic=vt, on_gap=lambda: gaps.append(1))
    await r.refresh_watched()
    return r, gaps


async def test_live_new_edit_delete_updates(deps, vt):
    r, gaps = await _reader(deps, vt)
    await r.on_update(types.UpdateNewChannelMessage(msg(CID, 10, "Президент помиловал 5 человек"), pts=1, pts_count=1))
    stored = await posts.get(deps.db, CID, 10)
    assert stored.post.text == "Президент помиловал 5 человек" and stored.source == "live"
    assert (await channel_sync.get(deps.db, CID)).history_cursor_id == 10  # contiguous: cursor follows
    # An edit: a new version, a follow-up at most, never a second alert row.
    edited = msg(CID, 10, "Президент помиловал 6 человек", edit_date=T0 + timedelta(hours=1))
    await r.on_update(types.UpdateEditChannelMessage(edited, pts=2, pts_count=1))
    await r.on_update(types.UpdateEditChannelMessage(edited, pts=2, pts_count=1))  # replayed by catch-up
    assert len(await posts.versions(deps.db, CID, 10)) == 2
    kinds = [i.kind for i in await outbox.for_post(deps.db, CID, 10)]
    assert kinds.count("alert") == 1
    # A deletion keeps the text and marks the post.
    await r.on_update(types.UpdateDeleteChannelMessages(channel_id=CID, messages=[10], pts=3, pts_count=1))
    stored = await posts.get(deps.db, CID, 10)
    assert stored.deleted_at is not None and stored.post.text == "Президент помиловал 6 человек"
    assert gaps == []


async def test_live_album_is_one_post_and_one_alert(deps, vt):
    r, _ = await _reader(deps, vt)
    for i in (10, 11, 12):
        text = "Освобождены 3 заключённых" if i == 11 else ""
        await r.on_update(types.UpdateNewChannelMessage(msg(CID, i, text, grouped_id=77, media=photo()), pts=i, pts_count=1))
    assert await posts.count(deps.db) == 0  # still buffered
    vt.now += 2
    assert await r.flush_albums() == 1
    assert await posts.count(deps.db) == 1
    stored = await posts.get(deps.db, CID, 10)
    assert stored.post.album_message_ids == (10, 11, 12) and stored.post.media == "photo x3"
    assert [i.kind for i in await outbox.for_post(deps.db, CID, 10)] == ["alert"]
    assert (await channel_sync.get(deps.db, CID)).history_cursor_id == 12


async def test_live_gap_is_logged_once_and_kicks_history(deps, vt, caplog):
    r, gaps = await _reader(deps, vt)
    caplog.set_level("INFO")
    await r.on_update(types.UpdateNewChannelMessage(msg(CID, 15, "news"), pts=1, pts_count=1))
    await r.on_update(types.UpdateNewChannelMessage(msg(CID, 16, "news"), pts=2, pts_count=1))
    assert gaps == [1]
    assert sum("not seen live" in m for m in caplog.messages) == 1
    assert (await channel_sync.get(deps.db, CID)).history_cursor_id == 9  # left for the history pass


async def test_live_posts_arriving_together_move_the_cursor_in_their_capture_transaction(deps, vt):
    import asyncio

    from handlers.capture import writer_for

    r, gaps = await _reader(deps, vt)
    writer = writer_for(deps.db)
    before = len(writer.batch_sizes)
    await asyncio.gather(*(r.on_update(types.UpdateNewChannelMessage(msg(CID, i, "news"), pts=i, pts_count=1))
                           for i in (10, 11, 12)))
    assert writer.batch_sizes[before:] == [3]  # one transaction: posts and cursor, none per post after it
    assert (await channel_sync.get(deps.db, CID)).history_cursor_id == 12
    assert gaps == []


async def test_unwatched_channels_are_ignored(deps, vt):
    r, _ = await _reader(deps, vt)
    await r.on_update(types.UpdateNewChannelMessage(msg(555, 1, "Президент помиловал"), pts=1, pts_count=1))
    await r.on_update(types.UpdateNewMessage(types.Message(id=1, peer_id=types.PeerUser(5), date=T0, message="x"),
                                             pts=1, pts_count=1))
    assert await posts.count(deps.db) == 0


async def test_edit_that_makes_a_post_an_announcement_alerts_once(deps, vt):
    r, _ = await _reader(deps, vt)
    await r.on_update(types.UpdateNewChannelMessage(msg(CID, 10, "Новости дня"), pts=1, pts_count=1))
    assert await outbox.for_post(deps.db, CID, 10) == []
    edited = msg(CID, 10, "Новости дня: президент помиловал троих", edit_date=T0 + timedelta(hours=1))
    await r.on_update(types.UpdateEditChannelMessage(edited, pts=2, pts_count=1))
    await r.on_update(types.UpdateEditChannelMessage(edited, pts=2, pts_count=1))
    assert [i.kind for i in await outbox.for_post(deps.db, CID, 10)] == ["alert"]


async def test_live_post_waits_out_a_database_locked_by_another_process(tmp_path, detector, clock, vt):
    """A backup or CLI command holding the write lock past the busy timeout must not drop a live
    post: the reader retries (handlers.retry.retry_busy); here its sleep releases the lock."""
    import sqlite3

    from handlers.deps import Deps
    from storage.db import open_database

    path = tmp_path / "locked.db"
    deps = Deps(db=await open_database(path, busy_timeout_s=0.01), detector=detector, clock=clock)
    try:
        r, _ = await _reader(deps, vt)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        waits: list[float] = []

        async def sleep(s: float) -> None:
            waits.append(s)
            other.execute("COMMIT")

        r.retry_sleep = sleep
        await r.on_update(types.UpdateNewChannelMessage(msg(CID, 10, "Президент помиловал 5 человек"), pts=1,
                                                        pts_count=1))
        other.close()
        assert waits == [0.5]
        assert (await posts.get(deps.db, CID, 10)).post.text == "Президент помиловал 5 человек"
        assert [i.kind for i in await outbox.for_post(deps.db, CID, 10)] == ["alert"]
    finally:
        await deps.db.close()
