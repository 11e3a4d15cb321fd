"""Read one export file into raw polars tables, with a one-line error for every kind of bad file.

Bad input handled here: a missing or unreadable file, truncated or corrupt gzip, non-UTF-8 bytes, an
HTML error page saved as ``.json`` (Thinklab's "bad gateway" page), invalid JSON, a JSON value that is
not an export object, missing tables, tables that are not arrays. Each becomes an
:class:`~impactreport.errors.InputError` whose message starts with the file name.

:class:`NotAnExport` (a kind of ``InputError``) marks a file that is evidently something else, not a
damaged export: an HTML page, text or JSON that is not an object, or a JSON object that holds none of
the five tables. The loader may skip such a file when it only met it while scanning a folder. Every
other failure (unreadable, corrupt gzip, not UTF-8, empty, an object cut short, some tables missing)
is damage to what should be an export, and stays an error wherever the file was found.

Parsing goes through polars' JSON reader (Rust, no Python object per row), which keeps a million-post
export within memory; Python's ``json`` is used only to explain a parse error precisely.

**Bounded size.** An export is read and decompressed only up to :func:`max_export_bytes` (2 GiB by
default, ``IMPACTREPORT_MAX_EXPORT_BYTES`` to change it): a 6 MB ``.json.gz`` that expands to 6 GiB
is a one-line error naming the file, not a process killed for lack of memory. The largest real
Thinklab export is 2.9 MB; the largest file of ``impactreport demo --posts 1000000`` is 667 MB.
:func:`export_bytes` is the one way every reader (the loader, the views loader, the archive import)
gets an export's bytes.

**Counters that are not whole numbers.** polars would silently turn a ``views`` of ``"12k"`` into
null, ``12.5`` into 12, ``true`` into 1 and ``{...}`` into a parse error of the whole file. When the
parse fails, or the parsed counters could hide such a value (:func:`counters_suspect`), a scan of
the bytes (one regular expression, ~3 GB/s) finds every counter value that is not a plain integer;
each is decoded, replaced by its integer (``"12"``, ``12.0``) or by ``null``, reported once per
table and field with a count and an example, and the file parsed again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from impactreport.errors import InputError
from impactreport.files import special_kind

TABLE_NAMES = ("documents", "threads", "comments", "notes", "profiles")
#: The most bytes one export may hold once decompressed, unless the environment variable says otherwise.
#: 2 GiB: three times the largest demo file of a million posts (667 MB), 700 times the largest real
#: export (rephetio, 2.9 MB), and still within what polars can parse in a few GB of memory.
MAX_EXPORT_BYTES = 2 * 1024**3
MAX_EXPORT_BYTES_ENV = "IMPACTREPORT_MAX_EXPORT_BYTES"
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_CHUNK = 1 << 20
#: Output of one inflate step: a bomb's peak is the limit plus this.
_INFLATE_STEP = 64 << 20

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


class NotAnExport(InputError):
    """The file is not an export of a project at all (see the module docstring for the rule)."""


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


def max_export_bytes() -> int:
    """The size limit for one export (decompressed): ``$IMPACTREPORT_MAX_EXPORT_BYTES`` or 2 GiB.

    The variable takes bytes, optionally with a binary unit (``4G``, ``4GiB``, ``500M``).
    """
    text = os.environ.get(MAX_EXPORT_BYTES_ENV, "").strip()
    if not text:
        return MAX_EXPORT_BYTES
    match = _SIZE.match(text)
    if not match or int(match.group(1)) == 0:
        raise InputError(f"{MAX_EXPORT_BYTES_ENV}={text!r}: not a size in bytes (e.g. 4294967296 or 4G)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def _size(limit: int) -> str:
    """``2 GiB (2,147,483,648 bytes)``; a limit that is not a whole number of KiB/MiB/GiB in bytes only."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if limit >= factor and limit % factor == 0:
            return f"{limit // factor:,} {unit} ({limit:,} bytes)"
    return f"{limit:,} bytes"


def too_large(path: object, limit: int, *, decompressed: bool) -> InputError:
    """The one-line error for an export over the limit: the file, the limit, how to raise it."""
    what = "once decompressed " if decompressed else ""
    return InputError(
        f"{path}: more than {_size(limit)} {what}(the limit for one export; "
        f"raise it with {MAX_EXPORT_BYTES_ENV}=BYTES)"
    )


def read_stored(path: Path, limit: int | None = None) -> bytes:
    """A file's bytes as stored, refusing one larger than the limit before reading it."""
    limit = max_export_bytes() if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from None
    with os.fdopen(fd, "rb") as stream:
        kind = special_kind(os.fstat(fd).st_mode)
        if kind is not None:  # a FIFO would block, /dev/zero never end: only regular files are exports
            raise InputError(f"{path}: is {kind}, not an export file")
        if os.fstat(fd).st_size > limit:
            raise too_large(path, limit, decompressed=False)
        try:
            stored = stream.read(limit + 1)
        except OSError as error:
            raise InputError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(stored) > limit:
        raise too_large(path, limit, decompressed=False)
    return stored


def gunzip(path: object, stored: bytes, limit: int | None = None) -> bytes:
    """Every gzip member of ``stored`` decompressed, never producing more than ``limit`` bytes.

    Inflated in steps of :data:`_INFLATE_STEP` into one growing buffer, stopping past ``limit``: a
    bomb costs the limit plus one step in memory (zlib's own output for a single large call is built
    in blocks and then joined, twice the limit), and the time to inflate that much. Members may follow
    each other (``cat a.gz b.gz``), with zero padding between them, as :func:`gzip.decompress` allows.
    """
    limit = max_export_bytes() if limit is None else limit
    out = io.BytesIO()  # grows in place; getvalue() hands over its buffer without a copy
    total = 0
    data: bytes = stored
    try:
        while True:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = data
            while True:
                part = inflater.decompress(pending, min(_INFLATE_STEP, limit - total + 1))
                total += len(part)
                if total > limit:
                    raise too_large(path, limit, decompressed=True)
                out.write(part)
                pending = inflater.unconsumed_tail
                if inflater.eof or not (pending or part):
                    break
            if not inflater.eof:
                raise InputError(
                    f"{path}: truncated or corrupt gzip (compressed file ended before the end-of-stream "
                    "marker was reached)"
                )
            data = inflater.unused_data.lstrip(b"\x00")
            if not data:
                break
            if data[:2] != b"\x1f\x8b":
                raise InputError(f"{path}: truncated or corrupt gzip (data after the last member)")
    except zlib.error as error:
        raise InputError(f"{path}: truncated or corrupt gzip ({error})") from None
    return out.getvalue()


def is_gzip(path: Path, stored: bytes) -> bool:
    """A ``.gz`` name or the gzip magic bytes (a ``.json`` that is gzip is still read)."""
    return path.name.endswith(".gz") or stored[:2] == b"\x1f\x8b"


def export_bytes(path: Path, limit: int | None = None) -> bytes:
    """The JSON bytes of an export file (``.json`` or ``.json.gz``), within the size limit."""
    limit = max_export_bytes() if limit is None else limit
    stored = read_stored(path, limit)
    return gunzip(path, stored, limit) if is_gzip(path, stored) else stored


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


def _check_text(path: Path, raw: bytes) -> None:
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
        json.loads(text)
    except json.JSONDecodeError as error:
        return InputError(f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}")
    return InputError(f"{path}: JSON with an unexpected shape (tables must be arrays of objects)")


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


#: From this many bytes, polars' view of the counters is looked at before the bytes are scanned.
_SCAN_AFTER_BYTES = 1 << 20


def _counters_to_clean(raw: bytes, frame: pl.DataFrame | None) -> bool:
    """Whether the export's counters need :func:`clean_counters`: the parse failed or may hide a counter
    that is not a whole number, and the bytes hold one.

    Both conditions are needed (when the scan finds nothing, cleaning changes nothing), so the cheaper
    is asked first: the scan for a small file (checking polars' columns costs a query or two), the
    columns for a large one (the scan reads every byte).
    """
    if len(raw) < _SCAN_AFTER_BYTES:
        return _ODD_COUNTER.search(raw) is not None and (frame is None or counters_suspect(frame))
    return (frame is None or counters_suspect(frame)) and _ODD_COUNTER.search(raw) is not None


def parse_export(path: Path) -> ParsedExport:
    """Read and parse one export file (``.json`` or ``.json.gz``), with the checks of the module docstring."""
    raw, digest = read_bytes(path)
    return _parse_export(path, raw, digest)


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


def _parse_export(path: Path, raw: bytes, digest: Callable[[], str]) -> ParsedExport:
    with _bounded_json(path):
        return _parse_export_checked(path, raw, digest)


def _parse_export_checked(path: Path, raw: bytes, digest: Callable[[], str]) -> ParsedExport:
    _check_text(path, raw)
    frame = _parse(raw)
    warnings: list[str] = []
    if _counters_to_clean(raw, frame):
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
    if missing:
        raise InputError(f"{path}: missing table{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    rows: dict[str, pl.Struct | None] = {}
    for name in TABLE_NAMES:
        dtype = schema[name]
        if not isinstance(dtype, pl.List):
            raise InputError(f"{path}: table {name!r} is not an array")
        if not _holds_rows(dtype):
            raise InputError(f"{path}: table {name!r} holds {dtype.inner} values, not objects")
        rows[name] = _row_type(dtype)
    return ParsedExport(
        path=path,
        frame=frame[list(TABLE_NAMES)],
        rows=rows,
        retrieved=_scalar(frame, schema, "retrieved"),
        source=_scalar(frame, schema, "source"),
        sha256=digest(),
        warnings=tuple(warnings),
    )


def _holds_rows(dtype: pl.List) -> bool:
    """Whether an array's elements are objects (rows), or it is empty."""
    return isinstance(dtype.inner, pl.Struct | pl.Null)


def _row_type(dtype: pl.List) -> pl.Struct | None:
    """A table's row type (a struct), None for an empty table (:func:`_holds_rows` is true)."""
    inner = dtype.inner
    return inner if isinstance(inner, pl.Struct) else None


# --- many small exports at once ---------------------------------------------------------------------

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
        _check_text(path, raw)
        small = _small(path, raw, digest)
        if small is not None:
            return small
    return _parse_export(path, raw, digest)


def _small(path: Path, raw: bytes, digest: Callable[[], str]) -> SmallExport | None:
    if _ODD_COUNTER.search(raw) is not None:
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
        if not isinstance(dtype, pl.List) or not _holds_rows(dtype):
            return None
        rows[name] = _row_type(dtype)
    return frame[list(TABLE_NAMES)], rows


def parse_alone(export: SmallExport) -> ParsedExport:
    """A small export parsed by itself (:func:`parse_export`, without reading the file again)."""
    return _parse_export(export.path, export.raw, export.digest)


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
