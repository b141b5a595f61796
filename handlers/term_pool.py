"""Watch-term matching in a worker process, ahead of the capture writer (handlers/capture.py).

Matching a post against the watch terms (bot.detection.terms: a sound-skeleton index of the text)
costs ~0.25 ms of pure Python, about a quarter of everything the writer does for a post; on the
one GIL it caps a burst below the rate the issue asks for (1,000 posts a second), and run on the
event loop beside the database thread it slows that thread more than it saves (the GIL handoffs).
So the service matches each arriving post's text here, on another core, while the writer is busy
with the posts before it; the writer uses an answer that is ready and at the generation its
subscriber index has, and otherwise matches in-process as before. An accelerator only: no
answer, a late one, or a dead worker changes nothing but speed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

from bot.detection.terms import text_matches_term

log = logging.getLogger(__name__)


def _die_with_parent(parent_pid: int) -> None:
    """Worker initializer: a SIGKILLed service must not leave its worker behind (holding the service's
    stdout/stderr open and the resource tracker alive). Linux only; elsewhere a clean exit stops it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # killed while this process was starting, before the line above
        os._exit(0)


def _match(terms: tuple[str, ...], texts: list[str]) -> list[frozenset[str]]:
    return [frozenset(t for t in terms if text_matches_term(text, t)) for text in texts]


@dataclass
class TermHits:
    """The terms of subscription generation `generation` that occur in one post's text; `hits` stays
    None until the worker answers (set from the executor's thread: one attribute store)."""
    generation: int
    hits: frozenset[str] | None = None


BATCH_S = 0.002  # texts arriving this close together go in one call: every call wakes two threads here


class TermPool:
    """One worker process (spawned, so no fork of a process holding aiosqlite's thread); texts
    arriving within BATCH_S go in one call."""

    def __init__(self) -> None:
        self._ex = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=_die_with_parent,
                                       initargs=(os.getpid(),))
        self._batch: list[tuple[str, TermHits]] = []
        self._terms: tuple[str, ...] = ()
        self._broken = False
        self._inflight: set[Future] = set()
        warm = self._ex.submit(_match, (), [])  # start the worker now (~1 s of imports), not at the first post
        self._inflight.add(warm)
        warm.add_done_callback(lambda f: self._deliver(f, []))

    def match(self, generation: int, terms: frozenset[str], text: str) -> TermHits:
        slot = TermHits(generation)
        if self._broken:
            return slot
        if self._batch and self._terms != tuple(sorted(terms)):
            self._flush()
        if not self._batch:
            self._terms = tuple(sorted(terms))
            asyncio.get_running_loop().call_later(BATCH_S, self._flush)
        self._batch.append((text, slot))
        return slot

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch or self._broken:
            return
        try:
            fut = self._ex.submit(_match, self._terms, [text for text, _ in batch])
        except RuntimeError as e:  # shut down or broken: match in-process from now on
            self._gone(e)
            return
        self._inflight.add(fut)
        fut.add_done_callback(lambda f: self._deliver(f, [slot for _, slot in batch]))

    async def settled(self) -> None:
        """Until every text asked about so far is answered (or the worker failed)."""
        self._flush()
        while self._inflight:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in list(self._inflight)), return_exceptions=True)

    def _deliver(self, fut: Future, slots: list[TermHits]) -> None:
        self._inflight.discard(fut)
        if fut.cancelled():
            return
        error = fut.exception()
        if error is not None:
            self._gone(error)
            return
        for slot, hits in zip(slots, fut.result()):
            slot.hits = hits

    def _gone(self, error: BaseException) -> None:
        if not self._broken:
            log.warning("term matching worker unavailable (%s); matching in-process", error)
        self._broken = True

    def close(self) -> None:
        self._broken = True
        self._ex.shutdown(wait=False, cancel_futures=True)
