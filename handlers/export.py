"""Export the archive to CSV, JSON Lines or Parquet, streamed with bounded memory.

CSV and JSON Lines are read and formatted by posted_at windows (handlers.export_parallel, in
worker processes for big exports) and written as bytes in order. Parquet rows come from
storage.export_read (plain sqlite3 on a reader thread) and are written one row group per batch
(pyarrow is an optional extra, imported only here and only when Parquet is asked for). A file
is written under a `.partial` name and renamed when complete, so a failed export never leaves a
truncated file under the requested name.
"""

from __future__ import annotations

import json
import os
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Protocol, TextIO

from bot.detection.terms import text_matches_term
from bot.errors import UserError
from storage.db import Database
from handlers.export_parallel import export_windows
from storage.export_chunks import count_sql
from storage.export_read import export_batches
from storage.research import TEXT_INDEX, ArchiveFilters, export_columns

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
    stream: BinaryIO | None = None
    rows_out = 0
    try:
        if fmt == "parquet":
            rows_out = await _export_parquet(db, partial, columns, filters, versions, progress)
        else:
            if target is not None:
                stream = open(partial, "wb")
                write: Callable[[bytes], Any] = stream.write
            else:
                assert stdout is not None
                write = _text_writer(stdout)
            header = ",".join(columns).encode() + b"\r\n" if fmt == "csv" else b""
            write((b"\xef\xbb\xbf" if bom and fmt == "csv" and target is not None else b"") + header)
            rows_out = await export_windows(db.path, fmt, filters, versions=versions, write=write, progress=progress)
            if stream is not None:
                stream.close()
        if target is not None:
            os.replace(partial, target)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}; check the folder exists and is writable") from e
    finally:
        if stream is not None and not stream.closed:
            stream.close()
        if partial is not None and partial.exists():
            partial.unlink()
    return ExportResult(rows_out, "-" if target is None else str(target), fmt)


def _text_writer(stream: TextIO) -> Callable[[bytes], Any]:
    """Bytes to a text stream: straight to its binary buffer when it has one (sys.stdout)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        return buffer.write
    return lambda data: stream.write(data.decode("utf-8"))


async def _export_parquet(db: Database, path: Path, columns: tuple[str, ...], filters: ArchiveFilters,
                          versions: bool, progress: Progress | None) -> int:
    writer = ParquetWriter(path, columns)
    keys = ("posted_at", "channel_id", "message_id") + (("version",) if versions else ())
    order = tuple(columns.index(k) for k in keys)
    batches = export_batches(db.path, filters, versions=versions, select=columns, order=order, posted_at=order[0],
                             batch=BATCH_ROWS)
    rows_out = 0
    async with aclosing(batches):  # a failed write stops the reader thread at once
        async for batch in batches:
            rows = batch if not filters.terms else [r for r in batch if _matches(r[TEXT_INDEX], filters.terms)]
            writer.write(rows)
            rows_out += len(rows)
            if progress is not None:
                progress(len(batch))
    writer.close()
    return rows_out


def _matches(text: str, terms: tuple[str, ...]) -> bool:
    return any(text_matches_term(text, t) for t in terms)


async def count_rows(db: Database, filters: ArchiveFilters, *, versions: bool) -> int:
    """Rows the export will read (for a progress bar's total)."""
    sql, params = count_sql(filters, versions)
    return await db.fetchval(sql, params)
