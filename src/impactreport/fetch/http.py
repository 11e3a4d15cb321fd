"""The one retrying HTTP layer every source uses (Thinklab, GitHub, Discourse).

Why: the servers we fetch from answer 502 HTML pages, 429s, slow or truncated bodies and resets; a fetch
must end with either a good response or one clear line saying why not, within a bounded time that suits a
daily cron job. The retry policy is tenacity's (exponential backoff with full jitter, stopped by attempts
and by total time); this module only says *what* is retryable.

Use::

    from impactreport.fetch.http import HttpClient, RetryPolicy, RetryableResponse, Wait

    client = HttpClient(policy=RetryPolicy(max_attempts=6, max_time=300, backoff=2))

    def parse(response):                      # runs on every response that is not a retryable status
        if "json" not in response.headers.get("content-type", ""):
            raise RetryableResponse("not JSON", response)   # a 200 with an HTML page: try again
        return response.json()

    result = client.request("GET", url, validate=parse)     # -> Result(value, response, attempts, elapsed)
    # raises HttpFailure (an impactreport FetchError) once the policy gives up; str(error) is one line

Retried: connection errors and resets, timeouts, truncated bodies, 5xx, 408, 429 (``Retry-After`` in
seconds or as an HTTP date is honoured), and whatever ``validate`` or ``classify`` marks retryable. Any
other 4xx fails at once. A source with its own rules (GitHub's rate limits: a 403/429 with
``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``; GraphQL's 200 with a ``RATE_LIMITED`` error) passes
``classify(response) -> Wait | None``: a :class:`Wait` makes the response retryable after ``Wait.seconds``
(use :meth:`Wait.until` for a reset time), ``None`` falls back to the default rules. ``on_wait(WaitEvent)``
is called before every sleep (for a progress display), ``on_attempt(n)`` before every attempt.
``request(..., build=fn)`` recomputes request arguments per attempt (a CSRF token that changed after a
re-login). The transport is a ``requests.Session`` you may pass in.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import tenacity
from tenacity import RetryCallState, Retrying

from impactreport.capped import max_export_bytes
from impactreport.errors import FetchError

__all__ = [
    "FatalResponse",
    "HttpClient",
    "HttpFailure",
    "Result",
    "RetryPolicy",
    "RetryableResponse",
    "Wait",
    "WaitEvent",
    "describe_response",
    "parse_retry_after",
]

#: Statuses retried by default (besides every 5xx).
RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one request (one project, for Thinklab).

    Defaults fit a daily cron job: up to 8 attempts within 10 minutes, the first delay up to 2 s, doubling
    (full jitter: a uniform draw between 0 and the doubled value), never more than 2 minutes apart.
    ``timeout`` is requests' (connect, read) timeout per attempt; ``max_wait`` caps a server-requested
    wait (a longer ``Retry-After`` than the remaining time budget ends the retries at once).
    """

    max_attempts: int = 8
    max_time: float = 600.0
    backoff: float = 2.0
    max_backoff: float = 120.0
    timeout: tuple[float, float] = (10.0, 120.0)
    max_wait: float = 900.0
    #: The whole fetch's wall-clock budget (``--fetch-time``) and when it ends (``time.monotonic()``):
    #: no request, retry or wait goes past it, so a cron job never runs into the next day's.
    fetch_time: float | None = None
    ends_at: float | None = None

    def budget(self, start: float) -> tuple[float, str]:
        """Seconds a request started at ``start`` may take, retries included, and the option that
        sets that bound (for the message when it is reached)."""
        if self.ends_at is not None and self.ends_at - start < self.max_time:
            return max(0.0, self.ends_at - start), f"--fetch-time {self.fetch_time:g} s for the whole fetch"
        return self.max_time, f"--max-time {self.max_time:g} s"


@dataclass(frozen=True)
class Wait:
    """A server-requested pause before the next attempt (``Retry-After``, a rate-limit reset)."""

    seconds: float
    reason: str = "server asked to wait"

    @classmethod
    def until(cls, moment: float | datetime, reason: str = "rate limit reset") -> Wait:
        """Wait until an epoch time or an aware datetime (e.g. GitHub's ``x-ratelimit-reset``)."""
        epoch = moment.timestamp() if isinstance(moment, datetime) else float(moment)
        return cls(max(0.0, epoch - time.time()), reason)


@dataclass(frozen=True)
class WaitEvent:
    """What ``on_wait`` receives before a sleep: which attempt failed, why, and how long we wait."""

    attempt: int
    seconds: float
    reason: str
    url: str


@dataclass(frozen=True)
class Result:
    """A successful request: ``value`` is what ``validate`` returned (the response itself without one)."""

    value: Any
    response: requests.Response
    attempts: int
    elapsed: float


class RetryableResponse(Exception):
    """Raise from ``validate``/``classify`` to say "this answer is bad, try again" (HTML instead of JSON,
    a truncated or logged-out page). ``wait`` (seconds) overrides the backoff for the next sleep."""

    def __init__(self, reason: str, response: requests.Response | None = None, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.response = response
        self.wait = wait


class FatalResponse(Exception):
    """A response that no retry will fix (404, 403 without a rate limit): stop at once."""

    def __init__(self, reason: str, response: requests.Response | None = None):
        super().__init__(reason)
        self.reason = reason
        self.response = response


class HttpFailure(FetchError):
    """The policy gave up. ``str()`` is one line: attempts, last status, content type, first body line."""

    def __init__(
        self,
        url: str,
        attempts: int,
        reason: str,
        status: int | None = None,
        content_type: str = "",
        first_line: str = "",
        elapsed: float = 0.0,
    ):
        self.url = url
        self.attempts = attempts
        self.reason = reason
        self.status = status
        self.content_type = content_type
        self.first_line = first_line
        self.elapsed = elapsed
        super().__init__(self.summary())

    def summary(self) -> str:
        """One line for a person: why, how often we tried, and what the server last said."""
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        parts = [f"{status}", self.content_type or "no content type"]
        if self.first_line:
            parts.append(repr(self.first_line))
        plural = "s" if self.attempts != 1 else ""
        return f"{self.reason} after {self.attempts} attempt{plural} (last: {', '.join(parts)})"


_TAG = re.compile(r"<[^>]*>")


def first_line(text: str, limit: int = 120) -> str:
    """First line of a body that says something (HTML tags dropped), shortened for a one-line message."""
    for line in text.splitlines():
        plain = " ".join(_TAG.sub(" ", line).split())
        if plain:
            return plain if len(plain) <= limit else plain[: limit - 1] + "…"
    return ""


def describe_response(response: requests.Response | None) -> tuple[int | None, str, str]:
    """(status, content type, first line of the body) of a response, for error messages."""
    if response is None:
        return None, "", ""
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    try:
        text = response.content[:4096].decode("utf-8", errors="replace")
    except Exception:  # the body itself may be the broken part
        text = ""
    return response.status_code, content_type, first_line(text)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def default_classify(response: requests.Response) -> None:
    """The default rules: 5xx, 408, 425 and 429 are retryable (honouring Retry-After); other 4xx are fatal."""
    status = response.status_code
    if status >= 500 or status in RETRY_STATUSES:
        wait = parse_retry_after(response.headers.get("retry-after"))
        raise RetryableResponse(f"HTTP {status}", response, wait)
    if status >= 400:
        raise FatalResponse(f"refused: HTTP {status}", response)


#: Network-level failures worth another attempt (resets, timeouts, bodies cut short).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionError,
    TimeoutError,
)
#: Everything a request is tried again for: a retryable answer or a transient network failure.
RETRYABLE: tuple[type[Exception], ...] = (RetryableResponse, *TRANSIENT_ERRORS)


#: Bytes read from the network at a time while a body is checked against the limit.
BODY_CHUNK = 1 << 20


def read_body(response: requests.Response, limit: int) -> None:
    """Read the whole (decoded) body into ``response``, or stop at ``limit`` bytes with
    :class:`FatalResponse`.

    Why: a hostile or broken server can send an endless body, or a small gzip that expands to
    gigabytes (requests decodes ``Content-Encoding: gzip`` as it reads); ``response.content`` would
    hold it all in memory. The limit is the one every export has (:func:`max_export_bytes`), so a
    response that could not be read as an export anyway is refused before it fills memory. The body is
    then set where requests keeps it, so ``.json()`` and ``.text`` work as usual.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit and "Content-Encoding" not in response.headers:
        _keep(response, b"", close=True)
        raise FatalResponse(f"response of {int(declared):,} bytes is over the {limit:,}-byte limit", response)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(BODY_CHUNK):
        size += len(chunk)
        if size > limit:
            _keep(response, (chunks or [chunk])[0][:4096], close=True)
            raise FatalResponse(f"response body over the {limit:,}-byte limit: stopped reading", response)
        chunks.append(chunk)
    _keep(response, b"".join(chunks))


def _keep(response: requests.Response, body: bytes, *, close: bool = False) -> None:
    """Set ``body`` where requests keeps a body it has read; ``close`` drops a connection whose body
    was not read to its end (a whole body already gave its connection back to the pool)."""
    if close:
        response.close()
    response._content = body
    response._content_consumed = True


class DeadlinePassed(FatalResponse):
    """A request got no complete answer within ``--max-time``: a server that trickles or stalls."""


def _within(
    seconds: float,
    bound: str,
    where: str,
    exchange: Callable[[], requests.Response],
    abort: Callable[[], None] = lambda: None,
) -> requests.Response:
    """Run ``exchange`` with a wall-clock limit, reading included.

    Why a thread: requests' ``timeout`` bounds each socket read, so a server that sends one byte every
    few seconds never times out. The exchange runs in a daemon thread; when the deadline passes first,
    the connection it uses is shut down (which ends its blocking read) and the request fails with one
    line. A daemon thread can never keep the process (or the store's lock) alive.
    """
    if seconds <= 0:
        raise DeadlinePassed(f"{where}: no complete answer within {bound}")
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["response"] = exchange()
        except BaseException as error:  # handed to the caller's thread as is
            outcome["error"] = error
        finally:
            done.set()

    worker = threading.Thread(target=run, name="impactreport-request", daemon=True)
    worker.start()
    if not done.wait(seconds):
        abort()
        stalled = f"no complete answer within {bound} (the server stalled)"
        raise DeadlinePassed(f"{where}: {stalled}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["response"]


def _abort(response: requests.Response | None) -> None:
    """Shut down the connection a stalled response is read from, so its reading thread ends too."""
    if response is None:
        return
    connection = getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    with contextlib.suppress(OSError, AttributeError):
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, RetryableResponse | FatalResponse):
        return error.reason
    if isinstance(error, requests.Timeout):
        return "timeout"
    if isinstance(error, requests.TooManyRedirects):
        return "redirect loop (more than 30 redirects)"
    if isinstance(error, requests.RequestException):
        return f"request failed ({type(error).__name__})"
    if isinstance(error, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return "truncated body"
    if isinstance(error, requests.ConnectionError | ConnectionError):
        return "connection error"
    return type(error).__name__


class OriginRefused(FetchError):
    """A link or redirect led to another scheme, host or port than the user named: not followed."""


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (default port filled in, host lowercased, no user or password)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        port = None
    port = port or {"http": 80, "https": 443}.get(scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def guard_redirects(session: requests.Session, allowed: Callable[[], frozenset[str]]) -> None:
    """Make ``session`` refuse to follow a redirect to an origin not in ``allowed()``.

    Why here: requests keeps custom headers (``Api-Key``) across a redirect to another host, and the
    check must happen before the next request is sent. ``get_redirect_target`` is where requests reads
    ``Location``, for every hop, before following it.
    """
    if getattr(session, "_impactreport_guarded", False):
        return
    read_target = session.get_redirect_target

    def target(response: requests.Response) -> str | None:
        location = read_target(response)
        origins = allowed()
        if location and origins:
            to = origin(urljoin(response.url, location))
            if to not in origins:
                raise OriginRefused(
                    f"{origin(response.url)} redirected to another origin ({to}): not followed; "
                    f"credentials go only to {', '.join(sorted(origins))}"
                )
        return location

    session.get_redirect_target = target  # type: ignore[method-assign,assignment]
    session._impactreport_guarded = True  # type: ignore[attr-defined]


@dataclass
class HttpClient:
    """A ``requests.Session`` plus the retry policy; one client per source run.

    ``classify`` and ``on_wait`` are defaults for every request; ``request`` can override ``classify``.
    ``sleep`` is injectable so tests of the policy itself do not have to wait.
    """

    session: requests.Session = field(default_factory=requests.Session)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    classify: Callable[[requests.Response], Wait | None] | None = None
    on_wait: Callable[[WaitEvent], None] | None = None
    on_attempt: Callable[[int], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    #: The origins (``scheme://host:port``) credentials may go to: the URLs the user named. Empty: any.
    origins: frozenset[str] = frozenset()
    #: the URL of the last request sent (a malformed payload is reported against it)
    last_url: str | None = None

    def __post_init__(self) -> None:
        guard_redirects(self.session, lambda: self.origins)

    def allow(self, *urls: str) -> None:
        """Send requests, and follow redirects, only to the origins of ``urls`` (the user's URLs)."""
        self.origins = frozenset(origin(url) for url in urls)

    def check_origin(self, url: str) -> None:
        """Raise :class:`OriginRefused` (one line, no credentials) unless ``url`` is an allowed origin."""
        if self.origins and origin(url) not in self.origins:
            raise OriginRefused(
                f"refusing to send a request to another origin ({origin(url)}): "
                f"credentials go only to {', '.join(sorted(self.origins))}"
            )

    def _check(
        self,
        response: requests.Response,
        classify: Callable[[requests.Response], Wait | None] | None,
    ) -> None:
        if classify is not None:
            verdict = classify(response)
            if verdict is not None:
                raise RetryableResponse(verdict.reason, response, verdict.seconds)
        default_classify(response)

    @staticmethod
    def _waiter(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
        """Full-jitter exponential backoff, or the server's wait when it named one (capped)."""
        jitter = tenacity.wait_random_exponential(multiplier=policy.backoff, max=policy.max_backoff)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RetryableResponse) and error.wait is not None:
                return min(error.wait, policy.max_wait)
            return jitter(state)

        return wait

    def request(
        self,
        method: str,
        url: str,
        *,
        validate: Callable[[requests.Response], Any] | None = None,
        classify: Callable[[requests.Response], Wait | None] | None = None,
        build: Callable[[], dict[str, Any]] | None = None,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> Result:
        """Send until a response passes the checks and ``validate``; raise :class:`HttpFailure` if never.

        ``build()`` returns extra request arguments computed afresh for every attempt.
        """
        self.check_origin(url)
        self.last_url = url  # what a malformed payload is reported against (fetch.sync)
        policy = policy or self.policy
        classify = classify if classify is not None else self.classify
        kwargs.setdefault("timeout", policy.timeout)
        start = time.monotonic()
        budget, bound = policy.budget(start)
        last: dict[str, Any] = {"response": None, "attempts": 0}

        def attempt() -> Result:
            last["attempts"] += 1
            number = last["attempts"]
            if self.on_attempt is not None:
                self.on_attempt(number)
            arguments = dict(kwargs)
            if build is not None:
                arguments.update(build())
            last["response"] = None
            response = _within(
                budget - (time.monotonic() - start),
                bound,
                url,
                lambda: self._send(method, url, arguments, last),
                abort=lambda: _abort(last["response"]),
            )
            self._check(response, classify)
            value = validate(response) if validate is not None else response
            return Result(value, response, number, time.monotonic() - start)

        def before_sleep(state: RetryCallState) -> None:
            if self.on_wait is None or state.outcome is None or state.next_action is None:
                return
            error = state.outcome.exception()
            reason = _reason(error) if error is not None else "retry"
            self.on_wait(WaitEvent(state.attempt_number, state.next_action.sleep, reason, url))

        retrying = Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts) | tenacity.stop_before_delay(budget),
            wait=self._waiter(policy),
            retry=tenacity.retry_if_exception_type((RetryableResponse, *TRANSIENT_ERRORS)),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except FatalResponse as error:
            raise self._failure(url, last["attempts"], error, error.response, start, "") from None
        except RETRYABLE as error:
            response = getattr(error, "response", None) or last["response"]
            if not isinstance(response, requests.Response):
                response = None
            raise self._failure(url, last["attempts"], error, response, start, "gave up") from None
        except requests.RequestException as error:  # not retryable (a redirect loop, a bad URL): one line
            raise self._failure(url, last["attempts"], error, None, start, "") from None

    def _send(
        self, method: str, url: str, arguments: dict[str, Any], last: dict[str, Any]
    ) -> requests.Response:
        """One attempt's exchange: headers, then the whole body (a truncated one raises here)."""
        response = self.session.request(method, url, stream=True, **arguments)
        last["response"] = response
        read_body(response, max_export_bytes())
        return response

    def _failure(
        self,
        url: str,
        attempts: int,
        error: BaseException,
        response: requests.Response | None,
        start: float,
        verb: str,
    ) -> HttpFailure:
        status, content_type, line = describe_response(response)
        return HttpFailure(
            url,
            attempts,
            f"{verb}: {_reason(error)}" if verb else _reason(error),
            status,
            content_type,
            line,
            time.monotonic() - start,
        )
