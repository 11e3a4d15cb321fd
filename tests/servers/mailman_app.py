"""A Mailman archive on 127.0.0.1: a Pipermail (Mailman 2) list and a HyperKitty (Mailman 3) list.

Real Werkzeug WSGI app (served with :func:`servers.github_app.serve`). Endpoints, as Mailman has them:

- ``GET /pipermail/<list>/``: the Mailman 2 archive index (its table: one row per month, "[ Thread ]"
  … links, and ``[ Gzip'd Text N KB ]`` linking ``YYYY-Month.txt.gz``);
- ``GET /pipermail/<list>/<YYYY-Month>.txt.gz``: that month's messages as Pipermail writes them (an mbox
  whose ``From`` lines and ``From:``/id headers spell addresses ``user at host``), gzipped, with an
  ``ETag`` and ``Last-Modified``; ``If-None-Match`` with the current ETag answers ``304``;
- ``GET /hyperkitty/api/list/<name@domain>/``: the list's JSON (``created_at``, as HyperKitty's REST API);
- ``GET /hyperkitty/list/<name@domain>/export/<file>.mbox.gz?start=YYYY-MM-DD&end=YYYY-MM-DD``: the
  messages dated ``start <= date < end`` as a gzipped mbox (HyperKitty's ``export_mbox`` view).

GENERATED: every message; the test builds them (:class:`email.message.EmailMessage`) and hands them
over as bytes per month. Faults (queued with :meth:`MailmanState.plan`, one per request): ``502`` (an
HTML "Bad Gateway" page, as nginx sends), ``429`` (``Retry-After: 1``), ``reset`` (TCP reset).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from .github_app import _reset

FAULTS = ("502", "429", "reset")
BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_OBFUSCATE = re.compile(rb"([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+)")


def pipermail_text(mbox: bytes) -> bytes:
    """An mbox as Pipermail writes its ``.txt``: addresses in the ``From`` line and in the From,
    Message-ID, In-Reply-To and References headers spelt ``user at host``."""
    out = []
    in_head = False
    for line in mbox.split(b"\n"):
        if line.startswith(b"From "):
            in_head = True
            out.append(_OBFUSCATE.sub(rb"\1 at \2", line))
            continue
        if in_head and not line.strip():
            in_head = False
        if in_head and re.match(rb"(?i)(from|message-id|in-reply-to|references):|[ \t]", line):
            line = _OBFUSCATE.sub(rb"\1 at \2", line)
        out.append(line)
    return b"\n".join(out)


@dataclass
class Month:
    """One Pipermail month as served: the gzipped text, its ETag and Last-Modified."""

    body: bytes
    etag: str
    modified: datetime


@dataclass
class MailmanState:
    """Both archives, the fault queue and the request log (a WSGI app)."""

    list_name: str = "science"
    fqdn: str = "science@lists.example.org"
    created_at: str = "2024-01-15T08:00:00Z"
    pipermail: dict[str, Month] = field(default_factory=dict)  # "2024-January" -> month
    hyperkitty: list[tuple[datetime, bytes]] = field(default_factory=list)  # (date, one mbox message)
    faults: deque[str] = field(default_factory=deque)
    log: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, *faults: str) -> None:
        assert all(fault in FAULTS for fault in faults)
        self.faults.extend(faults)

    def set_month(self, key: str, mbox: bytes, modified: datetime) -> None:
        """Serve ``mbox`` (a normal mbox; obfuscated here) as Pipermail month ``key`` (2024-January)."""
        body = gzip.compress(pipermail_text(mbox), mtime=0)
        self.pipermail[key] = Month(body, f'"{hashlib.sha256(body).hexdigest()[:16]}"', modified)

    def add_hyperkitty(self, mbox_message: bytes, date: datetime) -> None:
        """One message (its mbox bytes, ``From `` line included), archived at ``date``."""
        self.hyperkitty.append((date.astimezone(UTC), mbox_message))

    def downloads(self, kind: str = ".txt.gz") -> list[str]:
        """Paths answered 200 with a body, of one kind (``.txt.gz``, ``.mbox.gz``)."""
        return [e["path"] for e in self.log if e["status"] == 200 and e["path"].endswith(kind)]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        if fault == "reset":
            self.log.append({"path": request.path, "status": None})
            _reset(environ)
            return []
        response = self.fault(fault) if fault else self.route(request)
        self.log.append({"path": request.path, "status": response.status_code, "args": dict(request.args)})
        return response(environ, start_response)

    @staticmethod
    def fault(fault: str) -> Response:
        if fault == "502":
            return Response(BAD_GATEWAY, status=502, content_type="text/html")
        return Response("Too Many Requests", status=429, headers={"Retry-After": "1"})

    def route(self, request: Request) -> Response:
        path = request.path
        base = f"/pipermail/{self.list_name}/"
        if path == base:
            return Response(self.index(), content_type="text/html")
        if path.startswith(base) and path.endswith(".txt.gz"):
            return self.month(request, path[len(base) : -len(".txt.gz")])
        if path == f"/hyperkitty/api/list/{self.fqdn}/":
            body = {"name": self.fqdn, "display_name": self.list_name, "created_at": self.created_at}
            return Response(json.dumps(body), content_type="application/json")
        export = f"/hyperkitty/list/{self.fqdn}/export/"
        if path.startswith(export) and path.endswith(".mbox.gz"):
            return self.export(request)
        return Response("not found", status=404)

    def index(self) -> str:
        """The Mailman 2 archive index page (newest month first, as Mailman lists them)."""
        rows = []
        for key in sorted(self.pipermail, key=_month_order, reverse=True):
            year, name = key.split("-")
            size = max(1, len(self.pipermail[key].body) // 1024)
            views = "".join(
                f'<A href="{key}/{view}.html">[ {view.capitalize()} ]</a>\n'
                for view in ("thread", "subject", "author", "date")
            )
            rows.append(
                f"<tr>\n<td>{name} {year}:</td>\n<td>{views}</td>\n"
                f'<td><A href="{key}.txt.gz">[ Gzip\'d Text {size} KB ]</a></td>\n</tr>\n'
            )
        return (
            f'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2//EN">\n<HTML><HEAD><title>The {self.list_name} '
            f'Archives</title></HEAD><BODY BGCOLOR="#ffffff">\n<h1>The {self.list_name} Archives</h1>\n'
            "<table border=3>\n<tr><td>Archive</td>\n<td>View by:</td>\n<td>Downloadable version</td></tr>\n"
            + "".join(rows)
            + "</table>\n</BODY></HTML>\n"
        )

    def month(self, request: Request, key: str) -> Response:
        month = self.pipermail.get(key)
        if month is None:
            return Response("not found", status=404)
        headers = {"ETag": month.etag, "Last-Modified": format_datetime(month.modified, usegmt=True)}
        if request.headers.get("If-None-Match") == month.etag:
            return Response(status=304, headers=headers)
        return Response(month.body, content_type="application/x-gzip", headers=headers)

    def export(self, request: Request) -> Response:
        try:
            start = datetime.strptime(request.args["start"], "%Y-%m-%d").replace(tzinfo=UTC)
            end = datetime.strptime(request.args["end"], "%Y-%m-%d").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return Response("Invalid dates", status=400)
        chosen = [raw for date, raw in sorted(self.hyperkitty, key=lambda x: x[0]) if start <= date < end]
        body = gzip.compress(b"".join(chosen), mtime=0)
        return Response(body, content_type="application/gzip")


def _month_order(key: str) -> tuple[int, int]:
    year, name = key.split("-")
    return int(year), MONTHS.index(name)
