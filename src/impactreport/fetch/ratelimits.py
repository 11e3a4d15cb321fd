"""GitHub's, Discourse's and GitLab's rate-limit answers, told apart for the shared retrying HTTP layer.

:mod:`impactreport.fetch.http` owns the one retry loop (tenacity); this module only says how long a
rate-limited answer asks us to wait, through its ``classify(response) -> Wait | None`` hook:

- GitHub primary limit: 403 or 429 with ``x-ratelimit-remaining: 0`` → wait until ``x-ratelimit-reset``
  (epoch seconds, plus one second because the header is rounded down);
- GitHub secondary limit with ``retry-after`` → wait that long;
- GitHub secondary limit without it (403/429 whose message names the secondary limit, or any 429) →
  wait at least ``secondary_min_wait`` (GitHub documents one minute), doubling on each consecutive hit,
  at most ``secondary_max_wait``;
- GraphQL primary limit: HTTP **200** whose ``errors`` hold ``type: RATE_LIMITED`` → wait until the
  reset (never stored as data);
- GraphQL 502/504 (a query too slow for GitHub): noted in ``slow_queries`` so the caller lowers its page
  size on the next attempt; the layer's default rules retry it;
- Discourse 429: ``Retry-After``, else the JSON ``extras.wait_seconds`` it sends;
- GitLab 429: ``Retry-After``, else until ``RateLimit-Reset`` (epoch seconds); a successful answer with
  ``RateLimit-Remaining: 0`` is kept, and the next request first waits until ``RateLimit-Reset``
  (:meth:`GitLabLimits.pause`), since GitLab would refuse it.

Everything else falls through to the layer's defaults (5xx and resets retried with backoff).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from impactreport.fetch.http import RetryPolicy, Wait, WaitEvent, parse_retry_after

#: GitHub resets its primary limit hourly: a run must be able to sit out a whole window, so the
#: per-request time budget and the longest accepted wait are an hour and a bit. Attempts and backoff
#: are those of the Thinklab client.
GITHUB_POLICY = RetryPolicy(max_attempts=8, max_time=3900.0, backoff=2.0, max_backoff=120.0, max_wait=3660.0)
#: Discourse asks for waits of seconds to a minute; the Thinklab client's bounds fit.
DISCOURSE_POLICY = RetryPolicy(max_attempts=8, max_time=600.0, backoff=2.0, max_backoff=120.0, max_wait=600.0)
#: GitLab's limits are per minute (gitlab.com; self-managed instances choose their period, usually a
#: minute too): ten minutes per request sits out several windows. Attempts and backoff as Thinklab's.
GITLAB_POLICY = RetryPolicy(max_attempts=8, max_time=600.0, backoff=2.0, max_backoff=120.0, max_wait=600.0)


def clock(seconds: float) -> str:
    """The UTC wall time ``seconds`` from now, for "waiting until 14:03:07 UTC"."""
    return datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%H:%M:%S UTC")


def _reset_wait(response: requests.Response, what: str) -> Wait:
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return Wait.until(int(reset) + 1, f"{what} until reset")
    return Wait(60.0, f"{what} (no reset time given)")


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


@dataclass
class GitHubLimits:
    """The ``classify`` hook for GitHub (REST and GraphQL), with its memory of consecutive limits."""

    secondary_min_wait: float = 60.0
    secondary_max_wait: float = 900.0
    slow_queries: int = 0
    hits: dict[str, int] = field(default_factory=lambda: {"primary": 0, "secondary": 0, "graphql": 0})
    _streak: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def classify(self, response: requests.Response) -> Wait | None:
        """A :class:`Wait` for a rate-limited answer, None to let the default rules decide."""
        status = response.status_code
        headers = response.headers
        resource = headers.get("x-ratelimit-resource", "core")
        if status in (403, 429):
            if headers.get("x-ratelimit-remaining") == "0":
                self._count("primary")
                return _reset_wait(response, f"primary rate limit ({resource})")
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is not None:
                self._count("secondary")
                return Wait(retry_after, "secondary rate limit (retry-after)")
            message = _message(response).lower()
            if status == 429 or "secondary rate limit" in message or "abuse detection" in message:
                self._count("secondary")
                with self._lock:
                    streak = self._streak
                    self._streak += 1
                seconds = min(self.secondary_max_wait, self.secondary_min_wait * 2**streak)
                return Wait(seconds, "secondary rate limit (no retry-after)")
            return None
        if status in (502, 504) and response.request is not None and _is_graphql(response.request):
            with self._lock:
                self.slow_queries += 1
            return None
        if status == 200 and _is_graphql(response.request) and _graphql_rate_limited(response):
            self._count("graphql")
            return _reset_wait(response, "GraphQL rate limit")
        if status < 400:
            with self._lock:
                self._streak = 0
        return None

    def _count(self, kind: str) -> None:
        with self._lock:
            self.hits[kind] += 1


def _is_graphql(request: requests.PreparedRequest | None) -> bool:
    return (
        request is not None
        and request.method == "POST"
        and (request.url or "").rstrip("/").endswith("graphql")
    )


def _graphql_rate_limited(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return False
    return any(isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors)


@dataclass
class DiscourseLimits:
    """The ``classify`` hook for Discourse: 429 → ``Retry-After`` or the body's ``wait_seconds``."""

    hits: int = 0

    def classify(self, response: requests.Response) -> Wait | None:
        if response.status_code != 429:
            return None
        self.hits += 1
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            return Wait(retry_after, "rate limited (retry-after)")
        try:
            seconds = float(json.loads(response.content)["extras"]["wait_seconds"])
        except (ValueError, KeyError, TypeError):
            return None  # the layer's default: 429 retried with backoff
        return Wait(seconds, "rate limited (wait_seconds)")


def _epoch(value: str | None) -> float | None:
    """``RateLimit-Reset`` as epoch seconds (None when absent or not a number)."""
    text = (value or "").strip()
    return float(text) if text.isdigit() else None


@dataclass
class GitLabLimits:
    """The ``classify`` hook for GitLab REST v4, and the pause owed when a quota ran out.

    GitLab sends ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (epoch seconds) on
    rate-limited routes, and answers 429 (with ``Retry-After`` on recent versions) once the quota is
    spent. A 429 is waited out (``Retry-After``, else until the reset, else the layer's backoff). A good
    answer that spent the last request of the window is kept (retrying it would waste it); the next
    request then waits until the reset first (:meth:`pause`), instead of being refused.
    """

    hits: int = 0
    exhausted: int = 0
    _reset: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def classify(self, response: requests.Response) -> Wait | None:
        headers = response.headers
        reset = _epoch(headers.get("ratelimit-reset"))
        if response.status_code == 429:
            with self._lock:
                self.hits += 1
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is not None:
                return Wait(retry_after, "rate limited (retry-after)")
            if reset is not None:
                return Wait.until(reset + 1, "rate limited until RateLimit-Reset")
            return None  # the layer's default: 429 retried with backoff
        spent = headers.get("ratelimit-remaining", "").strip() == "0"
        if response.status_code < 400 and spent and reset is not None:
            with self._lock:
                self.exhausted += 1
                self._reset = reset + 1  # the header is rounded down to a second
        return None

    def pause(self) -> Wait | None:
        """The wait owed before the next request (the last answer spent the quota), once; else None."""
        with self._lock:
            reset, self._reset = self._reset, None
        if reset is None:
            return None
        wait = Wait.until(reset, "rate limit spent (RateLimit-Remaining: 0) until reset")
        return wait if wait.seconds > 0 else None


@dataclass
class Throttle:
    """At most ``rate`` requests a second (0 = unthrottled): Discourse's polite default."""

    rate: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    _last: float = 0.0

    def __call__(self) -> None:
        if self.rate <= 0:
            return
        gap = 1.0 / self.rate - (time.monotonic() - self._last)
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()


@dataclass
class Reporter:
    """What a fetch tells its caller while it runs (the CLI draws a rich progress display from it).

    ``stage(name, total)`` starts a counted step, ``advance(n)`` moves it, ``waiting(event)`` reports a
    pause (rate limit or backoff) with its length; ``requests`` counts every attempt sent.
    """

    stage: Callable[[str, int | None], None] = lambda name, total: None
    advance: Callable[[int], None] = lambda n: None
    waiting: Callable[[WaitEvent], None] = lambda event: None
    requests: int = 0
    waits: list[WaitEvent] = field(default_factory=list)

    def attempt(self, number: int) -> None:
        """``on_attempt`` hook of the HTTP layer: one more request sent."""
        self.requests += 1

    def wait(self, event: WaitEvent) -> None:
        """``on_wait`` hook of the HTTP layer."""
        self.waits.append(event)
        self.waiting(event)
