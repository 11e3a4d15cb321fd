"""Fetch a Mailman 3 (HyperKitty) list archive, one month's mbox export at a time, into a snapshot.

A list's address is ``https://HOST/hyperkitty/list/NAME@DOMAIN/``. Its first month is the list's
``created_at`` from the REST API (``GET <hyperkitty>/api/list/NAME@DOMAIN/``; ``--start YYYY-MM``
replaces it, for an archive imported from before the list was created in Mailman 3). Each month comes
from HyperKitty's mbox export view (``list/<name>/export/<file>.mbox.gz``), whose ``start`` is
inclusive and ``end`` exclusive (it filters ``date >= start`` and ``date < end``)::

    GET <list>/export/NAME-2024-01.mbox.gz?start=2024-01-01&end=2024-02-01

Incremental: HyperKitty generates the export on each request (no ETag), so a month that ended more
than ``SAFETY_MARGIN`` before the previous snapshot was taken is kept from it, and the months from
there to now are downloaded again (at least the newest one). ``--since full`` downloads every month.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from impactreport.errors import FetchError, InputError
from impactreport.fetch import mail_archive, mail_mapping
from impactreport.fetch.discourse import project_name
from impactreport.fetch.mail_archive import MonthlyArchive
from impactreport.fetch.mbox import MailMessage
from impactreport.fetch.store import parse_retrieved
from impactreport.fetch.sync import SAFETY_MARGIN, Since, Snapshot

_LIST = re.compile(r"^(?P<root>.*)/list/(?P<fqdn>[^/@]+@[^/@]+)$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def split_list_url(url: str) -> tuple[str, str]:
    """``https://h/hyperkitty/list/name@dom`` → (``https://h/hyperkitty``, ``name@dom``)."""
    match = _LIST.match(url.rstrip("/"))
    if not match:
        raise InputError(
            f"--url {url!r}: expected a HyperKitty list address, https://HOST/…/list/NAME@DOMAIN/"
        )
    return match.group("root"), match.group("fqdn")


def parse_month(text: str, option: str = "--start") -> datetime:
    """``2024-01`` → 2024-01-01 UTC."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InputError(f"{option} {text!r}: expected a month, YYYY-MM")
    return datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1, day=1)


def months_between(first: datetime, last: datetime) -> list[datetime]:
    """Month starts from ``first``'s month to ``last``'s month, both included."""
    current = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    found = []
    while current <= last:
        found.append(current)
        current = next_month(current)
    return found


@dataclass
class HyperKittyFetch(MonthlyArchive):
    """One run against one HyperKitty list, as a :class:`~impactreport.fetch.sync.Source`."""

    source = "mail"
    start: str | None = None
    now: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.root, self.fqdn = split_list_url(self.url)
        self.first = parse_month(self.start) if self.start else None

    @property
    def options(self) -> dict[str, Any]:
        return {"archive": "hyperkitty"}

    def projects(self) -> list[str]:
        return [project_name(self.url, self.fqdn.split("@")[0])]

    def created(self) -> datetime:
        """The list's ``created_at`` from the REST API."""
        answer = self.get(f"{self.root}/api/list/{self.fqdn}/", headers={"Accept": "application/json"})
        try:
            value = answer.json()["created_at"]
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            raise FetchError(
                f"{self.root}/api/list/{self.fqdn}/: no created_at in the answer (use --start YYYY-MM)"
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        now = self.now or datetime.now(UTC)
        self.reporter.stage("list", None)
        first = self.first or self.created()
        months = months_between(first, now)
        known = mail_archive.previous_months(since.previous)
        keep_before = None
        if since.previous is not None and since.moment is not None:
            retrieved = parse_retrieved(str(since.previous["retrieved"])) - SAFETY_MARGIN
            keep_before = min(since.moment, retrieved)
        self.counts = {"months": len(months), "downloaded": 0, "kept": 0}
        self.reporter.stage("months", len(months))
        infos: dict[str, dict[str, Any]] = {}
        stored = mail_mapping.messages_by_archive(since.previous)
        messages: list[MailMessage] = []  # month by month: a duplicate keeps the month a full fetch gives
        for index, start in enumerate(months):
            key = start.strftime("%Y-%m")
            end = next_month(start)
            newest = index == len(months) - 1
            if keep_before is not None and key in known and end <= keep_before and not newest:
                infos[key] = known[key]
                messages.extend(stored.get(key, []))
                self.counts["kept"] += 1
            else:
                infos[key], fresh = self.month(key, start, end)
                messages.extend(fresh)
            self.reporter.advance(1)
        payload = mail_archive.payload(messages, self.url, "hyperkitty", infos, self.options)
        yield Snapshot(
            payload=payload,
            details={"threads_fetched": len(payload["threads"]), "fetched": dict(self.counts)},
        )

    def export_url(self, key: str) -> str:
        return f"{self.url}/export/{self.fqdn.split('@')[0]}-{key}.mbox.gz"

    def month(self, key: str, start: datetime, end: datetime) -> tuple[dict[str, Any], list[MailMessage]]:
        url = self.export_url(key)
        params = {"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d")}
        response, data = self.get_mbox(url, params=params)
        fresh = mail_archive.parse_month(url, data, key, start, obfuscated=False)
        self.counts["downloaded"] += 1
        return {"sha256": mail_archive.digest(response.content), "messages": len(fresh)}, fresh
