"""Export the archive to CSV, JSON Lines or Parquet, streamed with bounded memory.

Rows come from storage.export_read (plain sqlite3 on a reader thread) in batches and are
written as they arrive; Parquet is written one row group per batch (pyarrow is an optional
extra, imported only here and only when Parquet is asked for). A file is written under a `.partial` name and renamed when
complete, so a failed export never leaves a truncated file under the requested name.
"""

from __future__ import annotations

import csv
import json
import os
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Protocol, TextIO

from bot.detection.terms import text_matches_term
from bot.errors import UserError
from storage.db import Database
from storage.research import (
    TEXT_INDEX, ArchiveFilters, count_export_rows, export_columns, json_line_sql,
)
from storage.export_read import export_batches

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
_JSON_LISTS = ("names", "countries")  # JSON array text in the database
# Rows per database fetch and per Parquet row group: big enough for speed, small enough for memory.
BATCH_ROWS = 5000
PARQUET_GROUP_ROWS = 20_000


def choose_format(path: str | None, fmt: str | None) -> str:
    """The explicit --format, else the file suffix; stdout needs an explicit text format."""
    if fmt:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    if path and path != "-":
        found = _SUFFIXES.get(Path(path).suffix.lower())
        if found:
            return found
        raise UserError(f"cannot tell the format from {path!r}; name it .csv, .jsonl or .parquet, or pass --format")
    return "csv"


class _Writer(Protocol):
    def write(self, rows: list) -> None: ...
    def close(self) -> None: ...


def _csv_cell(v: Any, _str: type = str) -> str:
    if v is None:
        return ""
    if v.__class__ is _str:
        if '"' in v or "," in v or "\n" in v or "\r" in v:
            return '"' + v.replace('"', '""') + '"'
        return v
    return _str(v)


_INT_COLUMNS = ("channel_id", "message_id", "views", "forwards", "grouped_id", "count", "version")


def _row_formatter(columns: tuple[str, ...]) -> Callable[[list[tuple]], list[str]]:
    """A function from rows to CSV lines, generated once per column list: each cell's common type
    (int / float / str without a quote, comma or line break) is written inline, anything else (NULL,
    a quoted string, an unexpected type) goes through _csv_cell, so every line is exactly what
    _csv_cell gives cell by cell, at a fraction of the cost (no call per cell)."""
    cells = []
    for i, name in enumerate(columns):
        v = f"r[{i}]"
        if name in _INT_COLUMNS:
            cells.append(f"{{{v} if {v}.__class__ is int else cell({v})}}")
        elif name == "confidence":  # format(float) is repr(float), as str() in _csv_cell
            cells.append(f"{{{v} if {v}.__class__ is float else cell({v})}}")
        else:
            cells.append(f"{{{v} if {v}.__class__ is str and not (Q in {v} or C in {v} or LF in {v} or CR in {v}) "
                         f"else cell({v})}}")
    src = f'def lines(rows, cell, Q=chr(34), C=",", LF=chr(10), CR=chr(13)):\n    return [f"""{",".join(cells)}""" for r in rows]\n'
    namespace: dict[str, Any] = {}
    exec(compile(src, "<csv row formatter>", "exec"), namespace)  # noqa: S102 - built from our own column names
    lines = namespace["lines"]
    return lambda rows: lines(rows, _csv_cell)


class CsvWriter:
    """RFC 4180: CRLF line ends, a field is quoted when it holds a quote, comma or line break,
    quotes are doubled. names/countries stay JSON arrays. (Formatted here rather than with the
    csv module, which is slower on long Cyrillic text; the tests read it back with csv.)"""

    def __init__(self, stream: TextIO, columns: tuple[str, ...]):
        self._s = stream
        self._s.write(",".join(columns) + "\r\n")
        self._lines = _row_formatter(columns)

    def write(self, rows: list[tuple]) -> None:
        if rows:
            self._s.write("\r\n".join(self._lines(rows)) + "\r\n")

    def close(self) -> None:
        return None


class JsonlWriter:
    """One JSON object per line (built by SQLite, see storage.research.json_line_sql)."""

    def __init__(self, stream: TextIO, columns: tuple[str, ...]):
        self._s = stream

    def write(self, lines: list[str]) -> None:
        if lines:
            self._s.write("\n".join(lines) + "\n")

    def close(self) -> None:
        return None


def _parquet_schema(pa: Any, columns: tuple[str, ...]) -> Any:
    ts = pa.timestamp("us", tz="UTC")
    types = {
        "channel_id": pa.int64(), "channel_username": pa.string(), "message_id": pa.int64(), "permalink": pa.string(),
        "posted_at": ts, "edited_at": ts, "captured_at": ts, "deleted_at": ts, "text": pa.string(),
        "views": pa.int64(), "forwards": pa.int64(), "grouped_id": pa.int64(), "media": pa.string(),
        "label": pa.string(), "confidence": pa.float64(), "count": pa.int64(), "names": pa.list_(pa.string()),
        "countries": pa.list_(pa.string()), "detector_version": pa.string(), "version": pa.int64(),
    }
    return pa.schema([(c, types[c]) for c in columns])


class ParquetWriter:
    """Row groups of PARQUET_GROUP_ROWS; times as UTC timestamps, names/countries as list<string>."""

    def __init__(self, path: Path, columns: tuple[str, ...]):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:
            raise UserError("Parquet export needs pyarrow: pip install 'tgwatch[parquet]' (or export to .csv/.jsonl)") from e
        self._pa = pa
        self._cols = columns
        self._schema = _parquet_schema(pa, columns)
        self._w = pq.ParquetWriter(str(path), self._schema, compression="zstd")
        self._pending: list[tuple] = []

    def write(self, rows: list[tuple]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= PARQUET_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        pa = self._pa
        arrays = []
        columns = zip(*self._pending)  # one C-level transpose instead of a list per column
        for name, field, values in zip(self._cols, self._schema, columns):
            if name in _JSON_LISTS:
                arrays.append(pa.array([[] if v == "[]" or not v else json.loads(v) for v in values], type=field.type))
            elif pa.types.is_timestamp(field.type):
                arrays.append(pa.array(values, type=pa.string()).cast(field.type))
            else:
                arrays.append(pa.array(values, type=field.type))
        self._w.write_table(pa.Table.from_arrays(arrays, schema=self._schema), row_group_size=len(self._pending))
        self._pending = []

    def close(self) -> None:
        self._flush()
        self._w.close()


@dataclass(frozen=True)
class ExportResult:
    rows: int
    path: str  # "-" for stdout
    format: str


Progress = Callable[[int], None]


async def export_posts(
    db: Database, path: str | Path | None, fmt: str, filters: ArchiveFilters = ArchiveFilters(), *,
    versions: bool = False, bom: bool = True, stdout: TextIO | None = None, progress: Progress | None = None,
) -> ExportResult:
    """Write the selected posts (or, with versions, every version) to `path` ("-"/None: stdout).

    `progress` is called with the number of database rows read after each batch. Raises
    UserError for an unusable format or destination.
    """
    columns = export_columns(versions)
    to_stdout = path is None or str(path) == "-"
    if to_stdout and fmt == "parquet":
        raise UserError("Parquet cannot be written to standard output; give a file name ending in .parquet")
    target = None if to_stdout else Path(path)
    partial = None if target is None else target.with_name(target.name + ".partial")
    stream: TextIO | None = None
    rows_out = 0
    try:
        if fmt == "parquet":
            writer: _Writer = ParquetWriter(partial, columns)
        else:
            if target is None:
                stream = stdout
                assert stream is not None
            else:
                stream = open(partial, "w", encoding="utf-8-sig" if (bom and fmt == "csv") else "utf-8", newline="")
            writer = CsvWriter(stream, columns) if fmt == "csv" else JsonlWriter(stream, columns)
        batches, json_at, text_at = _batches(db, filters, fmt, versions)
        async with aclosing(batches):  # a failed write stops the reader thread at once
            async for batch in batches:
                rows = batch if not filters.terms else [r for r in batch if _matches(r[text_at], filters.terms)]
                writer.write([r[json_at] for r in rows] if fmt == "jsonl" else rows)
                rows_out += len(rows)
                if progress is not None:
                    progress(len(batch))
        writer.close()
        if stream is not None and target is not None:
            stream.close()
        if target is not None:
            os.replace(partial, target)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}; check the folder exists and is writable") from e
    finally:
        if stream is not None and target is not None and not stream.closed:
            stream.close()
        if partial is not None and partial.exists():
            partial.unlink()
    return ExportResult(rows_out, "-" if target is None else str(target), fmt)


def _batches(
    db: Database, filters: ArchiveFilters, fmt: str, versions: bool
) -> tuple[AsyncIterator[list[tuple]], int, int]:
    """Row batches in export order, the position of the JSON text (JSONL) and of the post text.

    Rows hold the export columns (CSV, Parquet) or, for JSONL, the order keys, one SQL-built JSON
    object and (with watch terms) the text.
    """
    keys = ("posted_at", "channel_id", "message_id") + (("version",) if versions else ())
    if fmt == "jsonl":
        select = keys + (json_line_sql(versions),) + (("text",) if filters.terms else ())
        json_at, text_at = len(keys), len(keys) + 1
    else:
        select, json_at, text_at = export_columns(versions), 0, TEXT_INDEX
    order = tuple(select.index(k) for k in keys)
    batches = export_batches(db.path, filters, versions=versions, select=select, order=order, posted_at=order[0],
                             batch=BATCH_ROWS)
    return batches, json_at, text_at


def _matches(text: str, terms: tuple[str, ...]) -> bool:
    return any(text_matches_term(text, t) for t in terms)


async def count_rows(db: Database, filters: ArchiveFilters, *, versions: bool) -> int:
    """Rows the export will read (for a progress bar's total)."""
    return await count_export_rows(db, filters, versions=versions)
