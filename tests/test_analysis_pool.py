"""Each post's text analysed ahead of the capture writer (handlers/analysis_pool.py): the worker's
verdicts and term hits are the in-process ones; the writer waits for a post's answer, at most
ANSWER_WAIT_S, and uses it only from the same detector version and subscription generation; a
missing, late, stale or dead worker changes nothing but speed. Real migrated SQLite; the worker
process is faked except where a test says so."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import handlers.capture as capture_mod
from bot.detection.terms import text_matches_term
from bot.models import Subscription
from handlers.analysis_pool import Analysis, AnalysisPool
from handlers.capture import use_analysis_worker, writer_for
from handlers.posts import submit_post
from storage import subscribers
from tests.conftest import make_post
from tests.test_capture_writer import MANY, NEWS, PARDON, count

TERM = "зерна"


class FakePool:
    """The worker's answers computed in-process (what it answers, only sooner): at once, or held
    until answer_all(); `skew` fakes an answer from an older subscription generation, `detector` a
    verdict from another detector."""

    def __init__(self, detector, *, hold: bool = False, skew: int = 0):
        self.detector = detector
        self.hold = hold
        self.skew = skew
        self.asked: list[Analysis] = []
        self.broken = False
        self.broken_at = None
        self.on_answer = lambda: None

    def analyse(self, generation, terms, text):
        slot = Analysis(None if generation is None else generation - self.skew)
        slot.terms, slot.text = terms, text  # for answer()
        self.asked.append(slot)
        if not self.hold:
            self._answer(slot)
        return slot

    def _answer(self, slot) -> None:
        slot.hits = frozenset(t for t in slot.terms if text_matches_term(slot.text, t))
        slot.detection = self.detector.detect(slot.text)
        slot.answered = True

    def answer_all(self) -> None:
        for slot in self.asked:
            if not slot.answered:
                self._answer(slot)
        self.on_answer()

    def close(self) -> None:
        pass


def fake(deps, **kw) -> FakePool:
    writer = writer_for(deps.db)
    writer.analysis_pool = pool = FakePool(deps.detector, **kw)
    pool.on_answer = writer._answered
    return pool


async def add(deps, first: int, n: int, **filters) -> None:
    async with deps.db.transaction():
        for i in range(first, first + n):
            sid = await subscribers.upsert(deps.db, "telegram", str(i), deps.clock())
            if filters:
                await subscribers.save_subscription(deps.db, Subscription(sid, **filters))


async def subscribe_term(deps) -> None:
    await add(deps, 100, 2, terms=(TERM,))


async def until_idle(n: int = 20) -> None:
    """Let the event loop run the writer's ready steps (no time passes: nothing is waited for)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_post_matching_no_term_settles_at_capture_with_no_intent(deps):
    await subscribe_term(deps)
    writer = writer_for(deps.db)
    await writer.drain()  # compiles the subscriber index, as the service's start-up does
    pool = fake(deps)
    quiet = submit_post(make_post(1, "Погода на выходные: без осадков."), deps)
    await quiet.captured
    assert quiet.queued.done() and quiet.done.done()  # nothing to plan: settled with the capture
    hit = submit_post(make_post(2, NEWS), deps)
    await hit.captured
    assert hit.done.done()  # a new post's two term subscribers are queued in its own transaction
    assert (await hit.done).alerts_queued == 2
    assert len(pool.asked) == 2
    assert await count(deps.db, "SELECT count(*) FROM outbox WHERE message_id = 1") == 0
    assert await count(deps.db, "SELECT count(*) FROM alert_fanouts") == 0


async def test_an_answer_from_an_older_generation_is_not_used(deps):
    await subscribe_term(deps)
    await writer_for(deps.db).drain()
    fake(deps, skew=1)  # as if the filters changed after the worker answered
    stage = submit_post(make_post(1, NEWS), deps)
    await stage.captured
    assert stage.done.done()  # planned with the capture, matching in-process
    assert (await stage.done).alerts_queued == 2


async def test_a_post_waits_for_its_answer_and_uses_the_workers_verdict(deps):
    await add(deps, 1, 3)
    await writer_for(deps.db).drain()
    pool = fake(deps, hold=True)
    stage = submit_post(make_post(1, PARDON), deps)
    await until_idle()
    assert not stage.captured.done()  # waiting for the worker, which has not answered
    assert await count(deps.db, "SELECT count(*) FROM posts") == 0
    pool.answer_all()
    result = await stage.done
    assert result.detection == deps.detector.detect(PARDON) and result.alerts_queued == 3


async def test_posts_are_captured_in_arrival_order_whatever_answers_first(deps):
    await writer_for(deps.db).drain()
    pool = fake(deps, hold=True)
    first = submit_post(make_post(1, PARDON), deps)
    second = submit_post(make_post(1, PARDON + " Дополнено."), deps)  # its edit, right behind it
    await until_idle()
    pool.asked[1].hits, pool.asked[1].answered = frozenset(), True  # the edit's answer comes first...
    pool.asked[1].detection = deps.detector.detect(pool.asked[1].text)
    pool.on_answer()
    await until_idle()
    assert not first.captured.done() and not second.captured.done()  # ...but waits for the original
    pool.answer_all()
    assert [(await first.done).outcome, (await second.done).outcome] == ["new", "edited"]


async def test_no_answer_in_time_means_detecting_in_process(deps, monkeypatch):
    await add(deps, 1, 2)
    await writer_for(deps.db).drain()
    fake(deps, hold=True)  # never answers
    monkeypatch.setattr(capture_mod, "ANSWER_WAIT_S", 0.0)  # the wait is over at once
    result = await submit_post(make_post(1, PARDON), deps).done
    assert result.detection == deps.detector.detect(PARDON) and result.alerts_queued == 2


async def test_a_verdict_from_another_detector_version_is_not_used(deps):
    await writer_for(deps.db).drain()
    pool = fake(deps, hold=True)
    stage = submit_post(make_post(1, PARDON), deps)
    await until_idle()
    slot = pool.asked[0]
    slot.detection = replace(deps.detector.detect(NEWS), detector_version="det-0.1+old")
    slot.hits, slot.answered = frozenset(), True
    pool.on_answer()
    assert (await stage.done).detection == deps.detector.detect(PARDON)


async def test_a_new_announcements_recipients_commit_with_the_post(deps):
    await add(deps, 1, MANY)  # a big fan-out: recipient rows, outbox rows expanded later
    await writer_for(deps.db).drain()
    fake(deps)
    stage = submit_post(make_post(1, PARDON), deps)
    await stage.captured
    assert stage.queued.done()  # in the same transaction as the post
    fanout_id = await deps.db.fetchval("SELECT fanout_id FROM alert_fanouts WHERE planned = 1")
    assert await count(deps.db, "SELECT count(*) FROM alert_recipients WHERE fanout_id = ?", fanout_id) == MANY
    assert (await stage.done).alerts_queued == MANY
    assert await count(deps.db, "SELECT count(*) FROM outbox WHERE message_id = 1") == MANY
    assert await count(deps.db, "SELECT count(*) FROM alert_recipients") == 0  # gone with the finished intent


async def test_announcements_ignore_term_answers(deps):
    await add(deps, 1, 3)
    await subscribe_term(deps)
    await writer_for(deps.db).drain()
    fake(deps)
    assert (await submit_post(make_post(1, PARDON), deps).done).alerts_queued == 5


async def test_the_worker_process_answers_like_in_process(detector):
    pool = AnalysisPool(detector)
    try:
        assert pool.analyse(7, frozenset(), NEWS) is None  # still starting: analysed in-process
        await pool.settled()
        terms = frozenset({TERM, "Статкевич", "Мария Колесникова"})
        texts = [NEWS, PARDON, "Колесникова Мария Александровна помилована."]
        slots = [pool.analyse(7, terms, t) for t in texts]
        assert pool.analyse(7, terms, "") is None  # nothing to analyse
        await pool.settled()
        assert [s.hits for s in slots] == [frozenset(t for t in terms if text_matches_term(x, t)) for x in texts]
        assert slots[2].hits == {"Мария Колесникова"} and slots[0].hits == {TERM}
        assert [s.detection for s in slots] == [detector.detect(t) for t in texts]
        assert all(s.answered and s.generation == 7 for s in slots)
    finally:
        pool.close()


async def test_the_service_worker_gives_the_same_alerts(deps):
    await subscribe_term(deps)
    await add(deps, 1, 1, labels=("pardon",))
    writer = writer_for(deps.db)
    await writer.drain()
    use_analysis_worker(deps.db, deps.detector)
    await writer.analysis_pool.settled()  # started
    stages = [submit_post(make_post(i, text), deps) for i, text in enumerate((NEWS, PARDON, "Погода."), 1)]
    assert all(s.request.analysis is not None for s in stages)
    results = [await s.done for s in stages]
    assert [r.alerts_queued for r in results] == [2, 3, 0]
    assert [r.detection for r in results] == [deps.detector.detect(t) for t in (NEWS, PARDON, "Погода.")]
    await writer.analysis_pool.settled()  # closed with the database


async def test_a_dead_worker_leaves_analysis_in_process(deps):
    await subscribe_term(deps)
    writer = writer_for(deps.db)
    await writer.drain()
    use_analysis_worker(deps.db, deps.detector)
    pool = writer.analysis_pool
    await pool.settled()  # started
    pool._proc.kill()
    waiting = submit_post(make_post(1, NEWS), deps)  # asked of the dead worker
    assert (await waiting.done).alerts_queued == 2  # the pipe's EOF: given up, not waited for
    assert pool.broken and pool.analyse(1, frozenset({TERM}), NEWS) is None
    assert (await submit_post(make_post(2, NEWS), deps).done).alerts_queued == 2


async def test_a_lost_worker_is_restarted_later(deps, monkeypatch):
    await subscribe_term(deps)
    writer = writer_for(deps.db)
    await writer.drain()
    use_analysis_worker(deps.db, deps.detector)
    lost = writer.analysis_pool
    await lost.settled()
    lost._proc.kill()
    assert (await submit_post(make_post(1, NEWS), deps).done).alerts_queued == 2  # in-process meanwhile
    assert lost.broken and writer.analysis_pool is lost  # not before RESTART_WORKER_S
    monkeypatch.setattr(capture_mod, "RESTART_WORKER_S", 0.0)
    stage = submit_post(make_post(2, NEWS), deps)
    fresh = writer.analysis_pool
    assert fresh is not lost and not fresh.broken
    assert stage.request.analysis is None  # the new worker is starting: no post waits for that
    assert (await stage.done).alerts_queued == 2
    await fresh.settled()
    stage = submit_post(make_post(3, NEWS), deps)
    assert (await stage.done).alerts_queued == 2 and stage.request.analysis.answered
