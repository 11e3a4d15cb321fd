"""Mailing-list messages → the Thinklab table layout (format C): threads, comments, profiles. Pure.

Definitions (docs/sources.md, "Mailing lists"):

- a **message** is a comment; the same Message-ID seen twice (two monthly files, two mbox files) is
  one message (the first one read is kept);
- a **thread** is a tree of messages joined by ``In-Reply-To``/``References``: a message's parent is
  the first of those ids (In-Reply-To, then References from the last) that is in the archive. A
  message with no parent in the archive that looks like a reply (it names a parent, or its subject
  starts with ``Re:``/``AW:``/``SV:``) joins the latest earlier thread whose normalised subject
  (``Re:``/``Fwd:``/``AW:``… and ``[list]`` prefixes, case and spacing removed) is the same; otherwise
  it starts a thread. The thread's first message (its root) opens it: subject, author and date;
- a **person** is a sender address compared without case: profile ``username`` = the lowercased
  address, ``first_name`` = the display name of their latest message that has one;
- **ids** come from hashes, below 2**53 and stable across fetches: a comment's is its Message-ID's, a
  thread's is its root message's, a profile's is the address's.

A snapshot's comment rows keep what rebuilding needs (``message_id``, ``parents``,
``subject``, ``archive``, ``date_source``): an incremental fetch reads the
months it did not download back from the previous snapshot (:func:`messages_from_rows`) and threads
everything again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from impactreport.fetch.mapping import Row, assemble, iso_utc, text_html, thread_row
from impactreport.fetch.mbox import MailMessage

SOURCE = "mail"
_ID_BITS = (1 << 53) - 1
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|sv|wg|antw|tr|vs)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]|\[[^\]]*\])\s*", re.I
)
_REPLY = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:re|aw|sv|antw|vs)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]", re.I)


def stable_id(kind: str, key: str) -> int:
    """A positive id below 2**53 (exact in JSON readers that use doubles) from ``kind`` and ``key``."""
    digest = hashlib.blake2b(f"{kind}\x00{key}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") & _ID_BITS) or 1


def normal_subject(subject: str) -> str:
    """A subject without reply/forward and ``[list]`` prefixes, spacing and case (threads by subject)."""
    previous = None
    while previous != subject:
        previous, subject = subject, _PREFIX.sub("", subject, count=1)
    return " ".join(subject.split()).casefold()


def looks_like_reply(message: MailMessage) -> bool:
    return bool(message.parents) or bool(_REPLY.match(message.subject))


def unique(messages: Iterable[MailMessage]) -> list[MailMessage]:
    """One message per Message-ID (the first read), in date order (then by id: a stable order)."""
    seen: dict[str, MailMessage] = {}
    for message in messages:
        seen.setdefault(message.message_id, message)
    return sorted(seen.values(), key=lambda m: (m.date, m.message_id))


def thread_roots(messages: Sequence[MailMessage]) -> dict[str, str]:
    """Message-ID → its thread's root Message-ID (see the module docstring); ``messages`` unique and
    in date order."""
    present = {message.message_id for message in messages}
    parent: dict[str, str] = {}
    for message in messages:
        found = next((p for p in message.parents if p in present and p != message.message_id), None)
        if found is not None:
            parent[message.message_id] = found
    root: dict[str, str] = {}
    by_subject: dict[str, str] = {}  # normalised subject → the root of the latest thread with it
    for message in messages:  # in date order: a subject joins only a thread started before it
        if message.message_id in parent:
            continue
        key = normal_subject(message.subject)
        joined = by_subject.get(key) if key and looks_like_reply(message) else None
        if joined is None:
            root[message.message_id] = message.message_id
            if key:
                by_subject[key] = message.message_id
        else:
            root[message.message_id] = joined

    def find(message_id: str) -> str:
        chain = []
        current = message_id
        while current not in root:
            chain.append(current)
            current = parent[current]
            if current in chain:  # a loop of references: its first message starts the thread
                current = chain[0]
                root[current] = current
                break
        for item in chain:
            root[item] = root[current]
        return root[current]

    for message in messages:
        find(message.message_id)
    return root


def _names(messages: Sequence[MailMessage]) -> dict[str, str]:
    """Address → the display name of its latest message that has one."""
    names: dict[str, str] = {}
    for message in messages:  # date order: later names win
        if message.name:
            names[message.address] = message.name
        else:
            names.setdefault(message.address, "")
    return names


def rows(messages: Iterable[MailMessage], url: str = "") -> dict[str, list[Row]]:
    """Messages (any order, duplicates allowed) → threads, comments and profiles rows.

    ``url`` is the archive's address, put on every row (a message has no page of its own here).
    """
    ordered = unique(messages)
    roots = thread_roots(ordered)
    by_id = {message.message_id: message for message in ordered}
    names = _names(ordered)
    profile_ids = {address: stable_id("address", address) for address in names}
    comment_ids = {message.message_id: stable_id("message", message.message_id) for message in ordered}
    threads: list[Row] = []
    comments: list[Row] = []
    for message in ordered:
        root = roots[message.message_id]
        thread_id = comment_ids[root]
        published = iso(message.date)
        if root == message.message_id:
            threads.append(
                thread_row(
                    thread_id,
                    profile_ids[message.address],
                    message.subject,
                    published,
                    url,
                    kind="thread",
                    message_id=message.message_id,
                )
            )
        parent = next((p for p in message.parents if p in by_id and p != message.message_id), None)
        comments.append(
            {
                "comment_id": comment_ids[message.message_id],
                "thread_id": thread_id,
                "profile_id": profile_ids[message.address],
                "body_md": message.text,
                "body_html": text_html(message.text),
                "published": published,
                "url": url,
                "kind": "message",
                "message_id": message.message_id,
                "parents": list(message.parents),
                "reply_to": None if parent is None else comment_ids[parent],
                "subject": message.subject,
                "archive": message.archive,
                "date_source": message.date_source,
            }
        )
    profiles = [
        {
            "profile_id": profile_ids[address],
            "username": address,
            "first_name": name,
            "last_name": "",
            "url": "",
            "is_bot": False,
        }
        for address, name in names.items()
    ]
    return {"threads": threads, "comments": comments, "notes": [], "profiles": profiles}


def iso(moment: datetime) -> str:
    value = iso_utc(moment.isoformat())
    assert value is not None
    return value


def snapshot(messages: Iterable[MailMessage], url: str = "", **extra: Any) -> dict[str, Any]:
    """The whole snapshot payload of a list: its rows, ``source: mail`` and ``extra`` (what was fetched)."""
    return assemble([rows(messages, url)], SOURCE, **extra)


def _ids(value: Any) -> list[str]:
    return value.split() if isinstance(value, str) else [str(item) for item in value or ()]


def messages_by_archive(payload: Mapping[str, Any] | None) -> dict[str, list[MailMessage]]:
    """A stored snapshot's messages grouped by the file or month they came from (``archive``)."""
    grouped: dict[str, list[MailMessage]] = {}
    for message in messages_from_rows(payload or {}):
        grouped.setdefault(message.archive, []).append(message)
    return grouped


def messages_from_rows(payload: Mapping[str, Any]) -> list[MailMessage]:
    """The messages a stored snapshot holds, as the mapping wrote them: what an incremental fetch keeps
    of the months it does not download again, and what a later import adds to."""
    profiles = {row["profile_id"]: row for row in payload.get("profiles", [])}
    found = []
    for row in payload.get("comments", []):
        profile = profiles.get(row["profile_id"], {})
        found.append(
            MailMessage(
                message_id=row["message_id"],
                parents=tuple(_ids(row.get("parents"))),
                subject=row.get("subject") or "",
                address=profile.get("username") or "unknown",
                name=profile.get("first_name") or "",
                date=datetime.fromisoformat(row["published"].replace("Z", "+00:00")),
                date_source=row.get("date_source") or "header",
                text=row.get("body_md") or "",
                archive=row.get("archive", ""),
            )
        )
    return found
