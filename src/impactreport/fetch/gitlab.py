"""Fetch a GitLab project's issues and merge requests with all their notes into one snapshot.

REST v4 (paths relative to ``BASE/api/v4``):

- ``GET /projects/<GROUP%2FNAME>`` (the path URL-encoded as one segment): the project's ``id`` and
  ``web_url``; every later request names the numeric id;
- ``GET /projects/:id/issues?scope=all&order_by=updated_at&sort=asc`` and
  ``GET /projects/:id/merge_requests?scope=all&state=all&order_by=updated_at&sort=asc``, 100 a page,
  with ``updated_after`` in an incremental fetch. Oldest-updated first: an item updated while the pages
  are read moves behind the reader, so it is read twice (the later copy wins) but never skipped;
- ``GET /projects/:id/issues/:iid/notes`` and ``…/merge_requests/:iid/notes``
  (``sort=asc&order_by=created_at``): one listing per issue or merge request (GitLab has no
  project-wide notes listing), skipped when the item's ``user_notes_count`` is 0 (system notes, which
  are not kept, do not count there).

Pages follow ``X-Next-Page`` (empty on the last page) on the URL just read, else the ``Link`` header's
``rel="next"``. A re-fetched item is read whole and replaces its old rows
(:meth:`impactreport.fetch.sync.Since.complete`), so an edited or deleted note shows.

Every request goes through the shared :class:`~impactreport.fetch.http.HttpClient`, allowed only the
origin of the base URL, with :class:`~impactreport.fetch.ratelimits.GitLabLimits` as its ``classify``
hook and its :meth:`~impactreport.fetch.ratelimits.GitLabLimits.pause` before each attempt. The
token travels only in the ``PRIVATE-TOKEN`` header.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests

from impactreport import __version__
from impactreport.errors import FetchError
from impactreport.fetch import discourse, gitlab_mapping
from impactreport.fetch.http import HttpClient, HttpFailure, RetryableResponse, RetryPolicy, WaitEvent, origin
from impactreport.fetch.mapping import Row
from impactreport.fetch.ratelimits import GITLAB_POLICY, GitLabLimits, Reporter
from impactreport.fetch.sync import Since, Snapshot
from impactreport.timefmt import iso_z as utc_iso

PUBLIC_URL = "https://gitlab.com"
PER_PAGE = 100
#: The fields the fetcher itself reads from a listed item (checked on arrival, so a malformed answer
#: is reported against the URL that sent it).
ITEM_FIELDS = ("id", "iid", "created_at", "web_url", "author")
NOTE_FIELDS = ("id", "created_at", "author")
USER_FIELDS = ("id", "username")
#: Between the project path and the host of a project not on gitlab.com (``@`` is in no GitLab path).
HOST_SEPARATOR = "@"


def project_name(path: str, base_url: str = PUBLIC_URL) -> str:
    """The store's project folder: ``group__name`` (``a/b/c`` → ``a__b__c``), on another instance than
    gitlab.com followed by ``@HOST`` (``@HOST_PORT`` with a port; an IPv6 host as Discourse's)."""
    folder = "__".join(path.strip("/").split("/"))
    if origin(base_url) == origin(PUBLIC_URL):
        return folder
    return f"{folder}{HOST_SEPARATOR}{discourse.project_name(base_url, None)}"


def iso_z(moment: datetime) -> str:
    """GitLab's ``updated_after`` spelling: ISO 8601 UTC, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return utc_iso(moment, "seconds")


def next_url(response: requests.Response) -> str | None:
    """The next page of an offset-paginated listing: ``X-Next-Page`` (a number; empty on the last
    page) applied to the URL just read, else the ``Link`` header's ``rel="next"``, else none."""
    following = response.headers.get("x-next-page")
    if following is not None:
        number = following.strip()
        if not number.isdigit():
            return None
        parts = urlsplit(response.url)
        query = [
            (key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "page"
        ]
        return urlunsplit(parts._replace(query=urlencode([*query, ("page", number)])))
    return response.links.get("next", {}).get("url")


def check_fields(items: Sequence[Any], fields: Sequence[str], url: str, what: str) -> None:
    """Every listed item is an object with ``fields`` (and an author with id and username), or a
    :class:`FetchError` naming the URL, the item and the field."""
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise FetchError(f"{url}: {what} {index} is not an object ({type(item).__name__})")
        for name in fields:
            if item.get(name) is None:
                raise FetchError(f"{url}: {what} {index} has no field {name!r}")
        author = item.get("author")
        if author is not None and (
            not isinstance(author, Mapping) or any(author.get(name) is None for name in USER_FIELDS)
        ):
            raise FetchError(f"{url}: {what} {index} has an author without 'id' or 'username'")


@dataclass
class GitLabFetch:
    """One run against one GitLab project, as a :class:`~impactreport.fetch.sync.Source`."""

    source = "gitlab"

    path: str
    token: str | None = None
    base_url: str = PUBLIC_URL
    policy: RetryPolicy = GITLAB_POLICY
    limits: GitLabLimits = field(default_factory=GitLabLimits)
    reporter: Reporter = field(default_factory=Reporter)
    session: requests.Session | None = None
    project: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.api_url = f"{self.base_url}/api/v4"
        session = self.session or requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": f"impactreport/{__version__}"})
        if self.token:
            session.headers["PRIVATE-TOKEN"] = self.token
        self.http = HttpClient(
            session=session,
            policy=self.policy,
            classify=self.limits.classify,
            on_wait=self.reporter.wait,
            on_attempt=self._before_attempt,
        )
        self.http.allow(self.base_url)  # the token goes nowhere else, redirects included

    def _before_attempt(self, number: int) -> None:
        """Count the attempt; first sit out a quota the previous answer spent (``RateLimit-Remaining: 0``)."""
        wait = self.limits.pause()
        if wait is not None:
            seconds = min(wait.seconds, self.policy.max_wait)
            self.reporter.wait(WaitEvent(number, seconds, wait.reason, self.http.last_url or self.api_url))
            self.http.sleep(seconds)
        self.reporter.attempt(number)

    # -- REST ------------------------------------------------------------------------------------

    def _get(self, url: str, params: dict[str, Any] | None = None) -> tuple[Any, requests.Response]:
        """(parsed JSON, response) of one GET; 401, 403 and 404 become one line naming the cause."""
        try:
            result = self.http.request("GET", url, params=params, validate=_json_body)
            return result.value, result.response
        except HttpFailure as error:
            if error.status == 404:
                raise FetchError(f"{self.path}: not found at {self.base_url} (or no access)") from None
            if error.status in (401, 403):
                raise FetchError(
                    f"{self.base_url}: access refused (HTTP {error.status}; check GITLAB_TOKEN)"
                ) from None
            raise

    def pages(
        self, url: str, params: dict[str, Any], fields: Sequence[str], what: str
    ) -> Iterator[list[Any]]:
        """Every page of a listing, each checked for ``fields`` (see :func:`check_fields`)."""
        body, response = self._get(url, {**params, "per_page": PER_PAGE})
        while True:
            if not isinstance(body, list):
                raise FetchError(
                    f"{response.url}: expected a JSON list of {what}s, got {type(body).__name__}"
                )
            check_fields(body, fields, response.url, what)
            yield body
            following = next_url(response)
            if not following:
                return
            body, response = self._get(following)

    def project_info(self) -> dict[str, Any]:
        """The project (``GET /projects/<url-encoded path>``): its numeric id and web URL."""
        url = f"{self.api_url}/projects/{quote(self.path, safe='')}"
        body, response = self._get(url)
        if not isinstance(body, Mapping) or body.get("id") is None:
            raise FetchError(f"{response.url}: expected a project object with field 'id'")
        self.project = dict(body)
        return self.project

    def items(self, kind: str, since: datetime | None) -> list[dict[str, Any]]:
        """Every issue or merge request (``kind``), updated since ``since`` when given; one per id."""
        params: dict[str, Any] = {"scope": "all", "order_by": "updated_at", "sort": "asc"}
        if kind == "merge_request":
            params["state"] = "all"
        if since is not None:
            params["updated_after"] = iso_z(since)
        self.reporter.stage(f"{kind.replace('_', ' ')}s", None)
        found: dict[int, dict[str, Any]] = {}
        url = f"{self.api_url}/projects/{self.project['id']}/{kind}s"
        for page in self.pages(url, params, ITEM_FIELDS, kind.replace("_", " ")):
            for item in page:
                found.pop(item["id"], None)  # re-listed after an update: the later copy wins
                found[item["id"]] = item
            self.reporter.advance(len(page))
        return list(found.values())

    def notes(self, kind: str, items: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        """Each item's notes (all of them, system notes too: the mapping drops those), by iid."""
        grouped: dict[int, list[dict[str, Any]]] = {item["iid"]: [] for item in items}
        wanted = [item for item in items if item.get("user_notes_count") != 0]
        self.reporter.stage(f"{kind.replace('_', ' ')} notes", len(wanted))
        params = {"sort": "asc", "order_by": "created_at"}
        for item in wanted:
            url = f"{self.api_url}/projects/{self.project['id']}/{kind}s/{item['iid']}/notes"
            for page in self.pages(url, params, NOTE_FIELDS, "note"):
                grouped[item["iid"]].extend(page)
            self.reporter.advance(1)
        return grouped

    # -- the run ---------------------------------------------------------------------------------

    def projects(self) -> list[str]:
        return [project_name(self.path, self.base_url)]

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        """The whole snapshot: the items updated since ``since``, merged into the previous one."""
        parts = self.threads(since.moment)
        payload = since.complete(parts, self.source, **self.payload_extra())
        yield Snapshot(payload=payload, details={"threads_fetched": len(parts), "fetched": dict(self.counts)})

    def threads(self, since: datetime | None = None) -> list[dict[str, list[Row]]]:
        """Rows of every issue and merge request updated since ``since`` (all when None)."""
        self.project_info()
        parts: list[dict[str, list[Row]]] = []
        counts = {"issues": 0, "merge_requests": 0, "notes": 0, "system_notes": 0}
        for kind in ("issue", "merge_request"):
            items = self.items(kind, since)
            notes = self.notes(kind, items)
            parts += [gitlab_mapping.gitlab_item(item, notes[item["iid"]], kind) for item in items]
            every = [note for listed in notes.values() for note in listed]
            counts[f"{kind}s"] = len(items)
            counts["notes"] += sum(1 for note in every if not note.get("system"))
            counts["system_notes"] += sum(1 for note in every if note.get("system"))
        self.counts = counts
        return parts

    def payload_extra(self) -> dict[str, Any]:
        """The snapshot's top-level keys besides the tables: what was fetched, without run details."""
        return {
            "project": {
                "path": self.project.get("path_with_namespace") or self.path,
                "id": self.project.get("id"),
                "url": self.project.get("web_url") or f"{self.base_url}/{self.path}",
                "instance": self.base_url,
            },
            "options": self.options,
        }

    @property
    def options(self) -> dict[str, Any]:
        """What was asked for (compared by ``--since auto``): the instance, so that a snapshot is only
        merged into one of the same server."""
        return {"instance": origin(self.base_url)}


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RetryableResponse("not JSON", response) from None
