"""Detection in worker processes, for big imports: the detector is pure and CPU-bound (~0.25-0.5 ms a
post, more than everything else an import does per post), so one core caps an import below 5,000/s.
The full-text stems of each text (~0.1 ms, also pure) are computed there too.

Workers are started with "spawn" (no fork of a process that may hold aiosqlite's thread) and get
the detector pickled once. Verdicts are equal to in-process ones (detect() is a pure function of
the text); a text that somehow misses the pool is detected in-process by handle_posts_bulk.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor
from itertools import chain
from multiprocessing import get_context
from typing import Any, Awaitable

from bot.models import Detection
from bot.textsearch import stems_of
from storage.research import fold_text
from handlers.posts import safe_detect

# Below this many posts the ~0.5 s worker start-up costs more than it saves.
MIN_POSTS = 5000

_detector: Any = None


# Workers yield the CPU to the importer: it stores every post on one core, so it is the import's
# critical path; at equal priority, two busy workers and the importer shared 2 cores three ways and
# the importer ran at 2/3 speed. Niced, the workers use what the importer leaves (the same total work).
WORKER_NICE = 5  # weight 335 against 1,024: two workers still leave the importer a full core


def _init(blob: bytes) -> None:
    global _detector
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # no nice() on this platform, or not permitted: run as is
        pass
    _detector = pickle.loads(blob)


def _detect_all(texts: list[str], stems: bool = True) -> list[tuple[Detection, str | None]]:
    return [(safe_detect(_detector, t), stems_of(fold_text(t)) if stems else None) for t in texts]


def _stems_all(folded: list[str]) -> list[str]:
    return [stems_of(t) for t in folded]


def _ready() -> None:
    """A no-op task: submitting one per worker makes the executor start its processes."""


def worker_count() -> int:
    return min(os.cpu_count() or 1, 8)


class DetectionPool:
    """A process pool running detector.detect (and stems_of); close() it (or use it as a context manager).
    For stems alone, the detector may be None."""

    def __init__(self, detector: Any, workers: int, *, stems: bool = True):
        self._parts = 2 * workers  # a little finer than one part per worker, for balance
        self._stems = stems
        self._ex = ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_init, initargs=(pickle.dumps(detector),)
        )
        # Start the workers now, from a thread: spawning blocks the caller until each child has booted
        # and read the detector (~0.1-0.7 s each), time the caller can spend reading the file instead.
        self._starting = threading.Thread(
            target=lambda: [self._ex.submit(_ready) for _ in range(workers)], name="detect-pool-start", daemon=True)
        self._starting.start()

    def submit(self, texts: list[str]) -> Awaitable[dict[str, tuple[Detection, str | None]]]:
        """Start detecting `texts` now; await the result later: text -> (detection, full-text stems of
        the folded text for storage.research.index_pending, or None if the pool was made without)."""
        unique = list(dict.fromkeys(texts))
        size = max(1, -(-len(unique) // self._parts))
        parts = [unique[i:i + size] for i in range(0, len(unique), size)]
        futures = [asyncio.wrap_future(self._ex.submit(_detect_all, part, self._stems)) for part in parts]

        async def collect() -> dict[str, tuple[Detection, str]]:
            return dict(zip(unique, chain.from_iterable(await asyncio.gather(*futures))))

        return asyncio.ensure_future(collect())

    def stems(self, folded: list[str]) -> Awaitable[dict[str, str]]:
        """Start computing the full-text stems of folded texts (storage.research.fold_text) now;
        await the result later: folded text -> stems, for storage.research.index_pending(known=)."""
        unique = list(dict.fromkeys(folded))
        size = max(1, -(-len(unique) // self._parts))
        parts = [unique[i:i + size] for i in range(0, len(unique), size)]
        futures = [asyncio.wrap_future(self._ex.submit(_stems_all, part)) for part in parts]

        async def collect() -> dict[str, str]:
            return dict(zip(unique, chain.from_iterable(await asyncio.gather(*futures))))

        return asyncio.ensure_future(collect())

    def close(self) -> None:
        self._starting.join()
        self._ex.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "DetectionPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
