"""Counters that are not whole numbers in an export's bytes: found, reported once per field, made null.

Why: polars would silently turn a ``views`` of ``"12k"`` into null, ``12.5`` into 12, ``true`` into 1
and ``{...}`` into a parse error of the whole file. When the parse fails, or the parsed counters could
hide such a value (:func:`counters_suspect`), a scan of the bytes (one regular expression, ~3 GB/s)
finds every counter value that is not a plain integer; each is decoded, replaced by its integer
(``"12"``, ``12.0``) or by ``null``, reported once per table and field with a count and an example, and
the file parsed again (:mod:`impactreport.load.read`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import polars as pl

from impactreport.layout import TABLE_NAMES

#: Counters: fields that must hold whole numbers ≥ 0; any other value (a negative one too) becomes null,
#: with a warning.
COUNTERS = ("views",)
_WS = rb"[ \t\r\n]*+"
#: A counter key whose value is not a plain integer of at most 18 digits or null (possessive
#: quantifiers: the lookahead sees the value itself, not a shorter backtracked stretch of blanks).
_ODD_COUNTER = re.compile(
    rb'"('
    + "|".join(COUNTERS).encode()
    + rb')"'
    + _WS
    + rb":"
    + _WS
    + rb"(?!(?:[0-9]{1,18}|null)"
    + _WS
    + rb"[,}\]])"
)
_TABLE_KEY = re.compile(rb'"(' + "|".join(TABLE_NAMES).encode() + rb')"' + _WS + rb":" + _WS + rb"\[")
_DECODER = json.JSONDecoder()
_DIGITS = re.compile(r"[ \t\r\n]*-?[0-9]+[ \t\r\n]*")


def whole_number(value: object) -> int | None:
    """A counter's value as an integer, or None when it is not a whole number.

    Accepted: an integer, a float with nothing after the point (``12.0``) and a string of digits
    (``"12"``, as the loader always read them), within 64 bits. Not: ``true``, ``12.5``, ``"12k"``,
    arrays, objects.
    """
    whole = (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and _DIGITS.fullmatch(value) is not None)
    )
    if not whole:
        return None
    number = int(value)  # type: ignore[call-overload]
    return number if 0 <= number < 2**63 else None  # a negative count is no count


def shown(value: object, width: int = 40) -> str:
    """A value as the warning quotes it: a string as Python writes it, anything else as JSON."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def counter_warning(path: object, field: str, count: int, example: object) -> str:
    """``x.json: threads.views: 3 value(s) that are not counts (whole numbers ≥ 0) ignored, e.g. '12k'``."""
    what = "that are not counts (whole numbers ≥ 0)"
    return f"{path}: {field}: {count:,} value(s) {what} ignored, e.g. {shown(example)}"


def _value_at(raw: bytes, start: int) -> tuple[object, int] | None:
    """The JSON value starting at byte ``start`` and the byte just after it; None if it is not one.

    A window of bytes around the value is decoded, widened until the value fits: a counter's value is
    short, but a hostile one can be a whole object. A value that reaches the window's end might
    continue past it (a number), so it is accepted only when something follows it in the window.
    """
    size = 256
    while True:
        window = raw[start : start + size]
        text = window.decode("utf-8", "surrogateescape")
        whole = start + size >= len(raw)
        try:
            value, end = _DECODER.raw_decode(text)
        except json.JSONDecodeError:
            value, end = None, -1
        if end != -1 and (end < len(text) or whole):
            return value, start + len(text[:end].encode("utf-8", "surrogateescape"))
        if whole:
            return None
        size *= 16


def _escaped(raw: bytes, quote: int) -> bool:
    """Whether the quote at ``quote`` is escaped (an odd run of backslashes before it)."""
    run = 0
    while quote - run > 0 and raw[quote - run - 1] == 0x5C:
        run += 1
    return run % 2 == 1


def clean_counters(path: object, raw: bytes) -> tuple[bytes, list[str]]:
    """Counter values that are not whole numbers replaced by null, with one warning per field.

    The fast path is one regular-expression scan that finds nothing in a sound export. Each value
    found is decoded: a whole number in another spelling (``"12"``, ``12.0``) is written as the
    integer, anything else as ``null``. The table named in a warning is the nearest table key
    before the value.
    """
    found = _ODD_COUNTER.search(raw)
    if found is None:
        return raw, []
    tables = [(match.start(), match.group(1).decode()) for match in _TABLE_KEY.finditer(raw)]
    pieces: list[bytes] = []
    kept = 0  # raw[kept:] is not yet copied into pieces
    counts: dict[str, list] = {}
    for match in _ODD_COUNTER.finditer(raw, found.start()):
        if match.start() < kept or _escaped(raw, match.start()):
            continue  # inside a value already replaced, or not a key
        decoded = _value_at(raw, match.end())
        if decoded is None:
            continue  # not JSON: the parser will say where
        value, end = decoded
        number = whole_number(value)
        if number is None and value is not None:
            table = next((name for start, name in reversed(tables) if start < match.start()), "export")
            field = f"{table}.{match.group(1).decode()}"
            counts.setdefault(field, [0, value])[0] += 1
        pieces += [raw[kept : match.end()], b"null" if number is None else str(number).encode()]
        kept = end
    if not pieces:
        return raw, warnings_for(path, counts)
    pieces.append(raw[kept:])
    return b"".join(pieces), warnings_for(path, counts)


def warnings_for(path: object, counts: dict[str, list]) -> list[str]:
    """One warning per ``table.field`` of ``counts`` (field → [count, first example])."""
    return [counter_warning(path, field, count, example) for field, (count, example) in counts.items()]


def _counter_series(frame: pl.DataFrame) -> Iterator[pl.Expr]:
    """The counter columns polars found in the threads and documents of a one-row export frame.

    Format A rows keep their columns under ``fields``: a counter there is looked at too.
    """
    for table in ("documents", "threads"):
        dtype = frame.schema.get(table)
        if not isinstance(dtype, pl.List) or not isinstance(dtype.inner, pl.Struct):
            continue
        rows = pl.col(table).explode()
        names = {f.name: f.dtype for f in dtype.inner.fields}
        for counter in COUNTERS:
            if counter in names:
                yield rows.struct.field(counter)
        fields = names.get("fields")
        if isinstance(fields, pl.Struct):
            for counter in COUNTERS:
                if counter in {f.name for f in fields.fields}:
                    yield rows.struct.field("fields").struct.field(counter)


def counters_suspect(frame: pl.DataFrame) -> bool:
    """Whether polars may have hidden a counter that is not a whole number.

    polars reads a column of integers mixed with strings as strings, with floats as floats, and
    ``true`` beside integers as 1: a counter column that is not of integers, or holds a 0 or a 1,
    sends the file to the byte scan (:func:`clean_counters`). Sound exports rarely do (21 of the
    220 real ones, all small), so the scan's cost is not paid on every file.
    """
    for expr in _counter_series(frame):
        values = frame.select(expr).to_series()
        if not (values.dtype.is_integer() or isinstance(values.dtype, pl.Null)):
            return True
        if values.is_in([0, 1]).any() or (values.dtype.is_integer() and (values < 0).any()):
            return True
    return False


#: From this many bytes, polars' view of the counters is looked at before the bytes are scanned.
_SCAN_AFTER_BYTES = 1 << 20


def counters_to_clean(raw: bytes, frame: pl.DataFrame | None) -> bool:
    """Whether the export's counters need :func:`clean_counters`: the parse failed or may hide a counter
    that is not a whole number, and the bytes hold one.

    Both conditions are needed (when the scan finds nothing, cleaning changes nothing), so the cheaper
    is asked first: the scan for a small file (checking polars' columns costs a query or two), the
    columns for a large one (the scan reads every byte).
    """
    if len(raw) < _SCAN_AFTER_BYTES:
        return _ODD_COUNTER.search(raw) is not None and (frame is None or counters_suspect(frame))
    return (frame is None or counters_suspect(frame)) and _ODD_COUNTER.search(raw) is not None


def has_odd_counter(raw: bytes) -> bool:
    """Whether the bytes hold a counter value that is not a plain integer or null (one scan)."""
    return _ODD_COUNTER.search(raw) is not None
