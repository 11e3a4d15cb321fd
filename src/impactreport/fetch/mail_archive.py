"""What the web mailing-list archives share: the HTTP client, reading one month's mbox, the snapshot.

Why: Pipermail (Mailman 2) and HyperKitty (Mailman 3) both publish a list as one mbox per month and
differ only in how the months are listed and asked for. A fetch downloads the months that may have
changed and takes every other month's messages from the previous snapshot (each comment row names
its month in ``archive``), then threads them all again (:mod:`impactreport.fetch.mail_mapping`): a
reply in March to a January message joins its thread whichever months were downloaded.

The snapshot keeps, under ``archive.months``, what was known of each month (``sha256`` of the file
as downloaded, ``messages``, and for Pipermail ``etag``/``last_modified``/``size``), so the next
fetch can tell an unchanged month without downloading it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from impactreport import __version__
from impactreport.capped import gunzip, max_export_bytes
from impactreport.errors import FetchError, InputError
from impactreport.fetch import mail_mapping
from impactreport.fetch.http import HttpClient, HttpFailure, RetryableResponse, RetryPolicy
from impactreport.fetch.mbox import MailMessage, NotAnMbox, parse_mbox
from impactreport.fetch.ratelimits import Reporter

#: 8 attempts within 10 minutes per request (as for Discourse); a 429's Retry-After is honoured.
MAIL_POLICY = RetryPolicy(max_attempts=8, max_time=600.0, backoff=2.0, max_backoff=120.0, max_wait=600.0)


def previous_months(previous: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``archive.months`` of the previous snapshot ({} when there is none or it lacks them)."""
    if not previous:
        return {}
    months = (previous.get("archive") or {}).get("months") or {}
    return {str(key): dict(value) for key, value in months.items() if isinstance(value, dict)}


def _mbox_body(response: requests.Response) -> bytes:
    """A month's bytes; an HTML page where an mbox should be (a proxy's error page sent with 200) is
    retried like a 502."""
    body = response.content
    if response.status_code == 200 and body.lstrip()[:1] == b"<" and b"<html" in body[:2048].lower():
        raise RetryableResponse("an HTML page instead of the mbox", response)
    return body


@dataclass
class MonthlyArchive:
    """The HTTP side of a web archive run (one list), shared by Pipermail and HyperKitty."""

    url: str
    policy: RetryPolicy = MAIL_POLICY
    reporter: Reporter = field(default_factory=Reporter)
    session: requests.Session | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        session = self.session or requests.Session()
        session.headers.update({"User-Agent": f"impactreport/{__version__}"})
        self.http = HttpClient(
            session=session,
            policy=self.policy,
            on_wait=self.reporter.wait,
            on_attempt=self.reporter.attempt,
        )
        self.http.allow(self.url)  # links and redirects stay on the archive's origin

    def get(
        self, url: str, *, headers: dict[str, str] | None = None, params: Any = None
    ) -> requests.Response:
        """One GET with the shared retries; 404 and other refusals are one line naming the URL."""
        try:
            return self.http.request("GET", url, headers=headers or {}, params=params).response
        except HttpFailure as error:
            if error.status == 404:
                raise FetchError(f"{url}: not found (is this the list's archive address?)") from None
            if error.status in (401, 403):
                raise FetchError(f"{url}: access refused (a private archive?)") from None
            raise _named(url, error) from None

    def get_mbox(
        self, url: str, *, headers: dict[str, str] | None = None, params: Any = None
    ) -> tuple[requests.Response, bytes]:
        """A month's mbox: the response and its bytes (gunzipped when gzip, within the export limit)."""
        try:
            result = self.http.request("GET", url, headers=headers or {}, params=params, validate=_mbox_body)
        except HttpFailure as error:
            if error.status == 404:
                raise FetchError(f"{url}: not found") from None
            raise _named(url, error) from None
        body: bytes = result.value
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(url, body, max_export_bytes())
            except InputError as error:
                raise FetchError(str(error)) from None
        return result.response, body


def _named(url: str, error: HttpFailure) -> FetchError:
    """The client's one line with the URL in front (which month failed), keeping its attempt count."""
    named = FetchError(f"{url}: {error}")
    named.attempts = error.attempts  # type: ignore[attr-defined]  # the sync loop reports it
    return named


def parse_month(url: str, data: bytes, month: str, start: datetime, *, obfuscated: bool) -> list[MailMessage]:
    """A month's messages (``archive`` = ``month``; undated ones dated at the month's start)."""
    try:
        return parse_mbox(data, archive=month, fallback=start, obfuscated=obfuscated).messages
    except NotAnMbox as error:
        raise FetchError(f"{url}: {error}") from None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(
    messages: list[MailMessage],
    url: str,
    kind: str,
    months: dict[str, dict[str, Any]],
    options: dict[str, Any],
) -> dict[str, Any]:
    """The snapshot: the rows of every message, the list (``url``, ``kind``), each month's info, options."""
    return mail_mapping.snapshot(
        messages,
        url,
        list={"url": url, "kind": kind},
        archive={"months": dict(sorted(months.items()))},
        options=options,
    )
