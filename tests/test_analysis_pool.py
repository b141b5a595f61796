"""Watch terms matched ahead of the capture writer (handlers/term_pool.py): the worker's answers are
the in-process ones; a ready answer spares a post that concerns nobody its fan-out intent; a missing
or stale one changes nothing but speed. Real migrated SQLite; the process is faked except in one test."""

from __future__ import annotations

from bot.detection.terms import text_matches_term
from bot.models import Subscription
from handlers.capture import use_term_worker, writer_for
from handlers.posts import submit_post
from handlers.term_pool import TermHits, TermPool
from tests.conftest import make_post
from storage import subscribers
from tests.test_capture_writer import NEWS, PARDON, count

TERM = "зерна"


class ReadyPool:
    """Answers at once, in-process (what the worker answers, only sooner); `skew` fakes an answer
    from an older subscription generation."""

    def __init__(self, skew: int = 0):
        self.skew = skew
        self.asked = 0

    def match(self, generation: int, terms: frozenset[str], text: str) -> TermHits:
        self.asked += 1
        return TermHits(generation - self.skew, frozenset(t for t in terms if text_matches_term(text, t)))

    def close(self) -> None:
        pass


async def add(deps, first: int, n: int, **filters) -> None:
    async with deps.db.transaction():
        for i in range(first, first + n):
            sid = await subscribers.upsert(deps.db, "telegram", str(i), deps.clock())
            if filters:
                await subscribers.save_subscription(deps.db, Subscription(sid, **filters))


async def subscribe_term(deps) -> None:
    await add(deps, 100, 2, terms=(TERM,))


async def test_a_post_matching_no_term_settles_at_capture_with_no_intent(deps):
    await subscribe_term(deps)
    writer = writer_for(deps.db)
    await writer.drain()  # compiles the subscriber index, as the service's start-up does
    writer.term_pool = pool = ReadyPool()
    quiet = submit_post(make_post(1, "Погода на выходные: без осадков."), deps)
    await quiet.captured
    assert quiet.queued.done() and quiet.done.done()  # nothing to plan: settled with the capture
    hit = submit_post(make_post(2, NEWS), deps)
    await hit.captured
    assert not hit.queued.done()  # its two term subscribers are planned next
    assert (await hit.done).alerts_queued == 2
    assert pool.asked == 2
    assert await count(deps.db, "SELECT count(*) FROM outbox WHERE message_id = 1") == 0


async def test_an_answer_from_an_older_generation_is_not_used(deps):
    await subscribe_term(deps)
    writer = writer_for(deps.db)
    await writer.drain()
    writer.term_pool = ReadyPool(skew=1)  # as if the filters changed after the worker answered
    stage = submit_post(make_post(1, NEWS), deps)
    await stage.captured
    assert not stage.queued.done()  # the intent is planned, matching in-process
    assert (await stage.done).alerts_queued == 2


async def test_announcements_ignore_term_answers(deps):
    await add(deps, 1, 3)
    await subscribe_term(deps)
    writer = writer_for(deps.db)
    await writer.drain()
    writer.term_pool = ReadyPool()
    assert (await submit_post(make_post(1, PARDON), deps).done).alerts_queued == 5


async def test_the_worker_process_answers_like_in_process_matching():
    pool = TermPool()
    try:
        terms = frozenset({TERM, "Статкевич", "Мария Колесникова"})
        texts = [NEWS, PARDON, "Колесникова Мария Александровна осуждена.", ""]
        slots = [pool.match(7, terms, t) for t in texts]
        await pool.settled()
        assert [s.hits for s in slots] == [frozenset(t for t in terms if text_matches_term(x, t)) for x in texts]
        assert slots[2].hits == {"Мария Колесникова"} and slots[0].hits == {TERM}
        assert {s.generation for s in slots} == {7}
    finally:
        pool.close()


async def test_the_service_worker_gives_the_same_alerts(deps):
    await subscribe_term(deps)
    await add(deps, 1, 1, labels=("pardon",))
    writer = writer_for(deps.db)
    await writer.drain()
    use_term_worker(deps.db)
    stages = [submit_post(make_post(i, text), deps) for i, text in enumerate((NEWS, PARDON, "Погода."), 1)]
    results = [await s.done for s in stages]
    assert [r.alerts_queued for r in results] == [2, 3, 0]
    await writer.term_pool.settled()  # closed with the database


async def test_a_dead_worker_leaves_matching_in_process(deps):
    await subscribe_term(deps)
    writer = writer_for(deps.db)
    await writer.drain()
    use_term_worker(deps.db)
    pool = writer.term_pool
    await pool.settled()  # started
    pool._proc.kill()
    pool.match(1, frozenset({TERM}), NEWS)
    await pool.settled()  # the pipe's EOF: given up, not waited for
    assert pool.match(1, frozenset({TERM}), NEWS).hits is None
    assert (await submit_post(make_post(1, NEWS), deps).done).alerts_queued == 2
