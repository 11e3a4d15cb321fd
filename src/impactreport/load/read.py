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
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from impactreport.errors import InputError

TABLE_NAMES = ("documents", "threads", "comments", "notes", "profiles")


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


def read_bytes(path: Path) -> tuple[bytes, Future[str]]:
    """The decompressed bytes of an export file, and the sha256 of the bytes as stored.

    The digest is computed in a thread (hashlib releases the GIL) while the caller decompresses and
    parses: hashing a large export would otherwise add to the time before its texts can be measured.
    """
    try:
        stored = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from None
    digest = _HASHER.submit(lambda: hashlib.sha256(stored).hexdigest())
    if path.name.endswith(".gz") or stored[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(stored), digest
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise InputError(f"{path}: truncated or corrupt gzip ({error})") from None
    return stored, digest


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


def read_export(path: Path) -> RawExport:
    """Parse one export file (``.json`` or ``.json.gz``) into its five raw tables."""
    raw, digest = read_bytes(path)
    _check_text(path, raw)
    try:
        # The export is one JSON object, i.e. one row: inference over that row already sees every
        # element of every table (and is faster than asking for an unbounded scan).
        frame = pl.read_json(raw)
    except Exception:  # polars raises several error types for malformed input
        raise _explain_json_error(path, raw) from None
    del raw  # the largest export's bytes need not outlive its parse
    missing = [name for name in TABLE_NAMES if name not in frame.columns]
    if len(missing) == len(TABLE_NAMES):
        raise NotAnExport(f"{path}: a JSON object without any of the tables {', '.join(TABLE_NAMES)}")
    if missing:
        raise InputError(f"{path}: missing table{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    tables: dict[str, pl.DataFrame] = {}
    for name in TABLE_NAMES:
        dtype = frame.schema[name]
        if not isinstance(dtype, pl.List):
            raise InputError(f"{path}: table {name!r} is not an array")
        inner = dtype.inner
        if isinstance(inner, pl.Null):
            tables[name] = pl.DataFrame()
            continue
        if not isinstance(inner, pl.Struct):
            raise InputError(f"{path}: table {name!r} holds {inner} values, not objects")
        tables[name] = frame.select(pl.col(name).explode()).unnest(name)
    retrieved = _scalar(frame, "retrieved")
    source = _scalar(frame, "source")
    return RawExport(path=path, tables=tables, retrieved=retrieved, source=source, sha256=digest.result())


def _scalar(frame: pl.DataFrame, column: str) -> str | None:
    if column not in frame.columns:
        return None
    value = frame[column][0]
    return value if isinstance(value, str) else None
