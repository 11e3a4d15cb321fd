"""Fetch a Mailman 2 (Pipermail) list archive: its index page, then one mbox a month, into a snapshot.

The index (``URL/``) links each month's text archive, ``2024-January.txt.gz`` (or ``.txt``). Each is
an mbox in which Pipermail wrote addresses as ``alice at example.org``; they are read back as
``alice@example.org`` (:func:`impactreport.fetch.mbox.deobfuscate`).

Incremental: the snapshot keeps each month's ``ETag``, ``Last-Modified``, size and sha256. The next
fetch asks for every month with ``If-None-Match``/``If-Modified-Since``: a ``304`` (or a body whose
sha256 is the stored one) keeps that month's messages from the previous snapshot without parsing it
again; only new or changed months are downloaded and read. With ``--since DATE`` the months from
DATE's month on are downloaded unconditionally; ``--since full`` downloads everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlparse

from impactreport.errors import FetchError
from impactreport.fetch import mail_archive, mail_mapping
from impactreport.fetch.discourse import project_name
from impactreport.fetch.mail_archive import MonthlyArchive
from impactreport.fetch.mbox import MailMessage
from impactreport.fetch.store import parse_retrieved
from impactreport.fetch.sync import SAFETY_MARGIN, Since, Snapshot

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_LINK = re.compile(r"""href\s*=\s*["']?([^"'\s>]*?(\d{4})-([A-Za-z]+)\.txt(\.gz)?)["'\s>]""", re.I)


def month_links(index_html: str, base: str) -> dict[str, str]:
    """``2024-January`` → the absolute URL of its text archive (``.txt.gz`` preferred over ``.txt``),
    for every month the index page links, oldest first."""
    found: dict[str, str] = {}
    for href, year, name, gz in _LINK.findall(index_html):
        month = name.capitalize()
        if month not in MONTHS:
            continue
        key = f"{year}-{month}"
        if key not in found or gz:
            found[key] = urljoin(base + "/", href)
    return dict(sorted(found.items(), key=lambda item: month_start(item[0])))


def month_start(key: str) -> datetime:
    """``2024-January`` → 2024-01-01 00:00 UTC."""
    year, name = key.split("-", 1)
    return datetime(int(year), MONTHS.index(name) + 1, 1, tzinfo=UTC)


def forced_from(since: Since) -> datetime | None:
    """With ``--since DATE``: the start of DATE's month, from which months are downloaded whatever their
    ETag says. None with ``--since auto`` (its moment is the previous snapshot's ``retrieved`` minus the
    margin: every month is asked for conditionally) and for a full fetch."""
    if since.moment is None or since.previous is None:
        return None
    if since.moment == parse_retrieved(str(since.previous["retrieved"])) - SAFETY_MARGIN:
        return None
    return since.moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def list_name(url: str) -> str:
    """The list's name: the last part of the archive's path (``…/pipermail/python-dev`` → ``python-dev``)."""
    parts = [part for part in urlparse(url).path.split("/") if part]
    return parts[-1] if parts else "list"


@dataclass
class PipermailFetch(MonthlyArchive):
    """One run against one Pipermail archive, as a :class:`~impactreport.fetch.sync.Source`."""

    source = "mail"

    @property
    def options(self) -> dict[str, Any]:
        return {"archive": "pipermail"}

    def projects(self) -> list[str]:
        return [project_name(self.url, list_name(self.url))]

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        self.reporter.stage("index", None)
        index = self.get(self.url + "/")
        links = month_links(index.text, self.url)
        if not links:
            raise FetchError(f"{self.url}/: no monthly archives (YYYY-Month.txt.gz) linked on the index page")
        known = mail_archive.previous_months(since.previous)
        forced = forced_from(since)
        months: dict[str, dict[str, Any]] = {}
        stored = mail_mapping.messages_by_archive(since.previous)
        messages: list[MailMessage] = []  # month by month: a duplicate keeps the month a full fetch gives
        self.counts = {"months": len(links), "downloaded": 0, "not_modified": 0, "unchanged": 0}
        self.reporter.stage("months", len(links))
        for month, link in links.items():
            start = month_start(month)
            old = known.get(month) if (forced is None or start < forced) else None
            if old is not None and old.get("url") != link:
                old = None
            info, fresh = self.month(month, link, start, old)
            months[month] = info
            messages.extend(stored.get(month, []) if fresh is None else fresh)
            self.reporter.advance(1)
        payload = mail_archive.payload(messages, self.url, "pipermail", months, self.options)
        yield Snapshot(
            payload=payload,
            details={"threads_fetched": len(payload["threads"]), "fetched": dict(self.counts)},
        )

    def month(
        self, month: str, link: str, start: datetime, old: dict[str, Any] | None
    ) -> tuple[dict[str, Any], list[MailMessage] | None]:
        """One month: its info for the snapshot, and its messages (None: keep the previous snapshot's)."""
        headers = {}
        if old is not None:
            if old.get("etag"):
                headers["If-None-Match"] = old["etag"]
            if old.get("last_modified"):
                headers["If-Modified-Since"] = old["last_modified"]
        response, data = self.get_mbox(link, headers=headers)
        if response.status_code == 304 and old is not None:
            self.counts["not_modified"] += 1
            return old, None
        info = {
            "url": link,
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
            "size": len(response.content),
            "sha256": mail_archive.digest(response.content),
        }
        self.counts["downloaded"] += 1
        if old is not None and old.get("sha256") == info["sha256"]:
            self.counts["unchanged"] += 1
            return {**info, "messages": old.get("messages", 0)}, None
        fresh = mail_archive.parse_month(link, data, month, start, obfuscated=True)
        return {**info, "messages": len(fresh)}, fresh
