"""A temporary file of the messages an import's pass 1 read, so that pass 2 need not parse the JSON again.

Pass 1 parses and converts every message anyway (to validate the file before anything is stored);
spooling its Items as pickled tuples costs ~4 us a message and reading them back ~3 us, against
~23 us to parse and convert a message again. Memory stays bounded: SPOOL_ITEMS items at a time.
A spool that cannot be written (no space in the temp folder) is dropped and pass 2 parses the file
again, as before; the import's result is the same either way.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
from dataclasses import fields
from operator import attrgetter
from typing import IO, Iterable, Iterator

from handlers.tdesktop_format import Item

log = logging.getLogger(__name__)

SPOOL_ITEMS = 1000
# Every field of Item but `members` (albums are grouped after pass 2 reads the spool), in order,
# so Item(*row) rebuilds it and a field added to Item is spooled too.
_FIELDS = tuple(f.name for f in fields(Item) if f.name != "members")
_row = attrgetter(*_FIELDS)


class Spool:
    """Items written in pass 1 (`add`), read back in pass 2 (`items`); `close` removes the file."""

    def __init__(self) -> None:
        self._buf: list[tuple] = []
        self._f: IO[bytes] | None = None
        try:
            self._f = tempfile.TemporaryFile(prefix="tgwatch-import-")
        except OSError as e:
            log.warning("no import spool (%s); reading the file a second time instead", e.strerror or e)

    @property
    def usable(self) -> bool:
        return self._f is not None

    def add_all(self, items: Iterable[Item]) -> None:
        """Spool every item (all of `items` is consumed even if the spool fails)."""
        for item in items:
            if self._f is None:
                continue
            self._buf.append(_row(item))
            if len(self._buf) >= SPOOL_ITEMS:
                self._flush()
        self._flush()

    def _flush(self) -> None:
        if self._f is None or not self._buf:
            return
        try:
            pickle.dump(self._buf, self._f, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as e:
            log.warning("import spool not written (%s); reading the file a second time instead", e.strerror or e)
            self.close()
        self._buf = []

    def items(self) -> Iterator[Item]:
        assert self._f is not None
        self._f.seek(0)
        while True:
            try:
                chunk = pickle.load(self._f)
            except EOFError:
                return
            for t in chunk:
                yield Item(*t)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
