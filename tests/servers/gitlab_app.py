"""A GitLab-like REST v4 API on 127.0.0.1, serving a generated project (real Werkzeug WSGI app).

Served with :func:`tests.servers.github_app.serve` (a thread, an ephemeral port). What it answers, in
GitLab's documented JSON formats and headers (docs.gitlab.com/api: projects, issues, merge requests,
notes, REST pagination, rate limits):

- ``GET /api/v4/projects/<id or URL-encoded path>``: the project (``id``, ``path_with_namespace``,
  ``web_url``, ``visibility``); an unencoded path (``/projects/group/name``) is a 404, as on GitLab;
- ``GET /api/v4/projects/:id/issues`` and ``/merge_requests`` (``scope``, ``state``, ``order_by``
  ``created_at``/``updated_at``, ``sort`` ``asc``/``desc`` (default ``desc``), ``updated_after``,
  ``per_page`` (default 20, at most ``max_per_page``), ``page``);
- ``GET /api/v4/projects/:id/issues/:iid/notes`` and ``/merge_requests/:iid/notes`` (``sort``,
  ``order_by``), system notes included (``system: true``), as GitLab lists them.

Every listing carries offset-pagination headers (``X-Page``, ``X-Per-Page``, ``X-Next-Page`` (empty on
the last page), ``X-Prev-Page``, ``X-Total``, ``X-Total-Pages``, ``Link`` with ``next``/``prev``/
``first``/``last``); every answer ``RateLimit-Limit``/``-Observed``/``-Remaining``/``-Reset``/
``-ResetTime``. A private project needs the ``PRIVATE-TOKEN`` header (401 without it or with another
token). Faults are queued with :meth:`GitLabState.plan`; each request takes the next one.

DATA — all GENERATED (deterministic, no randomness): users (three people, one with a full name shared
with a GitHub account, a ``project_<id>_bot_…`` access-token bot, and a user whose object says
``bot: true``), 7 issues and 5 merge requests whose ids overlap (GitLab keeps them in separate tables),
each with user notes (one edited: ``updated_at`` after ``created_at``), system notes and bot notes;
one issue and one merge request without any user note (``user_notes_count`` 0, system notes only).
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlencode

from werkzeug.wrappers import Request, Response

from tests.servers.github_app import _reset

PROJECT_PATH = "research/impact/tools"
PROJECT_ID = 4242
FAULTS = (
    "502",  # an HTML "bad gateway" page
    "429",  # 429 with Retry-After: 1
    "429_reset",  # 429 without Retry-After, RateLimit-Reset one second ahead
    "spent",  # a good answer with RateLimit-Remaining: 0 (the next request must wait for the reset)
    "reset",  # the connection is closed with a TCP reset
    "redirect",  # 302 to ``redirect_to`` (another origin)
    "empty_object",  # 200 with ``{}`` instead of a list
)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WORDS = [
    "impact",
    "report",
    "counts",
    "words",
    "in",
    "discussions",
    "about",
    "data",
    "sharing",
    "x",
    "<",
    "y",
    "&",
    "z",
    "reproducible",
    "pipelines",
    "citation",
    "metrics",
    "community",
    "review",
    "open",
    "science",
]


def stamp(moment: datetime) -> str:
    """GitLab's timestamp spelling: ``2026-01-05T09:00:00.000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def text(seed: int, words: int) -> str:
    """GENERATED body text: ``words`` words from a fixed list, a paragraph break every 9 words."""
    chosen = [WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(words)]
    paragraphs = [" ".join(chosen[i : i + 9]) for i in range(0, len(chosen), 9)]
    return "\n\n".join(paragraphs)


@dataclass
class User:
    id: int
    username: str
    name: str
    bot: bool = False  # a bot by the server's own knowledge (whatever its object shows)
    says_bot: bool = False  # its object carries ``bot: true``

    def as_json(self, base: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "state": "active",
            "locked": False,
            "avatar_url": f"{base}/uploads/-/system/user/avatar/{self.id}/avatar.png",
            "web_url": f"{base}/{self.username}",
        }
        if self.says_bot:
            body["bot"] = True
        return body


USERS = {
    "alice": User(11, "alice", "Alice Example"),
    "bob": User(12, "bob", "Bob Builder"),
    "carol": User(13, "Carol", "Carol Chen"),
    "token_bot": User(90, f"project_{PROJECT_ID}_bot_5f2a9c1e", "tools access bot", bot=True),
    "renovate": User(91, "renovate-runner", "Renovate", bot=True, says_bot=True),
}
PEOPLE = ("alice", "bob", "carol")


@dataclass
class GitLabState:
    """Everything the server holds and does: data, faults, limits, and the log of what it was asked."""

    private: bool = True
    token: str | None = "glpat-test-token"
    max_per_page: int = 100
    redirect_to: str = ""
    next_page_header: bool = True  # False: pages only by the Link header (as some proxies leave it)
    items: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)  # kind → iid → item
    notes: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[str | None] = field(default_factory=deque)
    lock: threading.RLock = field(default_factory=threading.RLock)
    base: str = "https://gitlab.example.org"  # what web_url values point at
    next_note_id: int = 5000

    def __post_init__(self) -> None:
        if not self.items:
            self.generate()

    # -- GENERATED data --------------------------------------------------------------------------

    def generate(self) -> None:
        """7 issues and 5 merge requests (ids 101…: overlapping), their notes; deterministic."""
        self.items = {"issue": {}, "merge_request": {}}
        for kind, count in (("issue", 7), ("merge_request", 5)):
            for iid in range(1, count + 1):
                created = START + timedelta(days=iid * 3 + (0 if kind == "issue" else 1))
                author = USERS[PEOPLE[(iid + (kind == "merge_request")) % 3]]
                item = {
                    "id": 100 + iid,
                    "iid": iid,
                    "project_id": PROJECT_ID,
                    "title": f"{kind.replace('_', ' ')} {iid}: improve the report",
                    "description": ""
                    if iid == 4
                    else text(iid * (2 if kind == "issue" else 5), 12 + iid * 5),
                    "state": "opened" if iid % 2 else ("closed" if kind == "issue" else "merged"),
                    "created_at": stamp(created),
                    "updated_at": stamp(created),
                    "author": author,
                    "user_notes_count": 0,
                    "web_url": f"{self.base}/{PROJECT_PATH}/-/{kind}s/{iid}",
                }
                if kind == "merge_request":
                    item.update({"source_branch": f"feature-{iid}", "target_branch": "main"})
                self.items[kind][iid] = item
                self.notes[(kind, iid)] = []
                silent = iid == 3  # system notes only
                moment = created
                for n in range(0 if silent else 1 + (iid * 2 + len(kind)) % 5):
                    moment += timedelta(hours=5 + n)
                    who = USERS[PEOPLE[(iid + n + 1) % 3]]
                    self._note(kind, iid, who, text(iid * 11 + n, 4 + (n * 5 + iid) % 17), moment)
                moment += timedelta(hours=1)
                self._note(kind, iid, author, "changed the description", moment, system=True)
                moment += timedelta(minutes=3)
                self._note(kind, iid, author, "added ~123 label", moment, system=True)
                if iid % 3 == 1 and not silent:
                    moment += timedelta(hours=2)
                    bot = USERS["token_bot" if kind == "issue" else "renovate"]
                    self._note(kind, iid, bot, text(iid * 13, 20), moment)
        first = self.notes[("issue", 1)][0]  # GENERATED: an edited note
        first["body"] += "\n\nEdited to add a final remark about citation"
        first["updated_at"] = stamp(parse_time(first["created_at"]) + timedelta(days=1))

    def _note(
        self, kind: str, iid: int, who: User, body: str, moment: datetime, *, system: bool = False
    ) -> dict[str, Any]:
        item = self.items[kind][iid]
        self.next_note_id += 1
        note = {
            "id": self.next_note_id,
            "type": None,
            "body": body,
            "attachment": None,
            "author": who,
            "created_at": stamp(moment),
            "updated_at": stamp(moment),
            "system": system,
            "noteable_id": item["id"],
            "noteable_type": "Issue" if kind == "issue" else "MergeRequest",
            "noteable_iid": iid,
            "project_id": PROJECT_ID,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        self.notes[(kind, iid)].append(note)
        if not system:
            item["user_notes_count"] += 1
        item["updated_at"] = max(item["updated_at"], note["updated_at"])
        return note

    # -- the test's hands on the data ------------------------------------------------------------

    def plan(self, faults: list[str | None]) -> None:
        """Queue faults for the next requests (``None`` = answer normally)."""
        unknown = {f for f in faults if f is not None} - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}")
        with self.lock:
            self.faults.extend(faults)

    def add_note(self, kind: str, iid: int, who: str, body: str) -> None:
        """A new user note now (GitLab touches its issue or merge request: ``updated_at``)."""
        with self.lock:
            self._note(kind, iid, USERS[who], body, datetime.now(UTC))

    def edit_note(self, kind: str, iid: int, index: int, body: str) -> None:
        with self.lock:
            note = [n for n in self.notes[(kind, iid)] if not n["system"]][index]
            note["body"] = body
            note["updated_at"] = self.items[kind][iid]["updated_at"] = stamp(datetime.now(UTC))

    def delete_note(self, kind: str, iid: int, index: int) -> None:
        with self.lock:
            note = [n for n in self.notes[(kind, iid)] if not n["system"]][index]
            self.notes[(kind, iid)].remove(note)
            self.items[kind][iid]["user_notes_count"] -= 1
            self.items[kind][iid]["updated_at"] = stamp(datetime.now(UTC))

    def snapshot(
        self,
    ) -> tuple[dict[str, dict[int, dict[str, Any]]], dict[tuple[str, int], list[dict[str, Any]]]]:
        """A deep copy of the data (items, notes), users as objects: for a test's own counting."""
        with self.lock:
            return copy.deepcopy(self.items), copy.deepcopy(self.notes)

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or request.full_path
        with self.lock:
            self.log.append(
                {"method": request.method, "url": raw, "token": request.headers.get("PRIVATE-TOKEN")}
            )
            fault = self.faults.popleft() if self.faults else None
        if fault == "reset":
            _reset(environ)
            return Response(b"", status=500)(environ, start_response)
        if fault == "redirect":
            response = Response("", status=302, headers={"Location": f"{self.redirect_to}{raw}"})
            return response(environ, start_response)
        given = request.headers.get("PRIVATE-TOKEN")
        if (given is not None and given != self.token) or (self.private and given is None):
            return self._json({"message": "401 Unauthorized"}, 401)(environ, start_response)
        if fault == "502":
            page = "<html><head><title>502 Bad Gateway</title></head><body><h1>bad gateway</h1></body></html>"
            return Response(page, status=502, content_type="text/html")(environ, start_response)
        if fault in ("429", "429_reset"):
            headers = self._limits(remaining=0)
            if fault == "429":
                headers["Retry-After"] = "1"
            body = {"message": "Retry later"}
            return self._json(body, 429, headers)(environ, start_response)
        try:
            response = self._route(request, raw.split("?", 1)[0], fault)
        except (KeyError, ValueError) as error:
            response = self._json({"message": f"404 Not Found ({error})"}, 404)
        return response(environ, start_response)

    def _limits(self, remaining: int = 1990) -> dict[str, str]:
        reset = int(time.time()) + 1
        return {
            "RateLimit-Limit": "2000",
            "RateLimit-Observed": str(2000 - remaining),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        }

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(body), status=status, headers=headers or {}, content_type="application/json"
        )

    def _project(self) -> dict[str, Any]:
        return {
            "id": PROJECT_ID,
            "name": PROJECT_PATH.rsplit("/", 1)[1],
            "path": PROJECT_PATH.rsplit("/", 1)[1],
            "path_with_namespace": PROJECT_PATH,
            "visibility": "private" if self.private else "public",
            "web_url": f"{self.base}/{PROJECT_PATH}",
        }

    def _route(self, request: Request, path: str, fault: str | None) -> Response:
        parts = path.strip("/").split("/")
        if parts[:3] != ["api", "v4", "projects"] or len(parts) < 4:
            raise KeyError(path)
        key = unquote(parts[3])
        if key != str(PROJECT_ID) and key.lower() != PROJECT_PATH.lower():
            raise KeyError(key)  # an unencoded path has more segments and never gets here whole
        rest = parts[4:]
        headers = self._limits(0 if fault == "spent" else 1990)
        if not rest:
            return self._json(self._project(), headers=headers)
        if fault == "empty_object":
            return self._json({}, headers=headers)
        with self.lock:
            if len(rest) == 1 and rest[0] in ("issues", "merge_requests"):
                listed = self._items(rest[0][:-1], request)
            elif len(rest) == 3 and rest[0] in ("issues", "merge_requests") and rest[2] == "notes":
                kind, iid = rest[0][:-1], int(rest[1])
                if iid not in self.items[kind]:
                    raise KeyError(iid)
                listed = self._sorted(self.notes[(kind, iid)], request, "created_at")
            else:
                raise KeyError(path)
            return self._page(listed, request, headers)

    def _items(self, kind: str, request: Request) -> list[dict[str, Any]]:
        state = request.args.get("state", "all")
        items = [i for i in self.items[kind].values() if state == "all" or i["state"] == state]
        after = request.args.get("updated_after")
        if after:
            moment = parse_time(after)
            items = [i for i in items if parse_time(i["updated_at"]) >= moment]
        return self._sorted(items, request, "created_at")

    def _sorted(self, items: list[dict[str, Any]], request: Request, default: str) -> list[dict[str, Any]]:
        key = request.args.get("order_by", default)
        if key not in ("created_at", "updated_at"):
            raise ValueError(f"order_by {key}")
        descending = request.args.get("sort", "desc") == "desc"
        return sorted(items, key=lambda i: (i[key], i.get("id", 0)), reverse=descending)

    def _page(self, items: list[dict[str, Any]], request: Request, headers: dict[str, str]) -> Response:
        per_page = max(1, min(int(request.args.get("per_page", 20)), self.max_per_page))
        page = max(1, int(request.args.get("page", 1)))
        pages = max(1, math.ceil(len(items) / per_page))
        chunk = [self._public(item) for item in items[(page - 1) * per_page : page * per_page]]
        query = {k: v for k, v in request.args.items() if k != "page"}
        base = f"{request.host_url.rstrip('/')}{request.path}"

        def link(number: int) -> str:
            return f"{base}?{urlencode({**query, 'page': number})}"

        links = []
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        if page < pages:
            links.append(f'<{link(page + 1)}>; rel="next"')
        links += [f'<{link(1)}>; rel="first"', f'<{link(pages)}>; rel="last"']
        headers = {
            **headers,
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Total": str(len(items)),
            "X-Total-Pages": str(pages),
            "Link": ", ".join(links),
        }
        if not self.next_page_header:
            del headers["X-Next-Page"]
        return self._json(chunk, headers=headers)

    def _public(self, item: dict[str, Any]) -> dict[str, Any]:
        """An item or note as JSON: its author as a user object."""
        return {**item, "author": item["author"].as_json(self.base)}
