"""Watch-term matching in a worker process, ahead of the capture writer (handlers/capture.py).

Matching a post against the watch terms (bot.detection.terms: a sound-skeleton index of the text)
costs ~0.25 ms of pure Python, about a quarter of everything the writer does for a post; on the
one GIL it caps a burst below the rate the issue asks for (1,000 posts a second), and run on the
event loop beside the database thread it slows that thread more than it saves (the GIL handoffs).
So the service matches each arriving post's text here, on another core, while the writer is busy
with the posts before it (a plain pipe read by the event loop: no executor threads, which would
compete for the GIL with the database thread too); the writer uses an answer that is ready and at the generation its
subscriber index has, and otherwise matches in-process as before. An accelerator only: no
answer, a late one, or a dead worker changes nothing but speed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass
from multiprocessing import get_context

from bot.detection.terms import text_matches_term

log = logging.getLogger(__name__)

BATCH_S = 0.002  # texts arriving this close together go in one message
# Sent and unanswered at most: MAX_WAITING batches of MAX_BATCH_CHARS (<= 4 x 64 KB of UTF-8), under
# a socket pair's buffer, so a send never blocks the event loop even while the worker is starting;
# texts beyond that are matched in-process.
MAX_WAITING = 4
MAX_BATCH_CHARS = 16_000


def _die_with_parent(parent_pid: int) -> None:
    """A SIGKILLed service must not leave its worker behind (holding the service's stdout/stderr
    open). Linux only; elsewhere the pipe's EOF stops it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # killed while this process was starting, before the line above
        os._exit(0)


def _match(terms: tuple[str, ...], texts: list[str]) -> list[frozenset[str]]:
    return [frozenset(t for t in terms if text_matches_term(text, t)) for text in texts]


def _serve(conn, parent_pid: int) -> None:
    """The worker: (terms or None for the same as before, texts) in, one answer per text out."""
    _die_with_parent(parent_pid)
    terms: tuple[str, ...] = ()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        new_terms, texts = msg
        if new_terms is not None:
            terms = new_terms
        conn.send(_match(terms, texts))


@dataclass
class TermHits:
    """The terms of subscription generation `generation` that occur in one post's text; `hits` stays
    None until the worker answers."""
    generation: int
    hits: frozenset[str] | None = None


class TermPool:
    """One spawned worker process (no fork of a process holding aiosqlite's thread) and a pipe;
    texts arriving within BATCH_S go in one message. Create it inside the running event loop."""

    def __init__(self) -> None:
        ctx = get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, os.getpid()), daemon=True, name="tgwatch-terms")
        self._proc.start()
        child.close()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._conn.fileno(), self._on_answer)
        self._waiting: deque[list[TermHits]] = deque()
        self._drained = asyncio.Event()
        self._batch: list[tuple[str, TermHits]] = []
        self._chars = 0
        self._terms: tuple[str, ...] = ()
        self._sent_terms: tuple[str, ...] | None = None
        self._broken = False
        self._send((), [])  # answered once the worker's imports are done (~1 s): settled() waits for it

    def match(self, generation: int, terms: frozenset[str], text: str) -> TermHits:
        slot = TermHits(generation)
        if self._broken or len(self._waiting) >= MAX_WAITING or len(text) > MAX_BATCH_CHARS:
            return slot
        ordered = tuple(sorted(terms))
        if self._batch and (self._terms != ordered or self._chars + len(text) > MAX_BATCH_CHARS):
            self._flush()
        if not self._batch:
            self._terms = ordered
            self._loop.call_later(BATCH_S, self._flush)
        self._batch.append((text, slot))
        self._chars += len(text)
        return slot

    def _flush(self) -> None:
        batch, self._batch, self._chars = self._batch, [], 0
        if batch and not self._broken:
            self._send(self._terms, [text for text, _ in batch], [slot for _, slot in batch])

    def _send(self, terms: tuple[str, ...], texts: list[str], slots: list[TermHits] | None = None) -> None:
        try:
            self._conn.send((None if terms == self._sent_terms else terms, texts))
        except (OSError, ValueError) as e:
            self._gone(e)
            return
        self._sent_terms = terms
        self._waiting.append(slots or [])
        self._drained.clear()

    def _on_answer(self) -> None:
        try:
            answers = self._conn.recv()
        except (EOFError, OSError) as e:
            self._gone(e)
            return
        for slot, hits in zip(self._waiting.popleft(), answers):
            slot.hits = hits
        if not self._waiting:
            self._drained.set()

    async def settled(self) -> None:
        """Until every text asked about so far is answered (or the worker is gone)."""
        self._flush()
        if self._waiting and not self._broken:
            await self._drained.wait()

    def _gone(self, error: BaseException) -> None:
        if not self._broken:
            log.warning("term matching worker unavailable (%s); matching in-process", error)
        self.close()

    def close(self) -> None:
        if self._broken:
            return
        self._broken = True
        self._waiting.clear()
        self._drained.set()
        self._loop.remove_reader(self._conn.fileno())
        self._conn.close()  # the worker reads EOF and exits
