"""A hostile server's body cannot fill memory: an endless body, a gzip bomb, a lying Content-Length.

A real Werkzeug server on 127.0.0.1 sends each; the shared client (:class:`HttpClient`) must stop at
the export size limit with one line naming the URL, not read on.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from impactreport.fetch.http import HttpClient, HttpFailure, RetryPolicy

LIMIT = 4 << 20  # 4 MiB: IMPACTREPORT_MAX_EXPORT_BYTES in these tests
SENT: dict[str, int] = {}


def _endless() -> Iterator[bytes]:
    chunk = b"[" + b"1," * (1 << 19)
    sent = 0
    while sent < 64 * LIMIT:  # 256 MiB at most, so a failing client still ends
        sent += len(chunk)
        SENT["endless"] = sent
        yield chunk


def _app(environ, start_response):  # a WSGI app
    request = Request(environ)
    if request.path == "/endless":
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


@pytest.mark.parametrize("path", ["/endless", "/bomb", "/declared"])
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
