"""Thinklab export client: log in the way Thinklab's Django did, list projects, download exports.

Protocol: ``GET {base}/login`` sets a ``csrftoken`` cookie; ``POST {base}/login`` with ``email``,
``password``, ``csrfmiddlewaretoken`` and a ``Referer`` logs in (session cookie); ``POST
{base}/p/<id>/export.json`` with ``csrfmiddlewaretoken`` and the same ``Referer`` returns the JSON export.
Listing pages ``{base}/projects`` and ``{base}/proposals`` link each project as ``a.list-proj-name``.

Every request goes through :class:`impactreport.fetch.http.HttpClient` (retries, backoff, Retry-After).
Here we only add what is Thinklab's: an export must be JSON holding the five tables (the server often
answered a 200 HTML error page), and a redirect to the login page means the session was lost: log in
again, then retry. The password lives only in this object and in the POST body; it is never logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
from selectolax.lexbor import LexborHTMLParser

from impactreport.errors import FetchError
from impactreport.fetch.http import FatalResponse, HttpClient, HttpFailure, RetryableResponse
from impactreport.fetch.ratelimits import Reporter
from impactreport.fetch.sync import Since, Snapshot

__all__ = ["TABLES", "ExportResult", "ThinklabClient", "ThinklabSource", "check_export", "project_links"]

#: The five tables every Thinklab export holds.
TABLES = ("documents", "threads", "comments", "notes", "profiles")
#: New logins allowed per project after redirects to the login page.
MAX_RELOGINS = 3
PROJECT_HREF = re.compile(r"^/p/([A-Za-z0-9][A-Za-z0-9._-]*)(?:/|$)")
SOURCE = "thinklab"


@dataclass(frozen=True)
class ExportResult:
    """One downloaded export and what it took."""

    project: str
    payload: dict[str, Any]
    attempts: int
    elapsed: float
    bytes: int


def check_export(response: requests.Response) -> dict[str, Any]:
    """The export as a dict, or RetryableResponse when the body is not a complete export."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.status_code != 200:
        raise RetryableResponse(f"unexpected HTTP {response.status_code}", response)
    if "json" not in content_type:
        raise RetryableResponse(f"not JSON ({content_type or 'no content type'})", response)
    try:
        payload = json.loads(response.content)
    except ValueError:
        raise RetryableResponse("invalid JSON (truncated?)", response) from None
    if not isinstance(payload, dict):
        raise RetryableResponse("export is not a JSON object", response)
    missing = [table for table in TABLES if not isinstance(payload.get(table), list)]
    if missing:
        raise RetryableResponse(f"export lacks tables: {', '.join(missing)}", response)
    return payload


def project_links(html: str) -> list[str]:
    """Project ids linked as ``a.list-proj-name`` with an href ``/p/<id>/...`` (absolute or relative)."""
    found: list[str] = []
    for node in LexborHTMLParser(html).css("a.list-proj-name"):
        href = node.attributes.get("href") or ""
        match = PROJECT_HREF.match(urlparse(href).path)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def _is_login_redirect(response: requests.Response, login_url: str) -> bool:
    if not response.is_redirect:
        return False
    target = urljoin(response.url, response.headers.get("location", ""))
    return urlparse(target).path.rstrip("/") == urlparse(login_url).path.rstrip("/")


@dataclass
class ThinklabClient:
    """A logged-in conversation with one Thinklab server."""

    base_url: str
    email: str = field(repr=False)
    password: str = field(repr=False)
    http: HttpClient = field(default_factory=HttpClient)
    on_relogin: Callable[[], None] | None = None
    logins: int = 0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.http.allow(self.base_url)  # the password and the session cookie go nowhere else

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/login"

    def _token(self) -> str:
        token = self.http.session.cookies.get("csrftoken")
        if not token:
            raise RetryableResponse("no csrftoken cookie")
        return token

    def login(self) -> None:
        """Get a CSRF cookie, then post the credentials; a refused login is fatal (no retry)."""

        def has_token(response: requests.Response) -> None:
            if response.status_code != 200 or not self.http.session.cookies.get("csrftoken"):
                raise RetryableResponse("login page without csrftoken cookie", response)

        def logged_in(response: requests.Response) -> None:
            if not response.is_redirect:
                if response.status_code == 200:
                    raise FatalResponse("login refused (check the email and password)", response)
                raise RetryableResponse(f"unexpected HTTP {response.status_code}", response)
            if _is_login_redirect(response, self.login_url):
                raise RetryableResponse("login redirected back to the login page", response)

        self.http.request("GET", self.login_url, validate=has_token, allow_redirects=False)
        self.http.request(
            "POST",
            self.login_url,
            validate=logged_in,
            build=lambda: {
                "data": {
                    "email": self.email,
                    "password": self.password,
                    "csrfmiddlewaretoken": self._token(),
                }
            },
            headers={"Referer": self.login_url},
            allow_redirects=False,
        )
        self.logins += 1

    def list_projects(self) -> list[str]:
        """Every project linked from the projects and proposals listings, in page order."""

        def html(response: requests.Response) -> str:
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or "html" not in content_type:
                raise RetryableResponse(f"listing is not an HTML page ({content_type})", response)
            return response.text

        found: list[str] = []
        for page in ("projects", "proposals"):
            result = self.http.request("GET", f"{self.base_url}/{page}", validate=html)
            found.extend(p for p in project_links(result.value) if p not in found)
        return found

    def export(self, project: str) -> ExportResult:
        """Download one project's export; log in again when the server sent us to the login page.

        Each redirect to the login page leads to one new login and an immediate retry, at most
        ``MAX_RELOGINS`` times per project: more means the account cannot see the project (or logging in
        does not stick), which fails instead of looping.
        """
        url = f"{self.base_url}/p/{project}/export.json"
        relogins = 0

        def validate(response: requests.Response) -> dict[str, Any]:
            nonlocal relogins
            if _is_login_redirect(response, self.login_url):
                if relogins >= MAX_RELOGINS:
                    raise FatalResponse(f"still sent to the login page ({relogins} new logins)", response)
                if self.on_relogin is not None:
                    self.on_relogin()
                self.http.session.cookies.clear()
                self.login()
                relogins += 1
                raise RetryableResponse("logged out (logged in again)", response, wait=0.0)
            return check_export(response)

        result = self.http.request(
            "POST",
            url,
            validate=validate,
            build=lambda: {"data": {"csrfmiddlewaretoken": self._token()}},
            headers={"Referer": f"{self.base_url}/p/{project}/"},
            allow_redirects=False,
        )
        return ExportResult(
            project, result.value, result.attempts, result.elapsed, len(result.response.content)
        )


@dataclass
class ThinklabSource:
    """Thinklab as a :class:`~impactreport.fetch.sync.Source`: the chosen (or every listed) project's export.

    Every export is whole, so ``--since`` does not apply (``options`` is None). Logging in and listing
    happen in :meth:`projects`, which :func:`~impactreport.fetch.sync.sync` calls under the store lock.
    """

    client: ThinklabClient
    selected: Sequence[str] = ()  # empty: every project on the listing pages
    reporter: Reporter = field(default_factory=Reporter)
    source: str = SOURCE

    def __post_init__(self) -> None:
        self.client.http.on_wait = self.reporter.wait
        self.client.http.on_attempt = self.reporter.attempt

    @property
    def options(self) -> None:
        return None

    def projects(self) -> list[str]:
        """Log in, then the selected projects or every listed one; one line when that fails."""
        base = self.client.base_url
        try:
            self.client.login()
            found = list(self.selected) if self.selected else self.client.list_projects()
        except HttpFailure as failure:
            raise FetchError(f"{base}: {failure}") from None
        if not found:
            raise FetchError(f"{base}: the listing pages link no project (a.list-proj-name)")
        return found

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        """The project's export (an :class:`HttpFailure` after every retry fails this project only)."""
        self.reporter.stage(project, 1)
        export = self.client.export(project)
        self.reporter.advance(1)
        yield Snapshot(payload=export.payload, details={"attempts": export.attempts})
