"""Read one export file into raw polars tables, with a one-line error for every kind of bad file.

Bad input handled here: a missing or unreadable file, truncated or corrupt gzip, non-UTF-8 bytes, an
HTML error page saved as ``.json`` (Thinklab's "bad gateway" page), invalid JSON, a JSON value that is
not an export object, missing tables, tables that are not arrays. Each becomes an
:class:`~impactreport.errors.InputError` whose message starts with the file name.

:class:`NotAnExport` (a kind of ``InputError``) marks a file that is evidently something else, not a
damaged export: an HTML page, text or JSON that is not an object, a JSON object that holds none of the
five tables, or one that lacks some of them, holds keys no export has and no table rows
(``summary --json``'s output saved beside the exports: ``notes`` of sentences, or none, beside
``overall``). The loader may skip such a file when it only met it while scanning a folder. Every other
failure (unreadable, corrupt gzip, not UTF-8, empty, an object cut short, some tables missing) is damage
to what should be an export, and stays an error wherever the file was found.

Parsing goes through polars' JSON reader (Rust, no Python object per row), which keeps a million-post
export within memory; Python's ``json`` is used only to explain a parse error precisely.

**Bounded size** (:mod:`impactreport.capped`) and **counters that are not whole numbers**
(:mod:`impactreport.load.counters`) have modules of their own; many small files are parsed at once by
:mod:`impactreport.load.small`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from impactreport.capped import (  # re-exported: the loader's readers and its tests import them from here
    MAX_EXPORT_BYTES,
    MAX_EXPORT_BYTES_ENV,
    export_bytes,
    gunzip,
    is_gzip,
    max_export_bytes,
    read_stored,
    too_large,
)
from impactreport.errors import InputError
from impactreport.layout import TABLE_NAMES
from impactreport.load.counters import clean_counters, counters_to_clean


class NotAnExport(InputError):
    """The file is not an export of a project at all (see the module docstring for the rule)."""

    def skipped(self) -> str:
        """The warning of a reader that skips such a file (the history reads every file it lists)."""
        return f"{self}: skipped (not a project export)"


_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")


@dataclass(frozen=True)
class RawExport:
    """One export file's tables as read (rows of that file's format), plus what identifies the file."""

    path: Path
    tables: dict[str, pl.DataFrame]
    retrieved: str | None
    source: str | None
    sha256: str
    #: recoverable problems met while reading (counters that are not whole numbers)
    warnings: tuple[str, ...] = ()


#: From this many bytes as stored, a file is hashed in a thread; a smaller one where it is read (handing
#: it to a thread costs more than hashing it).
_HASH_APART_BYTES = 1 << 20


def read_bytes(path: Path) -> tuple[bytes, Callable[[], str]]:
    """The decompressed bytes of an export file, and what gives the sha256 of the bytes as stored.

    A large file's digest is computed in a thread (hashlib releases the GIL) while the caller
    decompresses and parses: hashing a large export would otherwise add to the time before its texts
    can be measured.
    """
    limit = max_export_bytes()
    stored = read_stored(path, limit)
    digest: Callable[[], str]
    if len(stored) >= _HASH_APART_BYTES:
        digest = _HASHER.submit(lambda: hashlib.sha256(stored).hexdigest()).result
    else:
        digest = functools.partial(str, hashlib.sha256(stored).hexdigest())
    if is_gzip(path, stored):
        return gunzip(path, stored, limit), digest
    return stored, digest


def _parse(raw: bytes) -> pl.DataFrame | None:
    """The export as a one-row frame, or None when polars cannot parse it."""
    try:
        # The export is one JSON object, i.e. one row: inference over that row already sees every
        # element of every table (and is faster than asking for an unbounded scan).
        return pl.read_json(raw)
    except Exception:  # polars raises several error types for malformed input
        return None


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line[:80]


def check_text(path: Path, raw: bytes) -> None:
    """Reject bytes that cannot be an export before the JSON parser sees them."""
    try:
        head = raw[:4096].decode("utf-8", errors="strict")
    except UnicodeDecodeError as error:
        if error.start < 4090:  # a cut multi-byte character at the edge of the slice is fine
            raise InputError(f"{path}: not UTF-8 (invalid byte at offset {error.start})") from None
        head = raw[: error.start].decode("utf-8")
    stripped = head.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise InputError(f"{path}: empty file")
    if stripped.startswith("<"):
        raise NotAnExport(
            f"{path}: an HTML page, not a JSON export (server error page?): {_first_line(stripped)!r}"
        )
    if not stripped.startswith("{"):
        raise NotAnExport(f"{path}: not a JSON export object (starts with {stripped[:20]!r})")
    _refuse_duplicate_keys(path, raw)


#: Keys whose repetition changes what is counted: the tables, and what dates and names an export.
_MEANINGFUL_KEY = re.compile(rb'"(?:documents|threads|comments|notes|profiles|retrieved|source)"')


def _refuse_duplicate_keys(path: Path, raw: bytes) -> None:
    """Refuse an export in which one object holds a key twice (``"notes": [], …, "notes": [note]``).

    Why: JSON leaves duplicate keys undefined; polars keeps the first, Python's ``json`` the last, so
    the same file could count 0 notes or 1 depending on the reader. No exporter writes them, so a file
    that has them is refused with one line naming the key. The cheap part runs on every file: one scan
    for the keys that decide what is counted (0.6 ms a MB); only a file where one of them occurs twice
    is parsed again to check (a table name as a string value is no duplicate).
    """
    seen: set[bytes] = set()
    repeated = False
    for match in _MEANINGFUL_KEY.finditer(raw):
        if match.group() in seen:
            repeated = True
            break
        seen.add(match.group())
    if not repeated:
        return

    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            twice = next(key for key in keys if keys.count(key) > 1)
            raise InputError(f"{path}: key {twice!r} appears twice in one JSON object (which one counts?)")
        return dict(pairs)

    try:
        json.loads(raw, object_pairs_hook=check)
    except ValueError:
        return  # not JSON: the parse that follows says where


def _explain_json_error(path: Path, raw: bytes) -> InputError:
    """The most precise one-line message for bytes polars could not parse."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return InputError(f"{path}: not UTF-8 (invalid byte at offset {error.start})")
    try:
        json.loads(text, parse_constant=_refuse_constant, parse_float=_refuse_infinite)
    except json.JSONDecodeError as error:
        return InputError(f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")
    except _NotAJsonNumber as error:
        where = _line_column(text, error.literal)
        return InputError(f"{path}: {error.literal} at {where} is not a number JSON allows")
    return InputError(f"{path}: JSON with an unexpected shape (tables must be arrays of objects)")


class _NotAJsonNumber(ValueError):
    """``NaN``, ``Infinity`` or a number too large for a float: Python's ``json`` reads them, JSON (and
    polars) does not."""

    def __init__(self, literal: str):
        super().__init__(literal)
        self.literal = literal


def _refuse_constant(literal: str) -> float:
    raise _NotAJsonNumber(literal)


def _refuse_infinite(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise _NotAJsonNumber(literal)
    return value


def _line_column(text: str, literal: str) -> str:
    """``line L column C`` of the first ``literal`` outside a string (a value after ``:``, ``[`` or ``,``)."""
    found = re.search(r"[:\[,]\s*(" + re.escape(literal) + r")(?![\w.])", text)
    if found is None:
        return "some value"
    offset = found.start(1)
    line = text.count("\n", 0, offset) + 1
    return f"line {line} column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


@dataclass(frozen=True)
class ParsedExport:
    """One export file parsed and checked, its tables not yet split into rows.

    ``frame`` has one row and a column per table (in :data:`TABLE_NAMES` order): the list of its row
    objects. ``rows`` is each table's row type (a struct), None for an empty table. Files whose
    ``rows`` are equal can be stacked and split in one query (:func:`split_tables`): the loader reads
    many files that way; :func:`read_export` splits one.
    """

    path: Path
    frame: pl.DataFrame
    rows: dict[str, pl.Struct | None]
    retrieved: str | None
    source: str | None
    sha256: str
    warnings: tuple[str, ...] = ()


def parse_export(path: Path) -> ParsedExport:
    """Read and parse one export file (``.json`` or ``.json.gz``), with the checks of the module docstring."""
    raw, digest = read_bytes(path)
    return parse_bytes(path, raw, digest)


@contextlib.contextmanager
def _bounded_json(path: Path) -> Iterator[None]:
    """Hostile JSON that Python's decoder gives up on, as one line naming the file: nesting past the
    interpreter's recursion limit, an integer longer than its digit limit (``Exceeds the limit``)."""
    try:
        yield
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read") from None
    except ValueError as error:
        if "integer string conversion" not in str(error):
            raise
        digits = sys.get_int_max_str_digits()
        raise InputError(f"{path}: a number with more than {digits:,} digits (not a count)") from None


def parse_bytes(path: Path, raw: bytes, digest: Callable[[], str]) -> ParsedExport:
    with _bounded_json(path):
        return _parse_export_checked(path, raw, digest)


def _parse_export_checked(path: Path, raw: bytes, digest: Callable[[], str]) -> ParsedExport:
    check_text(path, raw)
    frame = _parse(raw)
    warnings: list[str] = []
    if counters_to_clean(raw, frame):
        # An object as a counter fails the whole parse; other odd counters hide in polars' types.
        cleaned, warnings = clean_counters(path, raw)
        if cleaned is not raw:
            raw = cleaned
            frame = _parse(raw)
    if frame is None:
        raise _explain_json_error(path, raw)
    del raw  # the largest export's bytes need not outlive its parse
    schema = frame.schema
    missing = [name for name in TABLE_NAMES if name not in schema]
    if len(missing) == len(TABLE_NAMES):
        raise NotAnExport(f"{path}: a JSON object without any of the tables {', '.join(TABLE_NAMES)}")
    foreign = [key for key in schema if key not in EXPORT_KEYS]
    if missing and foreign and not any(_has_rows(schema[name]) for name in TABLE_NAMES if name in schema):
        raise NotAnExport(  # summary --json's own output: "notes" (sentences, or none) beside "overall"
            f"{path}: a JSON object with keys no export has ({', '.join(foreign[:3])}) and no table rows"
        )
    if missing:
        raise InputError(f"{path}: missing table{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    rows: dict[str, pl.Struct | None] = {}
    for name in TABLE_NAMES:
        dtype = schema[name]
        if not isinstance(dtype, pl.List):
            raise InputError(f"{path}: table {name!r} is not an array")
        if not holds_rows(dtype):
            raise InputError(f"{path}: table {name!r} holds {dtype.inner} values, not objects")
        rows[name] = row_type(dtype)
    return ParsedExport(
        path=path,
        frame=frame[list(TABLE_NAMES)],
        rows=rows,
        retrieved=_scalar(frame, schema, "retrieved"),
        source=_scalar(frame, schema, "source"),
        sha256=digest(),
        warnings=tuple(warnings),
    )


#: The top-level keys of an export: its tables, and when and from where it was retrieved.
EXPORT_KEYS = frozenset((*TABLE_NAMES, "retrieved", "source"))


def _has_rows(dtype: pl.DataType) -> bool:
    """A non-empty array of objects: a table with rows, what tells an export from a look-alike."""
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)


def holds_rows(dtype: pl.List) -> bool:
    """Whether an array's elements are objects (rows), or it is empty."""
    return isinstance(dtype.inner, pl.Struct | pl.Null)


def row_type(dtype: pl.List) -> pl.Struct | None:
    """A table's row type (a struct), None for an empty table (:func:`_holds_rows` is true)."""
    inner = dtype.inner
    return inner if isinstance(inner, pl.Struct) else None


def split_tables(
    frame: pl.DataFrame, rows: dict[str, pl.Struct | None], keep: tuple[str, ...] = ()
) -> dict[str, pl.DataFrame]:
    """Each table's rows as a frame of its columns, from one or more stacked parsed files.

    ``frame`` holds one parsed file per row (:attr:`ParsedExport.frame`, possibly several stacked,
    all with these ``rows``); the columns named in ``keep`` (the loader's file index) are repeated
    on every row of their file. An empty table is a frame without columns, as one file alone gives.
    """
    tables: dict[str, pl.DataFrame] = {}
    for name in TABLE_NAMES:
        if rows[name] is None:
            tables[name] = pl.DataFrame()
            continue
        tables[name] = frame.select(*keep, pl.col(name)).explode(name).unnest(name)
    return tables


def read_export(path: Path) -> RawExport:
    """Parse one export file (``.json`` or ``.json.gz``) into its five raw tables."""
    parsed = parse_export(path)
    return RawExport(
        path=path,
        tables=split_tables(parsed.frame, parsed.rows),
        retrieved=parsed.retrieved,
        source=parsed.source,
        sha256=parsed.sha256,
        warnings=parsed.warnings,
    )


def _scalar(frame: pl.DataFrame, schema: pl.Schema, column: str) -> str | None:
    """A top-level text field (``retrieved``, ``source``); None when absent or not text."""
    if not isinstance(schema.get(column), pl.String):
        return None
    value = frame[column][0]
    return value if isinstance(value, str) else None


__all__ = [
    "MAX_EXPORT_BYTES",
    "MAX_EXPORT_BYTES_ENV",
    "TABLE_NAMES",
    "NotAnExport",
    "ParsedExport",
    "RawExport",
    "export_bytes",
    "gunzip",
    "is_gzip",
    "max_export_bytes",
    "parse_export",
    "read_export",
    "read_stored",
    "split_tables",
    "too_large",
]
