"""Bytes of a file or body, never more than the export limit: the one capped reader of ``load`` and ``fetch``.

Why a module of its own, at the bottom: the loader (:mod:`impactreport.load.read`) and the fetchers (the
archive import, the mailing-list imports, the HTTP client's body limit, the store reading a snapshot back)
all read exports, and all must stop at the same limit with the same one-line error. An export is read and
decompressed only up to :func:`max_export_bytes` (2 GiB by default, ``IMPACTREPORT_MAX_EXPORT_BYTES`` to
change it): a 6 MB ``.json.gz`` that expands to 6 GiB is a one-line error naming the file, not a process
killed for lack of memory. :func:`export_bytes` is the one way every reader gets an export's bytes.
"""

from __future__ import annotations

import io
import os
import re
import zlib
from pathlib import Path

from impactreport.errors import InputError
from impactreport.files import NotRegular, OverLimit, read_capped

#: The most bytes one export may hold once decompressed, unless the environment variable says otherwise.
#: 2 GiB: three times the largest demo file of a million posts (667 MB), 700 times the largest real
#: export (rephetio, 2.9 MB), and still within what polars can parse in a few GB of memory.
MAX_EXPORT_BYTES = 2 * 1024**3
MAX_EXPORT_BYTES_ENV = "IMPACTREPORT_MAX_EXPORT_BYTES"
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
#: Output of one inflate step: a bomb's peak is the limit plus this.
_INFLATE_STEP = 64 << 20


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
        return read_capped(path, limit)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from None
    except NotRegular as refused:  # a FIFO would block, /dev/zero never end: only regular files are exports
        raise InputError(f"{path}: is {refused.kind}, not an export file") from None
    except OverLimit:
        raise too_large(path, limit, decompressed=False) from None


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
