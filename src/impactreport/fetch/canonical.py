"""A snapshot's canonical bytes: sorted, indented JSON with its ``retrieved`` line; gzip without a time.

Why canonical: equal content must give equal bytes, and equal content must be seen as equal without
parsing (the archive import compares 1.4 GB of JSON). Keys are sorted, so the top-level ``retrieved``
line sits at the same place whatever its value; the content hash is the hash of the text without that
line (:func:`text_hash`), and gzip is written with mtime 0 and no file name (:func:`compress`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

from impactreport.timefmt import iso_z as utc_iso

#: Start of the top-level ``retrieved`` line of a pretty-printed export (deeper keys are indented more,
#: and a newline inside a string is escaped, so this occurs once at most).
RETRIEVED_KEY = b'\n  "retrieved": "'
#: gzip level: 1 compresses the largest export 3x faster than 6 for ~20% more bytes, which keeps the
#: import of the 421-day archive (1.4 GB of distinct JSON) within a minute.
COMPRESSLEVEL = 1


def format_retrieved(moment: datetime) -> str:
    """``2017-09-09T23:29:39.378903Z``: the form Thinklab's retrieving script wrote."""
    return utc_iso(moment, "microseconds")


def parse_retrieved(text: str) -> datetime:
    """An ISO 8601 time (``Z`` or offset; naive means UTC) as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def row_counts(payload: dict[str, Any]) -> dict[str, int]:
    """Rows per table: every top-level list."""
    return {key: len(value) for key, value in sorted(payload.items()) if isinstance(value, list)}


def serialise(payload: dict[str, Any], retrieved: str) -> tuple[bytes, str]:
    """The snapshot's JSON bytes and its content hash (the same bytes without the ``retrieved`` line).

    Keys are sorted, so the ``retrieved`` line sits at the same place whatever its value: removing it
    gives equal text exactly when the rest of the content is equal.
    """
    document = dict(payload)
    document["retrieved"] = retrieved
    data = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False).encode("utf-8")
    return data, text_hash(data)


def retrieved_span(data: bytes) -> tuple[int, int, str] | None:
    """Where the top-level ``retrieved`` line is in a pretty-printed export: (start, end, value).

    ``end`` includes the comma after the value, if any. Found with ``rfind`` (fast: the key sorts
    near the end), not by parsing.
    """
    start = data.rfind(RETRIEVED_KEY)
    if start < 0:
        return None
    value_start = start + len(RETRIEVED_KEY)
    value_end = data.find(b'"', value_start)
    newline = data.find(b"\n", value_start)
    if value_end < 0 or (0 <= newline < value_end):
        return None
    end = value_end + 1
    if data[end : end + 1] == b",":
        end += 1
    return start, end, data[value_start:value_end].decode("utf-8", "replace")


def text_hash(data: bytes) -> str:
    """sha256 of a pretty-printed export without its top-level ``retrieved`` line."""
    span = retrieved_span(data)
    if span is None:
        return hashlib.sha256(data).hexdigest()
    view = memoryview(data)
    digest = hashlib.sha256(view[: span[0]])
    digest.update(view[span[1] :])
    return digest.hexdigest()


def content_hash(payload: dict[str, Any]) -> str:
    """The content hash of an export, ``retrieved`` ignored (equal to :func:`serialise`'s)."""
    return serialise(payload, "")[1]


def retrieved_in_text(data: bytes) -> str | None:
    """The top-level ``retrieved`` value of a pretty-printed export, read without parsing it."""
    span = retrieved_span(data)
    return span[2] if span else None


def replace_retrieved(data: bytes, value: str) -> bytes:
    """``data`` with its top-level ``retrieved`` value replaced (the text must have one)."""
    span = retrieved_span(data)
    if span is None:
        raise ValueError("no top-level retrieved line")
    comma = b"," if data[span[1] - 1 : span[1]] == b"," else b""
    line = b'\n  "retrieved": ' + json.dumps(value).encode() + comma
    return data[: span[0]] + line + data[span[1] :]


_LINE_BREAK = re.compile(rb"\n *")
_INDENT = re.compile(rb"\n( *)")


def is_canonical(data: bytes, payload: dict[str, Any]) -> bool:
    """Whether ``data`` (which parses to ``payload``) is already what :func:`serialise` would write.

    Why: re-serialising with ``indent`` runs Python's pure-Python encoder (slow for the largest
    Thinklab export), while the archive's files were written by ``json.dump(indent=2, sort_keys=True,
    ensure_ascii=False)`` already. A newline cannot occur inside a JSON string, so the text without its
    line breaks and indentation must equal the C encoder's output with separators ``,`` and ``: ``;
    the indentation steps must be two spaces. Anything the check cannot vouch for takes the slow path.
    """
    if not data.startswith(b'{\n  "') or data.endswith(b"\n") or b"\t" in data:
        return False
    compact = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ": "))
    if _LINE_BREAK.sub(b"", data) != compact.encode("utf-8"):
        return False
    widths = sorted({len(m) for m in _INDENT.findall(data)})
    return widths == list(range(0, 2 * len(widths), 2))


def compress(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name: the same content always gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=COMPRESSLEVEL
    ) as stream:
        stream.write(data)
    return buffer.getvalue()
