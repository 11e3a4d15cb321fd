"""Fetch a Discourse forum's (or one category's) topics and all their posts into one snapshot.

Topics come from ``/latest.json`` (or ``/c/<slug>/<id>.json`` for ``--category``; oldest-created
first in a full fetch) following ``topic_list.more_topics_url`` to the end; each topic from
``/t/<id>.json`` (its first posts and the full id list ``post_stream.stream``), then the remaining
ids in chunks of 20 through ``/t/<id>/posts.json?post_ids[]=…``. Profiles are built from the posts
(username, display name, user id): no request per user.

Markdown: both topic requests carry ``include_raw=1``, which makes Discourse add each post's ``raw``
(its markdown source) beside ``cooked`` (TopicsController passes ``include_raw`` to the topic view and
posts serializers): the markdown costs no extra request. A post that still arrives without ``raw`` (a
forum that ignores the parameter) is read alone from ``/posts/<id>.json``, which always has it.

Incremental (``since``): the listing is ordered by last activity (``bumped_at``), so reading stops at
the first unpinned topic not bumped since then; those topics are re-read whole and replace their old
rows. An edit or a deletion that does not bump its topic is only seen by a full fetch
(``--since full``); docs/sources.md says so.

``Api-Key``/``Api-Username`` travel only as headers. Requests are throttled to a polite rate
(Discourse allows an admin key 60 requests a minute) and a 429 is waited out
(:class:`~impactreport.fetch.ratelimits.DiscourseLimits`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlparse, urlunparse

import requests

from impactreport import __version__, layout
from impactreport.errors import FetchError, InputError
from impactreport.fetch import mapping
from impactreport.fetch.http import HttpClient, HttpFailure, RetryableResponse, RetryPolicy, origin
from impactreport.fetch.ratelimits import DISCOURSE_POLICY, DiscourseLimits, Reporter, Throttle
from impactreport.fetch.sync import Since, Snapshot

CHUNK = 20
#: Asks the topic views for each post's markdown source (``raw``) beside the HTML (``cooked``).
RAW = {"include_raw": "1"}
#: One request a second: under the 60-a-minute limit of an admin API key, with room for others.
POLITE_RATE = 1.0


def project_name(base_url: str, category: str | None) -> str:
    """The store's project folder: the forum's host (``_port`` when one is given), ``__category``.

    The host is lowercased (hosts ignore case; the store also finds a folder of another case). An IPv6
    host cannot be a folder name as it is (``:``): ``[::1]`` becomes ``ipv6_--1``, a zone ``%`` ``_``.
    """
    parsed = urlparse(base_url)
    host = (parsed.hostname or "forum").lower()
    if ":" in host:
        host = "ipv6_" + host.replace(":", "-").replace("%", "_")
    name = host + (f"_{parsed.port}" if parsed.port else "")
    return f"{name}{layout.FORUM_CATEGORY_SEPARATOR}{category}" if category else name


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def json_url(url: str) -> str:
    """``/latest?page=1`` (how Discourse writes ``more_topics_url``) → ``/latest.json?page=1``."""
    parsed = urlparse(url)
    path = parsed.path if parsed.path.endswith(".json") else parsed.path.rstrip("/") + ".json"
    return urlunparse(parsed._replace(path=path))


@dataclass
class DiscourseFetch:
    """One run against one forum (optionally one category), as a :class:`~impactreport.fetch.sync.Source`."""

    source = "discourse"

    base_url: str
    category: str | None = None
    api_key: str | None = None
    api_username: str | None = None
    rate: float = POLITE_RATE
    policy: RetryPolicy = DISCOURSE_POLICY
    limits: DiscourseLimits = field(default_factory=DiscourseLimits)
    reporter: Reporter = field(default_factory=Reporter)
    session: requests.Session | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        session = self.session or requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": f"impactreport/{__version__}"})
        if self.api_key:
            session.headers["Api-Key"] = self.api_key
            session.headers["Api-Username"] = self.api_username or "system"
        self.throttle = Throttle(self.rate)

        def on_attempt(number: int) -> None:
            self.throttle()
            self.reporter.attempt(number)

        self.http = HttpClient(
            session=session,
            policy=self.policy,
            classify=self.limits.classify,
            on_wait=self.reporter.wait,
            on_attempt=on_attempt,
        )
        self.http.allow(self.base_url)  # the API key goes nowhere else

    def get(self, url: str, params: Any = None) -> Any:
        target = (
            url if url.startswith(("http://", "https://")) else urljoin(self.base_url + "/", url.lstrip("/"))
        )
        if origin(target) != origin(self.base_url):
            raise FetchError(
                f"{self.base_url}: refusing to follow a link to another origin ({origin(target)})"
            )
        try:
            return self.http.request("GET", target, params=params, validate=_json_body).value
        except HttpFailure as error:
            if error.status == 404:
                raise FetchError(f"{target}: not found on the forum") from None
            if error.status in (401, 403):
                raise FetchError(
                    f"{target}: access refused (check DISCOURSE_API_KEY / DISCOURSE_API_USERNAME)"
                ) from None
            raise

    def listing_path(self) -> str:
        if not self.category:
            return "/latest.json"
        categories = self.get("/categories.json")["category_list"]["categories"]
        match = next((c for c in categories if c.get("slug") == self.category), None)
        if match is None:
            slugs = ", ".join(sorted(str(c.get("slug")) for c in categories))
            raise InputError(
                f"--category {self.category!r}: no such category on {self.base_url} (has: {slugs})"
            )
        return f"/c/{self.category}/{match['id']}.json"

    def topics(self, since: datetime | None) -> list[dict[str, Any]]:
        """Listed topics (bumped since ``since`` when given), following ``more_topics_url`` to the end."""
        self.reporter.stage("topics", None)
        found: dict[int, dict[str, Any]] = {}
        url: str | None = self.listing_path()
        # A full fetch lists oldest-created first: a topic bumped while the pages are read cannot
        # jump from an unread page to a read one. An incremental fetch needs last activity first.
        params = {"order": "created", "ascending": "true"} if since is None else None
        while url:
            listing = self.get(url, params=params)["topic_list"]
            params = None  # more_topics_url carries the filters on
            for topic in listing.get("topics", []):
                bumped = topic.get("bumped_at") or topic.get("last_posted_at") or topic.get("created_at")
                if since is not None and not topic.get("pinned") and parse_time(bumped) < since:
                    return list(found.values())
                found.setdefault(topic["id"], topic)
                self.reporter.advance(1)
            more = listing.get("more_topics_url")
            url = json_url(more) if more else None
        return list(found.values())

    def topic(self, topic_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A topic's fields and ALL its posts: the topic view, then the rest of the stream by chunks."""
        view = self.get(f"/t/{topic_id}.json", params=RAW)
        stream = view.get("post_stream", {})
        posts = {post["id"]: post for post in stream.get("posts", [])}
        missing = [post_id for post_id in stream.get("stream", []) if post_id not in posts]
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            page = self.get(f"/t/{topic_id}/posts.json", params={"post_ids[]": chunk, **RAW})
            for post in page.get("post_stream", {}).get("posts", []):
                posts[post["id"]] = post
        absent = [post_id for post_id in stream.get("stream", []) if post_id not in posts]
        if absent:
            raise FetchError(
                f"{self.base_url}/t/{topic_id}: {len(absent)} posts of the stream were not returned"
            )
        for post in posts.values():
            if not isinstance(post.get("raw"), str):
                post["raw"] = self.raw(post["id"])
        return view, list(posts.values())

    def raw(self, post_id: int) -> str:
        """One post's markdown from ``/posts/<id>.json``: only for a post the topic view sent without it."""
        self.counts["raw_fallbacks"] = self.counts.get("raw_fallbacks", 0) + 1
        value = self.get(f"/posts/{post_id}.json").get("raw")
        if not isinstance(value, str):
            raise FetchError(f"{self.base_url}/posts/{post_id}.json: no markdown source (raw) in the answer")
        return value

    def projects(self) -> list[str]:
        return [project_name(self.base_url, self.category)]

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        """The whole snapshot: the topics bumped since ``since``, merged into the previous one."""
        parts = self.threads(since.moment)
        payload = since.complete(parts, self.source, **self.payload_extra())
        yield Snapshot(payload=payload, details={"threads_fetched": len(parts), "fetched": dict(self.counts)})

    def threads(self, since: datetime | None = None) -> list[dict[str, list[mapping.Row]]]:
        """Rows of every listed topic (bumped since ``since`` when given), each with all its posts."""
        self.counts = {}
        listed = self.topics(since)
        self.reporter.stage("topic posts", len(listed))
        parts = []
        posts = 0
        for item in listed:
            view, topic_posts = self.topic(item["id"])
            parts.append(mapping.discourse_topic({**item, **view}, topic_posts, self.base_url))
            posts += len(topic_posts)
            self.reporter.advance(1)
        self.counts = {"topics": len(listed), "posts": posts, "raw_fallbacks": 0, **self.counts}
        return parts

    @property
    def options(self) -> dict[str, Any]:
        """What was asked for (compared by ``--since auto``). ``markdown`` marks snapshots whose posts
        hold their ``raw``: an older snapshot lacks it, so the first run after the upgrade is full
        instead of merging new posts with markdown into old ones without."""
        return {"category": self.category, "markdown": True}

    def payload_extra(self) -> dict[str, Any]:
        return {"forum": {"url": self.base_url, "category": self.category}, "options": self.options}


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RetryableResponse("not JSON", response) from None
