"""Many small exports parsed at once: files of one JSON shape stacked into one polars parse.

Why: parsing one file costs polars a tenth of a millisecond and a hundred kilobytes however small the
file; a tree of a hundred thousand small exports is parsed a batch at a time instead, and files of one
shape (:func:`json_shape`) give, stacked, exactly the rows and column types each gives alone. Any file
that does not fit takes the one-file path of :mod:`impactreport.load.read`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from impactreport.layout import TABLE_NAMES
from impactreport.load.counters import has_odd_counter
from impactreport.load.read import ParsedExport, check_text, holds_rows, parse_bytes, read_bytes, row_type

#: Exports of at most this many bytes (as JSON) may be parsed many at a time (:func:`read_export_or_small`).
SMALL_EXPORT_BYTES = 64 * 1024


@dataclass(frozen=True)
class SmallExport:
    """A small export read and checked, to be parsed together with others of the same shape.

    Parsing one file costs polars a tenth of a millisecond and a hundred kilobytes however small
    the file: a tree of a hundred thousand small exports is parsed a batch at a time instead
    (:func:`parse_stacked`). ``shape`` says which JSON types the file holds where (:func:`json_shape`):
    files of one shape give, stacked, exactly the rows and column types each gives alone.
    """

    path: Path
    raw: bytes
    #: gives the sha256 of the file as stored
    digest: Callable[[], str]
    shape: Hashable
    retrieved: str | None
    source: str | None


def read_export_or_small(path: Path) -> ParsedExport | SmallExport:
    """One export file, parsed (:func:`parse_export`) or, when small and sound, left for a stacked parse.

    Sound: an object holding the five tables as arrays, and no counter that is not a whole number.
    Any other small file takes the path of :func:`parse_export`, with its checks and messages.
    """
    raw, digest = read_bytes(path)
    if len(raw) <= SMALL_EXPORT_BYTES:
        check_text(path, raw)
        small = _small(path, raw, digest)
        if small is not None:
            return small
    return parse_bytes(path, raw, digest)


def _small(path: Path, raw: bytes, digest: Callable[[], str]) -> SmallExport | None:
    if has_odd_counter(raw):
        return None
    try:
        export = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep: parse_export says which
        return None
    if not isinstance(export, dict) or not all(isinstance(export.get(name), list) for name in TABLE_NAMES):
        return None
    retrieved, source = export.get("retrieved"), export.get("source")
    return SmallExport(
        path=path,
        raw=raw,
        digest=digest,
        shape=json_shape(export, small_ints=_LONG_NUMBER.search(raw) is None),
        retrieved=retrieved if isinstance(retrieved, str) else None,
        source=source if isinstance(source, str) else None,
    )


#: 19 digits in a row: a number that may not fit 64 bits (or digits in a text; either way, no shortcut).
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
#: The JSON integers polars reads as 64-bit integers; a larger one is a kind of its own.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: What a path holds besides values: an object key (present even when its values are all null).
_KEY = "key"


def json_shape(
    export: object, *, small_ints: bool = False
) -> frozenset[tuple[tuple[str | None, ...], object]]:
    """Which JSON types a parsed file holds where, as polars infers a schema from them.

    The set of (path, kind): ``path`` the object keys from the top (None for "an element of the array"),
    ``kind`` the type found there (null is no kind: polars ignores it in inference), or ``"key"`` for a
    key that is present. Polars' type for each column follows from the kinds at its path, so two files
    of one shape give the same schema alone and stacked, and stacking them changes no value.

    ``small_ints``: the caller knows every integer fits 64 bits (no run of 19 digits in the file), so
    a row of plain values is described by its keys and their types alone, looked up once per kind of
    row instead of value by value.
    """
    found: set[tuple[tuple[str | None, ...], object]] = set()
    _shape(found, (), export, small_ints)
    return frozenset(found)


#: The types of plain JSON values (no array, no object).
_PLAIN = frozenset([str, int, float, bool, type(None)])
#: (element path, keys, value types) of a row of plain values → its part of a shape.
_ROW_SHAPES: dict[tuple, frozenset] = {}
_ROW_SHAPES_MAX = 4096


def _shape(found: set, path: tuple[str | None, ...], value: object, small_ints: bool) -> None:
    kind = type(value)
    if kind is dict:
        found.add((path, dict))
        for key, item in value.items():  # type: ignore[attr-defined]
            child = (*path, key)
            found.add((child, _KEY))
            item_kind = type(item)
            if item_kind is str or item_kind is float or item_kind is bool:  # most values: no call
                found.add((child, item_kind))
            elif item_kind is int:
                found.add((child, int if _INT64_MIN <= item <= _INT64_MAX else "big int"))
            elif item is not None:
                _shape(found, child, item, small_ints)
    elif kind is list:
        found.add((path, list))
        element = (*path, None)
        for item in value:  # type: ignore[attr-defined]
            if small_ints and type(item) is dict:
                kinds = tuple(map(type, item.values()))
                if _PLAIN.issuperset(kinds):
                    row = (element, tuple(item), kinds)
                    shape = _ROW_SHAPES.get(row)
                    if shape is None:
                        part: set = set()
                        _shape(part, element, item, small_ints)
                        shape = frozenset(part)
                        if len(_ROW_SHAPES) < _ROW_SHAPES_MAX:
                            _ROW_SHAPES[row] = shape
                    found.update(shape)
                    continue
            _shape(found, element, item, small_ints)
    elif kind is int:
        found.add((path, int if _INT64_MIN <= value <= _INT64_MAX else "big int"))  # type: ignore[operator]
    elif value is not None:
        found.add((path, kind))


def parse_stacked(exports: Sequence[SmallExport]) -> tuple[pl.DataFrame, dict[str, pl.Struct | None]] | None:
    """Small exports of one shape parsed in one call: a row per file, a column per table, and each
    table's row type (as :class:`ParsedExport` has them); None when they cannot be (the caller then
    parses each alone, for its own message)."""
    stacked = b"[" + b",".join(export.raw for export in exports) + b"]"
    try:
        frame = pl.read_json(stacked, infer_schema_length=None)
    except Exception:  # polars raises several error types for input it cannot read
        return None
    rows: dict[str, pl.Struct | None] = {}
    if frame.height != len(exports):
        return None
    for name in TABLE_NAMES:
        dtype = frame.schema.get(name)
        if not isinstance(dtype, pl.List) or not holds_rows(dtype):
            return None
        rows[name] = row_type(dtype)
    return frame[list(TABLE_NAMES)], rows


def parse_alone(export: SmallExport) -> ParsedExport:
    """A small export parsed by itself (:func:`parse_export`, without reading the file again)."""
    return parse_bytes(export.path, export.raw, export.digest)
