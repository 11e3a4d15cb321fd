"""mbox bytes → :class:`MailMessage` s (sender, date, ids, the sender's own text), with stdlib ``email``.

Why its own module: a local mbox file, a Pipermail monthly ``.txt.gz`` and a HyperKitty export are all
mbox text; this is the one reading of it. Messages are split where a line starts with ``From `` (the
rule of :class:`mailbox.mbox`), each parsed with :data:`email.policy.default` (RFC 2047 headers,
MIME parts, transfer encodings and charsets decoded by the stdlib).

Dates: the ``Date`` header; when it is missing or unparsable, the date of the mbox ``From `` line
(``From alice@example.org Mon Jan  1 10:00:00 2024``, read as UTC); when that is unreadable too, the
start of the archive's month (``fallback``); failing all three the message is skipped and counted.
Which one was used is kept as ``date_source`` (``header`` / ``from_line`` / ``archive``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from itertools import pairwise
from typing import cast

from impactreport.fetch.mail_text import html_text, own_text

_FROM_LINE = re.compile(rb"^From ", re.MULTILINE)
_IDS = re.compile(r"<([^<>\s]+)>")
#: Pipermail's address obfuscation: ``alice at example.org``.
_AT = re.compile(r"(\S+) at (\S+)")
_AT_BYTES = re.compile(rb"([^\s<>()\"]+) at ([^\s<>()\"]+)")
_OBFUSCATED_HEADERS = re.compile(
    rb"^(?:From|Message-ID|In-Reply-To|References):.*(?:\n[ \t].*)*", re.I | re.M
)
_PARSER = BytesParser(policy=policy.default)


class NotAnMbox(ValueError):
    """Bytes that are no mbox (no ``From `` line where the first message should begin)."""


@dataclass(frozen=True)
class MailMessage:
    """One message as the mapping needs it (all text already decoded)."""

    message_id: str
    #: Message-IDs this one answers, most direct first (In-Reply-To, then References from the end).
    parents: tuple[str, ...]
    subject: str
    address: str  # the sender's address, lowercased (the person)
    name: str  # the sender's display name ("" when none)
    date: datetime
    date_source: str
    text: str  # the sender's own words (quotes, attribution, signature removed)
    archive: str = ""  # the file or month it came from


def split_mbox(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(From line, message bytes)`` for each message; :class:`NotAnMbox` when the data (after blank
    lines) does not start with a ``From `` line. An empty file holds no message."""
    start = len(data) - len(data.lstrip(b"\r\n"))
    if start == len(data):
        return
    if not data.startswith(b"From ", start):
        raise NotAnMbox("not an mbox file: it does not start with a 'From ' line")
    starts = [match.start() for match in _FROM_LINE.finditer(data, start)]
    starts.append(len(data))
    for begin, end in pairwise(starts):
        newline = data.find(b"\n", begin, end)
        if newline < 0:
            yield data[begin:end].rstrip(b"\r\n"), b""
            continue
        yield data[begin:newline].rstrip(b"\r"), data[newline + 1 : end]


def deobfuscate(raw: bytes) -> bytes:
    """Pipermail's ``alice at example.org`` → ``alice@example.org`` in the headers that hold
    addresses or Message-IDs (the body is left as written)."""
    end = raw.find(b"\n\n")
    head, rest = (raw, b"") if end < 0 else (raw[:end], raw[end:])
    head = _OBFUSCATED_HEADERS.sub(lambda match: _AT_BYTES.sub(rb"\1@\2", match.group(0)), head)
    return head + rest


def message_ids(value: str | None) -> list[str]:
    """The ``<…>`` ids in a Message-ID, In-Reply-To or References value (``at`` obfuscation undone)."""
    if not value:
        return []
    return [_AT.sub(r"\1@\2", found) for found in _IDS.findall(value.replace(" at ", "@"))]


def from_line_date(line: bytes) -> datetime | None:
    """The date of an mbox ``From sender Mon Jan  1 10:00:00 2024`` line (UTC), None when unreadable."""
    words = line.decode("latin-1").split()
    for size in (5, 6):  # asctime, or asctime with a zone word after the time
        if len(words) < size + 1:
            continue
        fields = words[-size:] if size == 5 else words[-6:-1]
        try:
            return datetime.strptime(" ".join(fields), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _header(message: EmailMessage, name: str) -> str:
    """A header's decoded text ("" when absent or unparsable)."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except (
        ValueError,
        TypeError,
        IndexError,
        LookupError,
        AttributeError,
    ):  # a header the policy cannot parse
        raw = next((value for key, value in message.raw_items() if key.lower() == name), "")
        try:
            return str(make_header(decode_header(raw)))
        except (ValueError, LookupError, UnicodeError):
            return str(raw)


def _date(message: EmailMessage, line: bytes, fallback: datetime | None) -> tuple[datetime, str] | None:
    raw = message.get_all("date")
    if raw:
        try:
            moment = parsedate_to_datetime(str(raw[0]))
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC), "header"
    moment = from_line_date(line)
    if moment is not None:
        return moment, "from_line"
    if fallback is not None:
        return fallback, "archive"
    return None


def _part_text(part: EmailMessage) -> str:
    """A text part's content, decoded; an unknown charset read as UTF-8 with replacements."""
    try:
        content = part.get_content()
        return content if isinstance(content, str) else ""
    except (LookupError, UnicodeError, ValueError, KeyError, AssertionError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def body_text(message: EmailMessage) -> str:
    """The text/plain part (the HTML part's text when there is none), decoded."""
    try:
        plain = message.get_body(preferencelist=("plain",))
        if plain is not None:
            return _part_text(cast(EmailMessage, plain))
        markup = message.get_body(preferencelist=("html",))
    except (KeyError, ValueError, LookupError):
        return ""
    return html_text(_part_text(cast(EmailMessage, markup))) if markup is not None else ""


def _sender(message: EmailMessage, line: bytes) -> tuple[str, str]:
    """(lowercased address, display name) from ``From`` (RFC 2047 decoded), else the ``From `` line."""
    raw = next((str(value) for key, value in message.raw_items() if key.lower() == "from"), "")
    name, address = parseaddr(raw)  # on the raw value: keeps the "addr (Name)" form's name
    if "@" not in address:
        name, address = parseaddr(_header(message, "from"))
    name = _decoded(name)
    if "@" not in address:
        words = line.decode("latin-1").split()
        if len(words) > 1 and "@" in words[1]:
            address = words[1]
    return address.strip().lower() or "unknown", " ".join(name.split())


def _decoded(text: str) -> str:
    """RFC 2047 encoded words decoded (text that is not one is returned as it is)."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


def synthetic_id(raw: bytes) -> str:
    """A Message-ID for a message that has none: its bytes' hash (the same message, the same id)."""
    return f"sha256-{hashlib.sha256(raw).hexdigest()[:32]}@impactreport.invalid"


def parse_message(
    line: bytes, raw: bytes, *, archive: str = "", fallback: datetime | None = None
) -> MailMessage | None:
    """One message from its ``From `` line and bytes; None when it has no date at all (see the module
    docstring)."""
    message = _PARSER.parsebytes(raw)
    dated = _date(message, line, fallback)
    if dated is None:
        return None
    ids = message_ids(_header(message, "message-id"))
    parents: list[str] = []
    for found in [
        *message_ids(_header(message, "in-reply-to"))[::-1],
        *message_ids(_header(message, "references"))[::-1],
    ]:
        if found not in parents:
            parents.append(found)
    address, name = _sender(message, line)
    return MailMessage(
        message_id=ids[0] if ids else synthetic_id(raw),
        parents=tuple(parents),
        subject=" ".join(_header(message, "subject").split()),
        address=address,
        name=name,
        date=dated[0],
        date_source=dated[1],
        text=own_text(body_text(message)),
        archive=archive,
    )


@dataclass
class Parsed:
    """What one mbox gave: its messages and how many had no date at all (skipped)."""

    messages: list[MailMessage]
    undated: int = 0


def parse_mbox(
    data: bytes, *, archive: str = "", fallback: datetime | None = None, obfuscated: bool = False
) -> Parsed:
    """Every message of an mbox; ``obfuscated`` (Pipermail) turns ``user at host`` into ``user@host``
    in the address and id headers first. Raises :class:`NotAnMbox`."""
    parsed = Parsed([])
    for line, raw in split_mbox(data):
        if obfuscated:
            line = _AT_BYTES.sub(rb"\1@\2", line, count=1)
            raw = deobfuscate(raw)
        message = parse_message(line, raw, archive=archive, fallback=fallback)
        if message is None:
            parsed.undated += 1
        else:
            parsed.messages.append(message)
    return parsed
