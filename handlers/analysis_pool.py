"""Each arriving post's text analysed in a worker process, ahead of the capture writer
(handlers/capture.py): the detector's verdict and which watch terms occur in it.

Both are pure functions of the text and cost pure Python: detection ~0.3-0.5 ms a post, watch
terms (bot.detection.terms: a sound-skeleton index of the text) ~0.25 ms. On the service's one GIL
they are most of what a post costs, and a burst of 1,000 posts a second (issue 7) leaves the
capture writer no room for the recipients of its announcements. So the service sends each text
here as it arrives, on another core, while the writer is busy with the posts before it: a plain
pipe read by the event loop (no executor threads, which would compete for the GIL with the
database thread too); texts that arrive while PIPELINE messages are unanswered go together.

An accelerator only. The writer waits for a post's answer at most ANSWER_WAIT_S (handlers/capture.py)
and otherwise detects and matches in-process, exactly as without a worker; an answer is used only
if it came from the same detector version and, for terms, the subscription generation the writer's
index has. No answer, a late one, or a dead worker changes nothing but speed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import socket
import struct
import sys
from collections import deque
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Callable

from bot.detection.terms import text_matches_term
from bot.models import Detection

log = logging.getLogger(__name__)

# Texts go in one message per turn of the worker: at once while fewer than PIPELINE messages are
# unanswered, else together when an answer comes back (the worker never waits for a round trip).
PIPELINE = 2
# Sent and unanswered at most MAX_WAITING_CHARS characters (<= 4 bytes each in UTF-8, plus pickling:
# under a socket pair's ~200 KB buffer), so a send never blocks the event loop, even while the worker
# is starting or stuck; texts beyond that are analysed in-process.
MAX_WAITING_CHARS = 40_000
MAX_BATCH_CHARS = 16_000

_detector: Any = None


def _die_with_parent(parent_pid: int) -> None:
    """A SIGKILLed service must not leave its worker behind (holding the service's stdout/stderr
    open). Linux only; elsewhere the pipe's EOF stops it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # killed while this process was starting, before the line above
        os._exit(0)


def _analyse(terms: tuple[str, ...], texts: list[str]) -> list[tuple[Detection | None, frozenset[str]]]:
    from handlers.post_rules import safe_detect

    return [(safe_detect(_detector, text) if _detector is not None else None,
             frozenset(t for t in terms if text_matches_term(text, t))) for text in texts]


def _serve(conn, parent_pid: int, detector_blob: bytes | None) -> None:
    """The worker: (terms or None for the same as before, texts) in, one answer per text out."""
    global _detector
    _die_with_parent(parent_pid)
    _detector = pickle.loads(detector_blob) if detector_blob is not None else None
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
        conn.send(_analyse(terms, texts))


@dataclass
class Analysis:
    """The worker's answer about one post's text: `detection` (None until it answers, or if it has
    no detector) and the terms of subscription generation `generation` that occur in it (`hits`)."""
    generation: int | None
    hits: frozenset[str] | None = None
    detection: Detection | None = None
    answered: bool = False

    def detection_by(self, detector: Any) -> Detection | None:
        """The worker's verdict if it came from this detector's version (else detect in-process)."""
        d = self.detection
        return d if d is not None and d.detector_version == getattr(detector, "version", None) else None


class AnalysisPool:
    """One spawned worker process (no fork of a process holding aiosqlite's thread) with a pickled
    copy of the detector, and a pipe. Create it inside the running event loop."""

    def __init__(self, detector: Any = None) -> None:
        self.detector = detector
        self.broken_at: float | None = None  # loop time the worker was lost
        ctx = get_context("spawn")
        self._conn, child = ctx.Pipe()
        blob = pickle.dumps(detector) if detector is not None else None
        self._proc = ctx.Process(target=_serve, args=(child, os.getpid(), blob), daemon=True,
                                 name="tgwatch-analysis")
        self._proc.start()
        child.close()
        self._loop = asyncio.get_running_loop()
        # Answers are read with one non-blocking recv per wake-up, however many frames it brings
        # (Connection.recv makes two blocking reads a frame, and would block the loop on a frame
        # that has only partly arrived). The frames are multiprocessing's: a 4-byte big-endian
        # length (-1: an 8-byte one follows), then the pickle.
        self._sock = socket.socket(fileno=os.dup(self._conn.fileno()))
        self._inbox = bytearray()
        self._loop.add_reader(self._sock.fileno(), self._on_answer)
        self._waiting: deque[tuple[list[Analysis], int]] = deque()  # sent batches, and their characters
        self._waiting_chars = 0
        self._drained = asyncio.Event()
        self._batch: list[tuple[str, Analysis]] = []
        self._chars = 0
        self._terms: tuple[str, ...] = ()  # the batch's
        self._terms_of: frozenset[str] | None = None
        self._terms_sorted: tuple[str, ...] = ()
        self._sent_terms: tuple[str, ...] | None = None
        self._broken = False
        self._started = False  # the worker answered its start-up message: texts are sent from then on
        self.on_answer: Callable[[], None] = lambda: None  # the writer's wake-up
        self._send((), [])  # answered once the worker's imports are done (~1 s): settled() waits for it

    @property
    def broken(self) -> bool:
        return self._broken

    def analyse(self, generation: int | None, terms: frozenset[str], text: str) -> Analysis | None:
        """Send `text`; the returned slot is filled when the worker answers. None: not sent (the worker
        is still starting, is gone or has too much unanswered), analyse in-process."""
        if (self._broken or not self._started or not text or len(text) > MAX_BATCH_CHARS
                or self._waiting_chars + self._chars + len(text) > MAX_WAITING_CHARS):
            return None
        slot = Analysis(generation)
        if terms is not self._terms_of:  # sorted once per subscription generation, not once a post
            self._terms_of, self._terms_sorted = terms, tuple(sorted(terms))
        ordered = self._terms_sorted
        if self._batch and (self._terms != ordered or self._chars + len(text) > MAX_BATCH_CHARS):
            self._flush()
        if not self._batch:
            self._terms = ordered
            if len(self._waiting) < PIPELINE:
                self._loop.call_soon(self._flush)  # after the other posts of this turn of the loop
        self._batch.append((text, slot))
        self._chars += len(text)
        return slot

    def _flush(self) -> None:
        batch, chars, self._batch, self._chars = self._batch, self._chars, [], 0
        if batch and not self._broken:
            self._send(self._terms, [text for text, _ in batch], [slot for _, slot in batch], chars)

    def _send(self, terms: tuple[str, ...], texts: list[str], slots: list[Analysis] | None = None,
              chars: int = 0) -> None:
        try:
            self._conn.send((None if terms == self._sent_terms else terms, texts))
        except (OSError, ValueError) as e:
            self._gone(e)
            return
        self._sent_terms = terms
        self._waiting.append((slots or [], chars))
        self._waiting_chars += chars
        self._drained.clear()

    def _on_answer(self) -> None:
        try:
            data = self._sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._gone(e)
            return
        if not data:
            self._gone(EOFError("the worker closed its end"))
            return
        inbox = self._inbox
        inbox += data
        answered = False
        while len(inbox) >= 4:
            size, head = struct.unpack_from("!i", inbox)[0], 4
            if size == -1:
                if len(inbox) < 12:
                    break
                size, head = struct.unpack_from("!Q", inbox, 4)[0], 12
            if len(inbox) < head + size:
                break
            answers = pickle.loads(inbox[head:head + size])
            del inbox[:head + size]
            slots, chars = self._waiting.popleft()
            self._waiting_chars -= chars
            self._started = True
            for slot, (detection, hits) in zip(slots, answers):
                slot.detection, slot.hits, slot.answered = detection, hits, True
            answered = answered or bool(slots)
        if self._batch and len(self._waiting) < PIPELINE:
            self._flush()
        if not self._waiting:
            self._drained.set()
        if answered:
            self.on_answer()

    async def settled(self) -> None:
        """Until every text asked about so far is answered (or the worker is gone)."""
        self._flush()
        if self._waiting and not self._broken:
            await self._drained.wait()

    def _gone(self, error: BaseException) -> None:
        if not self._broken:
            log.warning("analysis worker unavailable (%s); detecting and matching in-process until it "
                        "is restarted", error)
        self.close()
        self.broken_at = self._loop.time()

    def close(self) -> None:
        if self._broken:
            return
        self._broken = True
        self._waiting.clear()
        self._waiting_chars = 0
        self._drained.set()
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._conn.close()  # the worker reads EOF and exits
        self.on_answer()  # posts waiting for an answer go now
