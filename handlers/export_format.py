"""Export rows -> CSV or JSON Lines bytes, by row formatters generated once per column list.

Rows hold the export columns with the text as UTF-8 bytes (storage.export_chunks), so the text,
most of every line, is copied as is rather than decoded and re-encoded. Each cell's common case
is written inline: ints, text needing no quoting or escaping, and, through a small memo per
column, the values that repeat (channel, label, confidence, names...: float repr and JSON
re-serialisation are the costly ones). Anything else goes through _csv_cell / _json_cell, so every
line is exactly what those give cell by cell (tests/test_research_export_fast.py).
"""

from __future__ import annotations

import json
from typing import Any, Callable

_INT_COLUMNS = ("channel_id", "message_id", "views", "forwards", "grouped_id", "count", "version")
# Columns whose values repeat across rows: memoised (an int/float/str-or-None memo per column).
_REPEATING = ("channel_id", "channel_username", "grouped_id", "media", "label", "confidence", "count", "names",
              "countries", "detector_version", "version", "edited_at", "deleted_at")
_JSON_LISTS = ("names", "countries")
MEMO_CAP = 4096  # distinct values remembered per column; beyond that, computed each time
_JSON_SPECIAL = bytes(range(32)) + b'"\\'  # bytes a JSON string must escape
CSV_END, JSONL_END = "\r\n", "\n"  # line ends


def _csv_cell(v: Any, _str: type = str) -> str:
    """RFC 4180: quote a field holding a quote, comma or line break; double its quotes."""
    if v is None:
        return ""
    if v.__class__ is bytes:
        v = v.decode("utf-8")
    if v.__class__ is _str:
        if '"' in v or "," in v or "\n" in v or "\r" in v:
            return '"' + v.replace('"', '""') + '"'
        return v
    return _str(v)


def _csv_text(v: Any) -> bytes:
    return _csv_cell(v).encode("utf-8")


def _json_cell(v: Any) -> str:
    if v is None:
        return "null"
    if v.__class__ is bytes:
        v = v.decode("utf-8")
    return json.dumps(v, ensure_ascii=False)


def _json_list(v: Any) -> str:
    """names/countries are JSON array text in the database: embedded as arrays ([] for NULL)."""
    if not v:
        return "[]"
    return json.dumps(json.loads(v), ensure_ascii=False, separators=(",", ":"))


def _json_text(v: Any) -> bytes:
    """A JSON string of the text bytes: the usual escapes (backslash, quote, line breaks, tab) by
    bytes.replace, anything rarer through json.dumps."""
    if v.__class__ is not bytes:
        return _json_cell(v).encode("utf-8")
    out = v
    for raw, escaped in _JSON_ESCAPES:
        if raw in out:
            out = out.replace(bytes((raw,)), escaped)
    if len(out.translate(None, _JSON_SPECIAL_CTRL)) != len(out):
        return _json_cell(v.decode("utf-8")).encode("utf-8")  # another control character: rare
    return b'"' + out + b'"'


_JSON_ESCAPES = ((92, b"\\\\"), (34, b'\\"'), (10, b"\\n"), (13, b"\\r"), (9, b"\\t"))
_JSON_SPECIAL_CTRL = bytes(range(32))


class _Memo(dict):
    def __init__(self, fn: Callable[[Any], str]):
        super().__init__()
        self._fn = fn

    def __missing__(self, v: Any) -> str:
        s = self._fn(v)
        if len(self) < MEMO_CAP:
            self[v] = s
        return s


def _cell_expr(name: str, v: str, memo: str, fallback: str) -> str:
    if name in _REPEATING:
        if name in _INT_COLUMNS:
            return f"{memo}[{v}] if {v}.__class__ is int else {fallback}({v})"
        if name == "confidence":
            return f"{memo}[{v}] if {v}.__class__ is float else {fallback}({v})"
        return f"{memo}[{v}] if {v} is None or {v}.__class__ is str else {fallback}({v})"
    if name in _INT_COLUMNS:
        return f"{v} if {v}.__class__ is int else {fallback}({v})"
    return ""


def _compile(src: str, names: dict[str, Any]) -> Callable[[list[tuple]], list[bytes]]:
    """The generated `lines`, with the generated `pieces` as its attribute `pieces`."""
    namespace: dict[str, Any] = dict(names)
    exec(compile(src, "<export row formatter>", "exec"), namespace)  # noqa: S102 - built from our own column names
    lines = namespace["lines"]
    lines.pieces = namespace["pieces"]
    return lines


def _plain_str(name: str) -> bool:
    """Columns written as they are when the row's guard passes (links and ISO times)."""
    return name not in _REPEATING and name not in _INT_COLUMNS and name != "text"


def _guard(columns: tuple[str, ...], test: str) -> str:
    """One check for all the plain-string cells of a row (their concatenation), instead of one each."""
    at = [f"r[{i}]" for i, c in enumerate(columns) if _plain_str(c)]
    if not at:
        return "True"
    return f"{' is '.join(f'{v}.__class__' for v in at)} is str and {test.format(s=f'(s := {chr(43).join(at)})')}"


def csv_formatter(columns: tuple[str, ...]) -> Callable[[list[tuple]], list[bytes]]:
    """rows -> CSV lines (bytes, no line end), exactly b",".join(_csv_cell(v) for v in row) in UTF-8."""
    cells, names = [], {"cell": _csv_cell, "tcell": _csv_text}
    for i, name in enumerate(columns):
        v = f"r[{i}]"
        names[f"M{i}"] = _Memo(_csv_cell)
        cells.append(None if name == "text" else "{" + (_cell_expr(name, v, f"M{i}", "cell") or v) + "}")
    names["exact"] = lambda r: ",".join(_csv_cell(v) for v in r).encode("utf-8")
    # `34 in t` (an int) is a memchr; `b'"' in t` first tries int(b'"') and pays for the TypeError.
    text = "t if t.__class__ is bytes and not (34 in t or 44 in t or 10 in t or 13 in t) else tcell(t)"
    guard = _guard(columns, "not (Q in {s} or C in s or LF in s or CR in s)")
    return _compile(_source(cells, text, guard) + _pieces_source(cells, text, guard, CSV_END), names)


def jsonl_formatter(columns: tuple[str, ...]) -> Callable[[list[tuple]], list[bytes]]:
    """rows -> JSON objects (bytes, one per row, keys in column order, names/countries as arrays,
    NULL as null, UTF-8 unescaped): json.loads of a line gives the row."""
    cells, names = [], {"cell": _json_cell, "tcell": _json_text, "SPECIAL": _JSON_SPECIAL}
    for i, name in enumerate(columns):
        v, key = f"r[{i}]", json.dumps(name)
        if name in _JSON_LISTS:
            names[f"M{i}"] = _Memo(_json_list)
            expr = f"M{i}[{v}] if {v} is None or {v}.__class__ is str else cell({v})"
        else:
            names[f"M{i}"] = _Memo(_json_cell)
            expr = _cell_expr(name, v, f"M{i}", "cell")
        cells.append(None if name == "text" else f"{key}:" + ("{" + expr + "}" if expr else f'"{{{v}}}"'))
    keys = [json.dumps(c) for c in columns]
    names["exact"] = lambda r: ("{" + ",".join(
        f"{k}:{_json_list(v) if c in _JSON_LISTS else _json_cell(v)}" for k, c, v in zip(keys, columns, r)) + "}"
    ).encode("utf-8")
    text = "b'\"' + t + b'\"' if t.__class__ is bytes and len(t.translate(None, SPECIAL)) == len(t) else tcell(t)"
    guard = _guard(columns, "{s}.isprintable() and not (Q in s or BS in s)")
    # In `pieces` the text's quotes are part of the cells around it: the text bytes are not copied
    # to add them (tcell's own quotes are cut off instead, on the rare path).
    # A text that is not bytes (never from SQLite: it is read as a BLOB) takes the exact(r) path there.
    inner = "t if len(t.translate(None, SPECIAL)) == len(t) else tcell(t)[1:-1]"
    key = json.dumps("text") + ":"
    piece_guard = "t.__class__ is bytes and " * (None in cells) + guard
    return _compile(_source(cells, text, guard, "{{", "}}", key)
                    + _pieces_source(cells, inner, piece_guard, JSONL_END, "{{", "}}", key, quote='\\"'), names)


def _source(cells: list[str | None], text_expr: str, guard: str, open_: str = "", close: str = "",
            text_key: str = "") -> str:
    """Source of `lines(rows)`: the cells before the text column and after it as two f-strings
    around the text bytes, when the row's `guard` passes; else the row's exact(r). Cells are joined
    by commas."""
    head = 'def lines(rows, Q=chr(34), C=",", LF=chr(10), CR=chr(13), BS=chr(92)):\n'
    if None not in cells:
        return head + f'    return [f"""{open_}{",".join(cells)}{close}""".encode() if {guard} else exact(r) for r in rows]\n'
    at = cells.index(None)
    before = open_ + "".join(c + "," for c in cells[:at]) + text_key
    after = "".join("," + c for c in cells[at + 1:]) + close
    return head + (f'    return [f"""{before}""".encode() + ({text_expr}) + f"""{after}""".encode()\n'
                   f'            if {guard} else exact(r) for r in rows for t in (r[{at}],)]\n')


def _pieces_source(cells: list[str | None], text_expr: str, guard: str, end: str, open_: str = "",
                   close: str = "", text_key: str = "", quote: str = "") -> str:
    """Source of `pieces(rows)`: the bytes of `lines(rows)`, each line followed by `end`, as a flat
    list of parts (before-text, text, after-text-and-end) for one join or writelines: each text is
    copied once, not once per concatenation. `quote` goes around the text, outside `text_expr`."""
    nl = end.encode("unicode_escape").decode()
    if None not in cells:
        return (f'def pieces(rows, Q=chr(34), C=",", LF=chr(10), CR=chr(13), BS=chr(92), END={end!r}.encode()):\n'
                f'    return [f"""{open_}{",".join(cells)}{close}{nl}""".encode() if {guard} else exact(r) + END'
                ' for r in rows]\n')
    at = cells.index(None)
    before = open_ + "".join(c + "," for c in cells[:at]) + text_key + quote
    after = quote + "".join("," + c for c in cells[at + 1:]) + close + nl
    return (f'def pieces(rows, Q=chr(34), C=",", LF=chr(10), CR=chr(13), BS=chr(92), END={end!r}.encode()):\n'
            '    out = []\n'
            '    add, one = out.extend, out.append\n'
            '    for r in rows:\n'
            f'        t = r[{at}]\n'
            f'        if {guard}:\n'
            f'            add((f"""{before}""".encode(), {text_expr}, f"""{after}""".encode()))\n'
            '        else:\n'
            '            one(exact(r) + END)\n'
            '    return out\n')
