"""The history pass against a fake history source, on a real migrated database."""

from __future__ import annotations

import random

import pytest
from telethon import errors as tg

from bot.models import Channel
from bot.telegram.errors import SessionLost
from bot.telegram.reconcile import Reconciler
from config.settings import IngestSettings
from storage import channel_sync, channels, events, outbox, posts, subscribers
from tgfakes import FakeHistory, msg, photo

CID = 1000


async def _watch(deps, *ids, status="active", cursor=None):
    async with deps.db.transaction():
        for cid in ids:
            await channels.upsert(deps.db, Channel(cid, username=f"chan{cid}", status=status), deps.clock())
            await channels.set_status(deps.db, cid, status, deps.clock())
            if cursor is not None:
                await channel_sync.set_cursor(deps.db, cid, cursor, deps.clock(), history=False)


def _rec(deps, src, vt, **kw):
    return Reconciler(deps, src, IngestSettings(**kw), monotonic=vt, rng=random.Random(1))


async def test_gap_of_missed_posts_is_filled(deps, vt):
    await _watch(deps, CID, cursor=3)
    async with deps.db.transaction():
        await subscribers.upsert(deps.db, "telegram", "101", deps.clock())
    src = FakeHistory()
    src.post(CID, *[msg(CID, i, "Президент помиловал 4 человек" if i == 6 else f"news {i}") for i in range(1, 9)])
    rep = await _rec(deps, src, vt).run_pass()
    assert (rep.dialog_requests, rep.history_reads, rep.posts_new) == (1, 1, 5)
    assert src.history_calls == [(CID, 3, 100)]
    assert await posts.count(deps.db) == 5
    assert (await channel_sync.get(deps.db, CID)).history_cursor_id == 8
    assert [i.kind for i in await outbox.for_post(deps.db, CID, 6)] == ["alert"]
    assert (await posts.get(deps.db, CID, 6)).source == "history"


async def test_restart_resumes_from_the_cursor(deps, vt):
    await _watch(deps, CID, cursor=3)
    src = FakeHistory()
    src.post(CID, *[msg(CID, i, f"n{i}") for i in range(1, 9)])
    await _rec(deps, src, vt).run_pass()
    src.post(CID, msg(CID, 9, "n9"), msg(CID, 10, "n10"))
    src.history_calls.clear()
    rep = await _rec(deps, src, vt).run_pass()  # a new process over the same database
    assert src.history_calls == [(CID, 8, 100)] and rep.posts_new == 2
    rep = await _rec(deps, src, vt).run_pass()
    assert rep.history_reads == 0  # nothing moved


async def test_300_channels_5_moved_costs_3_dialog_requests_and_5_reads(deps, vt):
    ids = list(range(2000, 2300))
    src = FakeHistory()
    for cid in ids:
        src.post(cid, msg(cid, 1, "old"))
    await _watch(deps, *ids)
    first = await _rec(deps, src, vt).run_pass()  # learns each channel's top id: no history needed
    assert (first.dialog_requests, first.history_reads) == (3, 0)
    for cid in ids[10:15]:
        src.post(cid, msg(cid, 2, "new"))
    src.dialog_requests = src.history_reads = 0
    rep = await _rec(deps, src, vt).run_pass()
    assert src.dialog_requests <= 3 and src.history_reads == 5
    assert (rep.moved, rep.posts_new) == (5, 5)


async def test_history_budget_defers_and_carries_over(deps, vt):
    ids = list(range(3000, 3020))
    await _watch(deps, *ids, cursor=0)
    src = FakeHistory()
    for cid in ids:
        src.post(cid, msg(cid, 1, "a"), msg(cid, 2, "b"))
    rec = _rec(deps, src, vt, history_requests_per_30s=8)
    rep = await rec.run_pass()
    assert (rep.history_reads, rep.deferred) == (8, 12)
    rep = await rec.run_pass()  # no time passed: no budget left
    assert rep.history_reads == 0 and rep.deferred == 12
    vt.now += 30
    rep = await rec.run_pass()
    assert (rep.history_reads, rep.deferred) == (8, 4)
    vt.now += 30
    await rec.run_pass()
    assert await posts.count(deps.db) == 40


async def test_album_in_history_is_one_post_even_across_pages(deps, vt):
    await _watch(deps, CID, cursor=0)
    src = FakeHistory()
    src.post(CID, *[msg(CID, i, f"n{i}") for i in range(1, 99)])
    src.post(CID, *[msg(CID, i, "Помилованы трое" if i == 101 else "", grouped_id=5, media=photo()) for i in (99, 100, 101)])
    rec = _rec(deps, src, vt)
    await rec.run_pass()
    stored = await posts.get(deps.db, CID, 99)
    assert stored.post.album_message_ids == (99, 100, 101) and stored.post.text == "Помилованы трое"
    assert await posts.get(deps.db, CID, 100) is None and await posts.count(deps.db) == 99


async def test_private_channel_is_marked_and_told_once_others_go_on(deps, vt):
    ids = list(range(4000, 4010))
    await _watch(deps, *ids, cursor=0)
    src = FakeHistory()
    for cid in ids:
        src.post(cid, msg(cid, 1, "x"))
    src.errors[4003] = tg.ChannelPrivateError(request=None)
    rep = await _rec(deps, src, vt, history_requests_per_30s=10).run_pass()
    assert rep.failed == 1 and rep.posts_new == 9
    assert (await channels.get(deps.db, 4003)).status == "private"
    await _rec(deps, src, vt).run_pass()
    assert await events.current(deps.db, "channel", "4003") == "private"
    notices = [r for r in await deps.db.fetchall("SELECT * FROM outbox WHERE kind = 'notice'")]
    assert len(notices) == 1


async def test_unjoinable_channel_is_read_at_the_slower_cadence(deps, vt, clock):
    await _watch(deps, CID, status="unjoinable")
    src = FakeHistory()
    src.not_joined.add(CID)
    src.post(CID, *[msg(CID, i, f"n{i}") for i in range(1, 6)])
    rec = _rec(deps, src, vt, unjoinable_interval_s=600)
    await rec.run_pass()
    assert src.history_calls == [(CID, None, 1)] and await posts.count(deps.db) == 0  # starts from now
    src.post(CID, msg(CID, 6, "Президент помиловал"))
    await rec.run_pass()
    assert src.history_reads == 1  # not due yet
    clock.advance(601)
    await rec.run_pass()
    assert src.history_calls[-1] == (CID, 5, 100) and await posts.count(deps.db) == 1


async def test_revoked_session_raises_session_lost(deps, vt):
    await _watch(deps, CID, cursor=0)
    src = FakeHistory()
    src.errors[CID] = tg.AuthKeyUnregisteredError(request=None)
    with pytest.raises(SessionLost):
        await _rec(deps, src, vt).run_pass()


async def test_unresolvable_channel_is_skipped_and_logged_once(deps, vt, caplog):
    from bot.telegram.errors import ChannelUnresolved

    await _watch(deps, CID, 2000, cursor=0)
    src = FakeHistory()
    src.post(2000, msg(2000, 1, "x"))
    src.not_joined.add(CID)
    src.errors[CID] = ChannelUnresolved("no hash")
    src.errors_in_history_only = True
    rec = _rec(deps, src, vt, unjoinable_interval_s=0.001)
    caplog.set_level("WARNING")
    await rec.run_pass()
    await rec.run_pass()
    assert await posts.count(deps.db) == 1  # the other channel went on
    assert sum("cannot resolve" in m for m in caplog.messages) == 1
    assert (await channels.get(deps.db, CID)).status == "active"  # not marked deleted
