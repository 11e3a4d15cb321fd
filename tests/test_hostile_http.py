"""A hostile server's body cannot fill memory: an endless body, a gzip bomb, a lying Content-Length.

A real Werkzeug server on 127.0.0.1 sends each; the shared client (:class:`HttpClient`) must stop at
the export size limit with one line naming the URL, not read on.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from impactreport.fetch.http import HttpClient, HttpFailure, RetryPolicy
from tests.runner import cli

LIMIT = 4 << 20  # 4 MiB: IMPACTREPORT_MAX_EXPORT_BYTES in these tests
SENT: dict[str, int] = {}


def _endless() -> Iterator[bytes]:
    chunk = b"[" + b"1," * (1 << 19)
    sent = 0
    while sent < 64 * LIMIT:  # 256 MiB at most, so a failing client still ends
        sent += len(chunk)
        SENT["endless"] = sent
        yield chunk


def _trickle() -> Iterator[bytes]:
    """One byte every 0.3 s for at most a minute: every socket read succeeds, the body never ends."""
    for _ in range(200):
        yield b" "
        time.sleep(0.3)


def _app(environ, start_response):  # a WSGI app
    request = Request(environ)
    if request.path.endswith("/trickle") or request.path.startswith("/latest.json"):
        response = Response(_trickle(), mimetype="application/json")
    elif request.path == "/loop":
        response = Response(b"", status=302, headers={"Location": "/loop"})
    elif request.path == "/endless":
        response = Response(_endless(), mimetype="application/json")
    elif request.path == "/bomb":
        body = gzip.compress(b" " * (64 * LIMIT), compresslevel=9)  # 256 MiB of spaces in ~250 KB
        response = Response(body, mimetype="application/json", headers={"Content-Encoding": "gzip"})
    elif request.path == "/declared":
        response = Response(b"{}", mimetype="application/json")
        response.headers["Content-Length"] = str(10 * LIMIT)
        response.automatically_set_content_length = False
    else:
        response = Response(b'{"ok": true}', mimetype="application/json")
    return response(environ, start_response)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, _app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> HttpClient:
    monkeypatch.setenv("IMPACTREPORT_MAX_EXPORT_BYTES", str(LIMIT))
    return HttpClient(policy=RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.01, timeout=10))


@pytest.mark.parametrize(
    "path",
    ["/endless", pytest.param("/bomb", marks=pytest.mark.slow), "/declared"],  # the bomb: 256 MiB gzipped
)
def test_a_body_over_the_limit_is_refused_without_reading_it_all(
    server: str, client: HttpClient, path: str
) -> None:
    with pytest.raises(HttpFailure) as caught:
        client.request("GET", server + path)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.url.endswith(path) and "limit" in message and caught.value.attempts == 1
    if path == "/endless":
        assert SENT["endless"] < 16 * LIMIT  # it stopped reading long before the server's end


def test_a_body_under_the_limit_is_read_as_usual(server: str, client: HttpClient) -> None:
    result = client.request("GET", server + "/ok", validate=lambda response: response.json())
    assert result.value == {"ok": True}


def test_a_trickling_server_ends_at_max_time(server: str, client: HttpClient) -> None:
    """Each read gets a byte within the per-read timeout; only a wall clock ends the request."""
    policy = RetryPolicy(max_attempts=3, max_time=2.0, backoff=0.01, max_backoff=0.01, timeout=(1.0, 1.0))
    began = time.monotonic()
    with pytest.raises(HttpFailure) as caught:
        client.request("GET", server + "/trickle", policy=policy)
    assert time.monotonic() - began < 4.0
    message = str(caught.value)
    assert "\n" not in message and "--max-time 2 s" in message and "stalled" in message


@pytest.mark.slow
def test_a_stalled_fetch_ends_with_one_line_and_releases_the_lock(server: str, tmp_path) -> None:
    """fetch discourse against a server that trickles: one line within --max-time, lock released."""
    data = tmp_path / "data"
    command = [
        "fetch",
        "discourse",
        "--base-url",
        server,
        "--data",
        str(data),
    ]
    options = ["--timeout", "1", "--max-time", "2", "--max-attempts", "2", "--rate", "0", "--quiet"]
    began = time.monotonic()
    first = cli(*command, *options, timeout=60)
    assert time.monotonic() - began < 20
    assert first.returncode != 0 and "Traceback" not in first.stderr, first.stderr
    assert "stalled" in first.stderr and "data" not in first.stderr.split("stalled")[0].split(":")[0]
    second = cli(*command, *options, timeout=60)
    assert "lock" not in second.stderr.lower(), second.stderr  # the first run let go of the store


def test_a_redirect_loop_is_a_network_error_not_a_data_folder_problem(
    server: str, client: HttpClient
) -> None:
    with pytest.raises(HttpFailure) as caught:
        client.request("GET", server + "/loop")
    message = str(caught.value)
    assert "redirect loop" in message and "write" not in message and "\n" not in message


@pytest.mark.slow
def test_the_whole_fetch_has_a_deadline_too(server: str, tmp_path) -> None:
    """--fetch-time bounds the whole fetch, even when each request's own --max-time is long."""
    command = [
        "fetch", "discourse", "--base-url", server,
        "--data", str(tmp_path / "data"), "--timeout", "1", "--max-time", "600", "--fetch-time", "3",
        "--rate", "0", "--quiet",
    ]  # fmt: skip
    began = time.monotonic()
    done = cli(*command, timeout=60)
    assert time.monotonic() - began < 15
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "--fetch-time 3 s for the whole fetch" in done.stderr
