"""mbox bytes → :class:`MailMessage` s (sender, date, ids, the sender's own text), with stdlib ``email``.

Why its own module: a local mbox file, a Pipermail monthly ``.txt.gz`` and a HyperKitty export are all
mbox text; this is the one reading of it. A message starts at the first line and at every line that
has the shape of an mbox ``From `` line (``From sender`` and an asctime date, RFC 4155): a body line
that starts with ``From `` but was not escaped (``>From ``) by the writer, as older mboxo writers
leave them, stays in its message, where :class:`mailbox.mbox` would split it off.

Reading one message: headers are unfolded and RFC 2047 decoded (:mod:`email.header`), the sender read
with :func:`email.utils.parseaddr` (its two usual forms by a regular expression first); a one-part
text body is decoded from its transfer encoding (:mod:`binascii`) and charset directly, a multipart
one through :class:`email.parser.BytesParser` (the first text/plain part that is not an attachment,
else the first text/html part's text). Why not :data:`email.policy.default` throughout: its header
objects cost 1.6 ms a message, 160 s for a 100,000-message archive; this reading gives the same
texts in a tenth of the time (benchmarks/bench_mbox.py).

Dates: the ``Date`` header; when it is missing or unparsable, the date of the mbox ``From `` line
(``From alice@example.org Mon Jan  1 10:00:00 2024``, read as UTC); when that is unreadable too, the
start of the archive's month (``fallback``); failing all three the message is skipped and counted.
Which one was used is kept as ``date_source`` (``header`` / ``from_line`` / ``archive``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime
from itertools import pairwise

from impactreport.fetch.mail_text import html_text, own_text

#: A message's ``From `` line (RFC 4155): ``From sender`` then an asctime date, ``hh:mm[:ss]`` and a year.
_FROM_LINE = re.compile(rb"^From \S[^\n]*?\b\d{1,2}:\d\d(?::\d\d)?\b[^\n]*?\b\d{4}\b", re.MULTILINE)
_IDS = re.compile(r"<([^<>\s]+)>")
#: Pipermail's address obfuscation: ``alice at example.org``.
_AT_BYTES = re.compile(rb"([^\s<>()\"]+) at ([^\s<>()\"]+)")
_OBFUSCATED_HEADERS = re.compile(
    rb"^(?:From|Message-ID|In-Reply-To|References):.*(?:\n[ \t].*)*", re.I | re.M
)
_PARSER = BytesParser(policy=compat32)


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
    starts = [start, *(match.start() for match in _FROM_LINE.finditer(data, start + 1))]
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
    return _OBFUSCATED_HEADERS.sub(_deobfuscated, head) + rest


def _deobfuscated(match: re.Match[bytes]) -> bytes:
    """One header: every ``x at y``; in ``From:`` only the address (in ``<…>``, or before a ``(Name)``
    comment), so a name such as "Bob at Work" is left as written."""
    header = match.group(0)
    if header[:5].lower() != b"from:":
        return _AT_BYTES.sub(rb"\1@\2", header)
    if b"<" in header:  # Name <alice at example.org>
        name, angle, address = header.partition(b"<")
        return name + angle + _AT_BYTES.sub(rb"\1@\2", address, count=1)
    address, paren, comment = header.partition(b"(")  # alice at example.org (Name)
    return _AT_BYTES.sub(rb"\1@\2", address, count=1) + paren + comment


def message_ids(value: str | None) -> list[str]:
    """The ``<…>`` ids in a Message-ID, In-Reply-To or References value (``at`` obfuscation undone)."""
    if not value:
        return []
    return _IDS.findall(value.replace(" at ", "@") if " at " in value else value)


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


Headers = dict[str, str]
_UNFOLD = re.compile(r"\r?\n[ \t]+")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
#: ``Name <addr>`` / ``"Name" <addr>`` / ``<addr>`` and ``addr`` / ``addr (Name)``: read by a regular
#: expression (as :func:`email.utils.parseaddr` reads them); any other form goes to ``parseaddr``.
_NAME_ADDR = re.compile(
    r'^\s*(?:"(?P<q>[^"\\]*)"|(?P<name>[^"<>()@,;:\\]*?))?\s*<(?P<addr>[^<>\s@]+@[^<>\s@]+)>\s*$'
)
_ADDR_NAME = re.compile(r"^\s*(?P<addr>[^\s<>()\"@,;:]+@[^\s<>()\"@,;:]+)\s*(?:\((?P<name>[^()\\]*)\))?\s*$")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


def split_head(raw: bytes) -> tuple[Headers, bytes]:
    """A message's headers (name lowercased → raw value, unfolded; the first of a repeated header) and
    its body bytes. Header bytes are UTF-8 when they decode as such, else Latin-1 (8-bit headers)."""
    end = _HEAD_END.search(raw)
    head, body = (raw, b"") if end is None else (raw[: end.start()], raw[end.end() :])
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    headers: Headers = {}
    if "\n " in text or "\n\t" in text:
        text = _UNFOLD.sub(" ", text)
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon and name and " " not in name.strip():
            headers.setdefault(name.strip().lower(), value.strip())
    return headers, body


def _header(headers: Headers, name: str) -> str:
    """A header's text with RFC 2047 encoded words decoded ("" when absent)."""
    return _decoded(headers.get(name, ""))


def _date(headers: Headers, line: bytes, fallback: datetime | None) -> tuple[datetime, str] | None:
    raw = headers.get("date")
    if raw:
        try:
            moment = parsedate_to_datetime(str(raw))
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


def _part_text(part: Message) -> str:
    """A text part's content: transfer encoding undone, then its charset (an unknown or wrong one:
    UTF-8, then Latin-1, never failing)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return _text_of(payload, part.get_content_charset() or "us-ascii")


def _first_part(message: Message, subtype: str) -> Message | None:
    """The first ``text/<subtype>`` part that is not an attachment (depth first, as mail readers show)."""
    for part in message.walk():
        if part.is_multipart() or part.get_content_type() != f"text/{subtype}":
            continue
        disposition = str(part.get("content-disposition", "")).split(";")[0].strip().lower()
        if disposition != "attachment":
            return part
    return None


def simple(headers: Headers) -> bool:
    """A message whose body is one text part (no MIME structure to walk): decoded without the parser."""
    kind = headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    encoding = headers.get("content-transfer-encoding", "7bit").strip().lower()
    return kind in ("text/plain", "text/html", "") and encoding in _DECODERS


def _decode_qp(data: bytes) -> bytes:
    return binascii.a2b_qp(data)


def _decode_base64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:  # bad padding: what the stdlib parser would still read
        return base64.b64decode(data + b"===", validate=False)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "7bit": bytes,
    "8bit": bytes,
    "binary": bytes,
    "quoted-printable": _decode_qp,
    "base64": _decode_base64,
}


def _text_of(payload: bytes, charset: str) -> str:
    """Bytes in ``charset`` as text (an unknown or wrong charset: UTF-8, then Latin-1, never failing)."""
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeError):
        try:
            return payload.decode("utf-8")
        except UnicodeError:
            return payload.decode("latin-1")


def single_part_text(headers: Headers, body: bytes) -> str:
    """The text of a one-part message (:func:`simple`): its transfer encoding and charset undone, the
    same as the stdlib parser gives, without building the message tree (the speed of ``fetch mbox``
    on large archives is this function's)."""
    content_type = headers.get("content-type", "text/plain")
    encoding = headers.get("content-transfer-encoding", "7bit").strip().lower()
    found = _CHARSET.search(content_type)
    text = _text_of(_DECODERS[encoding](body), found.group(1) if found else "us-ascii")
    return html_text(text) if content_type.split(";")[0].strip().lower() == "text/html" else text


def body_text(message: Message) -> str:
    """The text/plain part (the HTML part's text when there is none), decoded."""
    plain = _first_part(message, "plain")
    if plain is not None:
        return _part_text(plain)
    markup = _first_part(message, "html")
    return html_text(_part_text(markup)) if markup is not None else ""


def _sender(headers: Headers, line: bytes) -> tuple[str, str]:
    """(lowercased address, display name) from ``From`` (RFC 2047 decoded), else the ``From `` line."""
    raw = headers.get("from", "")
    simple_form = _NAME_ADDR.match(raw) or _ADDR_NAME.match(raw)  # the usual forms, without the parser
    if simple_form:
        found = simple_form.groupdict()
        name, address = found.get("q") or found.get("name") or "", found["addr"]
    else:
        name, address = parseaddr(raw)  # the raw value: keeps "addr (Name)"'s name
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
    headers, body = split_head(raw)
    dated = _date(headers, line, fallback)
    if dated is None:
        return None
    ids = message_ids(headers.get("message-id"))
    parents: list[str] = []
    for found in [
        *message_ids(headers.get("in-reply-to"))[::-1],
        *message_ids(headers.get("references"))[::-1],
    ]:
        if found not in parents:
            parents.append(found)
    address, name = _sender(headers, line)
    text = single_part_text(headers, body) if simple(headers) else body_text(_PARSER.parsebytes(raw))
    return MailMessage(
        message_id=ids[0] if ids else synthetic_id(raw),
        parents=tuple(parents),
        subject=" ".join(_header(headers, "subject").split()),
        address=address,
        name=name,
        date=dated[0],
        date_source=dated[1],
        text=own_text(text),
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
