"""A Thinklab-like web server for tests: Django-style CSRF login, session cookie, listings, exports, faults.

Real HTTP on 127.0.0.1 (Werkzeug's server in a thread, ephemeral port), serving the real exports from
``../shared/thinklab/latest``. Like Thinklab's Django:

- ``GET /login`` sets a ``csrftoken`` cookie; ``POST /login`` needs ``csrfmiddlewaretoken`` equal to the
  cookie and a ``Referer`` on this host (else 403 "CSRF verification failed"); good credentials set a
  ``sessionid`` cookie, rotate the CSRF token and redirect to ``/``; bad ones re-show the form (200).
- ``GET /projects`` and ``/proposals`` list projects as ``a.list-proj-name`` links to ``/p/<id>/``.
- ``POST /p/<id>/export.json`` needs a session (else 302 to ``/login?next=...``) and the CSRF token.

Fault mode (seeded): a share ``fault_rate`` of requests gets one of ``FAULTS`` (dealt from a shuffled
deck, so every kind occurs once per round of faults): a 502 HTML page, an HTML
error page with status 200, a 429 with
``Retry-After`` (seconds or an HTTP date), a slow answer (``slow_seconds``, past the client's timeout), a
body cut short (Content-Length larger than what is sent, then the connection closes), a reset connection
(RST), or — for exports — a lost session (redirect to login). ``always_fail`` projects answer 502 forever;
``no_access`` projects always redirect to the login page (an account without access).
``vary`` makes every export differ (a views counter), so each fetch stores a new snapshot.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import secrets
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any
from urllib.parse import urlparse

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

FAULTS = ("bad_gateway", "html_200", "too_many", "slow", "truncated", "reset", "logout")
BAD_GATEWAY = """<html>
<head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.10.0 (Ubuntu)</center></body>
</html>
"""
LOGIN_FORM = """<!DOCTYPE html>
<html><head><title>Log in | Thinklab</title></head><body>
{error}
<form method="post" action="/login">
<input type="hidden" name="csrfmiddlewaretoken" value="{token}">
<input name="email"><input name="password" type="password"><button>Log in</button>
</form></body></html>
"""


class _Dropped(ConnectionError):
    """Raised after the app wrote a broken answer on the raw socket; Werkzeug then drops the connection."""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(OSError):
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()


@dataclass
class ThinklabApp:
    """The WSGI app and its knobs; ``stats`` counts what happened (for assertions and benchmarks)."""

    exports_dir: Path
    email: str = "reviewer@example.org"
    password: str = "correct horse battery staple"
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    seed: int = 0
    slow_seconds: float = 1.0
    retry_after: int = 1
    always_fail: frozenset[str] = frozenset()
    no_access: frozenset[str] = frozenset()
    vary: bool = False
    proposals: tuple[str, ...] = ("EdgeProject", "issnindiadatabase", "LWT_FOR_OPEN_SCIENCE")
    stats: Counter[str] = field(default_factory=Counter)
    sessions: set[str] = field(default_factory=set)
    served: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = Random(self.seed)
        self._lock = threading.Lock()
        self._serial = 0
        self._deck: list[str] = []
        self.projects = sorted(path.stem for path in Path(self.exports_dir).glob("*.json"))

    # --- faults ------------------------------------------------------------------------------------

    def _pick_fault(self, request: Request) -> str | None:
        with self._lock:
            if self._random.random() >= self.fault_rate:
                return None
            export = request.path.endswith("/export.json")
            if not self._deck:  # a shuffled deck of every kind: each is dealt once per round
                self._deck = list(self.faults)
                self._random.shuffle(self._deck)
            for kind in self._deck:
                if export or kind not in {"logout", "html_200"}:
                    self._deck.remove(kind)
                    return kind
            return None

    def _fault(self, kind: str, request: Request) -> Response | None:
        self.stats[f"fault:{kind}"] += 1
        if kind == "bad_gateway":
            return Response(BAD_GATEWAY, 502, content_type="text/html")
        if kind == "html_200":  # the proxy's error page, served with status 200
            return Response(BAD_GATEWAY.replace("502 ", "Error: "), 200, content_type="text/html")
        if kind == "too_many":
            if self.stats["fault:too_many"] % 2:
                after = str(self.retry_after)
            else:
                after = email.utils.formatdate(time.time() + self.retry_after, usegmt=True)
            return Response("Too many requests\n", 429, {"Retry-After": after}, content_type="text/plain")
        if kind == "slow":
            time.sleep(self.slow_seconds)
            return None  # then answer normally, too late for the client
        if kind == "logout":
            self.sessions.discard(request.cookies.get("sessionid", ""))
            return _redirect(f"/login?next={request.path}")
        sock: socket.socket = request.environ["werkzeug.socket"]
        if kind == "truncated":
            body = b'{"comments": [{"body_html": "<p>cut he'
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body) + 5000}\r\nConnection: close\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
            sock.shutdown(socket.SHUT_RDWR)
            raise _Dropped("truncated")
        if kind == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock._real_close()  # type: ignore[attr-defined]  # now, despite the handler's file objects
            raise _Dropped("reset")
        raise ValueError(f"unknown fault {kind}")

    # --- pages -------------------------------------------------------------------------------------

    def _csrf_ok(self, request: Request) -> bool:
        cookie = request.cookies.get("csrftoken", "")
        form = request.form.get("csrfmiddlewaretoken", "")
        referer = urlparse(request.headers.get("Referer", ""))
        same_host = referer.netloc == request.host
        return bool(cookie) and secrets.compare_digest(cookie, form) and same_host

    def _login(self, request: Request) -> Response:
        if request.method == "GET":
            token = request.cookies.get("csrftoken") or secrets.token_hex(16)
            response = Response(LOGIN_FORM.format(error="", token=token), content_type="text/html")
            response.set_cookie("csrftoken", token, samesite="Lax")
            return response
        if not self._csrf_ok(request):
            self.stats["csrf_failed"] += 1
            return _csrf_failure()
        email_ok = secrets.compare_digest(request.form.get("email", ""), self.email)
        password_ok = secrets.compare_digest(request.form.get("password", ""), self.password)
        if not (email_ok and password_ok):
            self.stats["login_refused"] += 1
            token = request.cookies["csrftoken"]
            page = LOGIN_FORM.format(error="<p>Please enter a correct email and password.</p>", token=token)
            return Response(page, content_type="text/html")
        session = secrets.token_hex(16)
        with self._lock:
            self.sessions.add(session)
        self.stats["logins"] += 1
        response = _redirect(request.args.get("next", "/"))
        response.set_cookie("sessionid", session, httponly=True, samesite="Lax")
        response.set_cookie("csrftoken", secrets.token_hex(16), samesite="Lax")  # Django rotates it
        return response

    def _listing(self, names: Iterable[str], title: str) -> Response:
        links = "\n".join(
            f'<li><a class="list-proj-name" href="/p/{name}/">{name}</a> <a href="/p/{name}/">more</a></li>'
            for name in names
        )
        page = (
            f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
            f'<a class="list-proj-name" href="/about/">not a project</a><ul>{links}</ul></body></html>'
        )
        return Response(page, content_type="text/html")

    def export_bytes(self, project: str) -> bytes:
        """What the server answers for a project now (the file, or the file with a fresh views count)."""
        raw = (Path(self.exports_dir) / f"{project}.json").read_bytes()
        if not self.vary:
            return raw
        with self._lock:
            self._serial += 1
            serial = self._serial
        payload = json.loads(raw)
        for document in payload["documents"]:
            document["views"] = document.get("views", 0) + serial
        return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False).encode()

    def _export(self, request: Request, project: str) -> Response:
        if request.method != "POST":
            return Response("Method not allowed\n", 405, content_type="text/plain")
        if request.cookies.get("sessionid", "") not in self.sessions or project in self.no_access:
            self.stats["redirected_to_login"] += 1
            return _redirect(f"/login?next={request.path}")
        if not self._csrf_ok(request):
            self.stats["csrf_failed"] += 1
            return _csrf_failure()
        if project not in self.projects:
            return Response("<h1>Not Found</h1>", 404, content_type="text/html")
        if project in self.always_fail:
            self.stats["always_fail"] += 1
            return Response(BAD_GATEWAY, 502, content_type="text/html")
        body = self.export_bytes(project)
        self.served[project] = body
        self.stats["exports"] += 1
        return Response(body, content_type="application/json")

    def route(self, request: Request) -> Response:
        path = request.path
        if path == "/login":
            return self._login(request)
        if path == "/":
            return Response("<html><body>Thinklab</body></html>", content_type="text/html")
        if path == "/projects":
            return self._listing([p for p in self.projects if p not in self.proposals], "Projects")
        if path == "/proposals":
            return self._listing([p for p in self.projects if p in self.proposals], "Proposals")
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "p" and parts[2] == "export.json":
            return self._export(request, parts[1])
        return Response("<h1>Not Found</h1>", 404, content_type="text/html")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        self.stats["requests"] += 1
        kind = self._pick_fault(request)
        response = self._fault(kind, request) if kind else None
        if response is None:
            response = self.route(request)
        return response(environ, start_response)


def _redirect(location: str) -> Response:
    return Response("", 302, {"Location": location})


def _csrf_failure() -> Response:
    page = "<h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p>"
    return Response(page, 403, content_type="text/html")


class ThinklabServer:
    """Run a :class:`ThinklabApp` on 127.0.0.1 in a thread: ``with ThinklabServer(app) as url: ...``."""

    def __init__(self, app: ThinklabApp):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
