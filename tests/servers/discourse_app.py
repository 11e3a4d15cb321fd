"""A Discourse-like forum on 127.0.0.1 replaying the recorded payloads in ../shared/fixtures/discourse.

Real Werkzeug WSGI app (served with :func:`servers.github_app.serve`). Endpoints, as Discourse has them:

- ``GET /latest.json`` (``page``, ``order=created``, ``ascending=true``): topics by last activity
  (``bumped_at``) descending, or as ordered, ``per_page`` a page,
  ``topic_list.more_topics_url`` = ``/latest?no_definitions=true&page=N`` (no ``.json``, as Discourse
  writes it) while more follow, absent on the last page;
- ``GET /categories.json`` and ``GET /c/<slug>/<id>.json`` (the same listing for one category);
- ``GET /t/<id>.json``: the topic with ``post_stream.posts`` (its first ``chunk_size`` posts) and
  ``post_stream.stream`` (every post id);
- ``GET /t/<id>/posts.json?post_ids[]=…``: those posts;
- ``include_raw=1`` on both topic requests adds each post's ``raw`` (markdown) beside ``cooked``, as
  Discourse does (``honour_include_raw=False`` plays a forum that ignores it);
- ``GET /posts/<id>.json``: one post, always with ``raw``.

Faults (queued with :meth:`DiscourseState.plan`, one per request): ``429`` (``Retry-After: 1`` and the
JSON Discourse sends), ``429_no_header`` (only ``extras.wait_seconds``), ``502``, ``reset``.

DATA — what is real and what this server generates itself:

- REAL: every post of discuss.criticalfallibilism.com in the captures (``t_2108_452.json``,
  ``t_2108_posts_post_number_41.json``, ``t_2144_posts.json``, ``posts.json``; one post per id, the
  captures' union of fields), and topic 2108's own fields (title, views, like count, …).
  ``raw`` is held (the 50 posts of ``posts.json`` have it) and, as on Discourse, sent in topic views
  only with ``include_raw``.
- DERIVED: a topic's post stream, ``posts_count``, ``highest_post_number``, ``created_at``,
  ``last_posted_at``/``bumped_at`` and opener from the posts this server holds (the captures hold parts
  of long topics: topic 2108's stream is posts 21–40 and 433–452);
  titles and slugs of topics other than 2108 from the posts' ``topic_title``/``topic_slug``.
- GENERATED (marked ``GENERATED``): ``views`` and ``like_count`` of topics other than 2108, category
  slugs and names, the ``/latest.json`` and ``/categories.json`` documents around the real topic fields
  (no unedited capture of them exists), posts a test adds with :meth:`DiscourseState.add_post`, and the
  ``raw`` of captured posts whose capture has none (topic views without ``include_raw``): their
  ``cooked`` text with the tags removed, by :func:`generated_raw`.
The Mozilla and ManageIQ captures (``*.perceval.json``) come from other forums whose user ids would
collide with these, so they are not served.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape, unescape
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from .github_app import _reset

FAULTS = ("429", "429_no_header", "502", "reset")
TOPIC_FIELDS = (
    "id", "title", "fancy_title", "slug", "posts_count", "reply_count", "highest_post_number", "created_at",
    "last_posted_at", "bumped_at", "views", "like_count", "category_id", "pinned", "visible", "closed",
    "archived", "archetype", "user_id",
)  # fmt: skip


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def generated_raw(cooked: str) -> str:
    """GENERATED: a markdown source for a captured post that has none: its HTML's text, tags removed;
    a post that is only a onebox (no text) gets its first link, as a onebox's source is its URL."""
    text = unescape(re.sub(r"<[^>]+>", "", cooked)).strip()
    if text:
        return text
    link = re.search(r'href="([^"]+)"', cooked)
    return unescape(link.group(1)) if link else ""


def load_posts(fixtures: Path) -> list[dict[str, Any]]:
    """REAL: every captured post of the forum, one per id (fields of all captures of it merged)."""
    folder = fixtures / "discourse"
    found: dict[int, dict[str, Any]] = {}
    sources = [
        json.loads((folder / "t_2108_452.json").read_text())["post_stream"]["posts"],
        json.loads((folder / "t_2108_posts_post_number_41.json").read_text())["post_stream"]["posts"],
        json.loads((folder / "t_2144_posts.json").read_text())["post_stream"]["posts"],
        json.loads((folder / "posts.json").read_text())["latest_posts"],
    ]
    for posts in sources:
        for post in posts:
            found[post["id"]] = {**found.get(post["id"], {}), **copy.deepcopy(post)}
    for post in found.values():
        if "raw" not in post:
            post["raw"] = generated_raw(post.get("cooked") or "")  # GENERATED
            post["raw_generated"] = True
    return sorted(found.values(), key=lambda p: (p["topic_id"], p["post_number"]))


@dataclass
class DiscourseState:
    """The forum, its faults, an optional required API key, and the log of requests."""

    posts: list[dict[str, Any]]
    topics: dict[int, dict[str, Any]]
    api_key: str | None = None
    api_username: str | None = None
    per_page: int = 30  # Discourse's; tests lower it to make more pages
    chunk_size: int = 20
    honour_include_raw: bool = True  # False: a forum that ignores include_raw (the client falls back)
    log: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[str | None] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_fixtures(cls, fixtures: Path, **options: Any) -> DiscourseState:
        posts = load_posts(fixtures)
        real = json.loads((fixtures / "discourse" / "t_2108_452.json").read_text())
        topics: dict[int, dict[str, Any]] = {}
        for post in posts:
            topic = topics.setdefault(
                post["topic_id"],
                {
                    "id": post["topic_id"],
                    "title": post.get("topic_title") or post["topic_slug"].replace("-", " "),  # DERIVED
                    "slug": post["topic_slug"],
                    "views": 10 * post["topic_id"] % 997 + 50,  # GENERATED
                    "like_count": 0,  # GENERATED
                    "category_id": post.get("category_id", 5),
                    "pinned": False,
                    "visible": True,
                    "closed": False,
                    "archived": False,
                    "archetype": "regular",
                },
            )
            if "topic_title" in post:
                topic["title"] = post["topic_title"]
        topics[2108].update(
            {key: real[key] for key in ("title", "slug", "views", "like_count", "category_id")}
        )
        state = cls(posts=posts, topics=topics, **options)
        for topic_id in topics:
            state._derive(topic_id)
        return state

    def _derive(self, topic_id: int) -> None:
        """DERIVED topic fields from the posts held."""
        topic = self.topics[topic_id]
        posts = self.topic_posts(topic_id)
        topic["fancy_title"] = topic["title"]
        topic["posts_count"] = len(posts)
        topic["reply_count"] = sum(1 for p in posts if p.get("reply_to_post_number"))
        topic["highest_post_number"] = max(p["post_number"] for p in posts)
        topic["created_at"] = posts[0]["created_at"]
        topic["user_id"] = posts[0]["user_id"]
        topic["last_posted_at"] = max((p["created_at"] for p in posts), key=parse_time)
        topic["bumped_at"] = topic["last_posted_at"]

    def topic_posts(self, topic_id: int) -> list[dict[str, Any]]:
        return sorted((p for p in self.posts if p["topic_id"] == topic_id), key=lambda p: p["post_number"])

    # -- the test's hands ------------------------------------------------------------------------

    def plan(self, faults: list[str | None]) -> None:
        unknown = {f for f in faults if f is not None} - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}")
        with self.lock:
            self.faults.extend(faults)

    def add_post(self, topic_id: int, post_id: int, like: dict[str, Any], text: str) -> dict[str, Any]:
        """GENERATED: a new post now in a topic (a new topic when ``topic_id`` is unknown), by ``like``'s
        author; the topic is bumped as Discourse does."""
        with self.lock:
            stamp = now_iso()
            existing = self.topic_posts(topic_id)
            post = copy.deepcopy(like)
            post.update(
                {
                    "id": post_id,
                    "topic_id": topic_id,
                    "post_number": (existing[-1]["post_number"] + 1) if existing else 1,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "raw": text,
                    "cooked": f"<p>{text}</p>",
                    "reply_to_post_number": None,
                    "reply_count": 0,
                    "reads": 1,
                }
            )
            if topic_id not in self.topics:
                self.topics[topic_id] = {
                    **{k: v for k, v in self.topics[like["topic_id"]].items()},
                    "id": topic_id,
                    "title": f"GENERATED topic {topic_id}",
                    "slug": f"generated-topic-{topic_id}",
                }
            post["topic_slug"] = self.topics[topic_id]["slug"]
            self.posts.append(post)
            self._derive(topic_id)
            return post

    def post(self, post_id: int) -> dict[str, Any]:
        return next(p for p in self.posts if p["id"] == post_id)

    def edit_post(self, post_id: int, raw: str) -> None:
        """Its author edits a post now: the markdown (``raw``), GENERATED ``cooked`` (escaped
        paragraphs) and ``updated_at`` change; the topic is not bumped (Discourse bumps on new posts)."""
        with self.lock:
            post = self.post(post_id)
            paragraphs = [part for part in raw.split("\n\n") if part.strip()]
            post.update(
                {
                    "raw": raw,
                    "cooked": "".join(f"<p>{escape(part)}</p>" for part in paragraphs),
                    "updated_at": now_iso(),
                }
            )

    def rebake_post(self, post_id: int, cooked: str) -> None:
        """The site re-renders a post (Discourse's "rebake"): new ``cooked`` HTML, the same ``raw``,
        ``updated_at`` untouched (a rebake writes the HTML columns only)."""
        with self.lock:
            self.post(post_id)["cooked"] = cooked

    def delete_post(self, post_id: int) -> None:
        """A post removed (as a staff deletion hides it): gone from its topic's stream; the topic's
        DERIVED fields follow."""
        with self.lock:
            post = self.post(post_id)
            self.posts.remove(post)
            self._derive(post["topic_id"])

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.log.append(
                {
                    "method": request.method,
                    "url": request.url,
                    "api_key": request.headers.get("Api-Key"),
                    "api_username": request.headers.get("Api-Username"),
                }
            )
            fault = self.faults.popleft() if self.faults else None
        if fault == "reset":
            _reset(environ)
            return Response(b"", status=500)(environ, start_response)
        if fault is not None:
            return self._fault(fault)(environ, start_response)
        if self.api_key is not None and (
            request.headers.get("Api-Key") != self.api_key
            or request.headers.get("Api-Username") != self.api_username
        ):
            return _json(
                {
                    "errors": ["You are not permitted to view the requested resource."],
                    "error_type": "invalid_access",
                },
                403,
            )(environ, start_response)
        with self.lock:
            try:
                response = self._route(request)
            except (KeyError, ValueError, StopIteration) as error:
                response = _json(
                    {
                        "errors": [f"The requested URL or resource could not be found. ({error})"],
                        "error_type": "not_found",
                    },
                    404,
                )
        return response(environ, start_response)

    def _fault(self, fault: str) -> Response:
        if fault.startswith("429"):
            body = {
                "errors": [
                    "You’ve performed this action too many times. Please wait 1 second before trying again."
                ],
                "error_type": "rate_limit",
                "extras": {"wait_seconds": 1, "time_left": "1 second"},
            }
            headers = {"Discourse-Rate-Limit-Error-Code": "ip_10_secs_limit"}
            if fault == "429":
                headers["Retry-After"] = "1"
            return _json(body, 429, headers)
        return Response(
            "<html><body><h1>502 Bad Gateway</h1></body></html>", status=502, content_type="text/html"
        )

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["latest.json"]:
            return self._listing(list(self.topics.values()), "/latest", request)
        if parts == ["categories.json"]:
            ids = sorted({t["category_id"] for t in self.topics.values()})
            categories = [
                {
                    "id": i,
                    "name": f"Category {i}",
                    "slug": f"category-{i}",
                    "topic_count": sum(1 for t in self.topics.values() if t["category_id"] == i),
                }
                for i in ids
            ]  # GENERATED
            return _json({"category_list": {"categories": categories}})
        if len(parts) == 3 and parts[0] == "c" and parts[2].endswith(".json"):
            category = int(parts[2][: -len(".json")])
            if parts[1] != f"category-{category}":
                raise KeyError(parts[1])
            topics = [t for t in self.topics.values() if t["category_id"] == category]
            return self._listing(topics, f"/c/{parts[1]}/{category}", request)
        if len(parts) == 2 and parts[0] == "t" and parts[1].endswith(".json"):
            topic = self.topics[int(parts[1][: -len(".json")])]
            posts = self.topic_posts(topic["id"])
            body = {key: topic[key] for key in TOPIC_FIELDS}
            body["chunk_size"] = self.chunk_size
            raw = self._raw(request)
            body["post_stream"] = {
                "posts": [_public(p, raw) for p in posts[: self.chunk_size]],
                "stream": [p["id"] for p in posts],
            }
            body["details"] = {"created_by": {"id": posts[0]["user_id"], "username": posts[0]["username"]}}
            return _json(body)
        if len(parts) == 3 and parts[0] == "t" and parts[2] == "posts.json":
            topic_id = int(parts[1])
            wanted = {int(v) for v in request.args.getlist("post_ids[]")}
            raw = self._raw(request)
            posts = [_public(p, raw) for p in self.topic_posts(topic_id) if p["id"] in wanted]
            return _json({"post_stream": {"posts": posts}, "id": topic_id})
        if len(parts) == 2 and parts[0] == "posts" and parts[1].endswith(".json"):
            post_id = int(parts[1][: -len(".json")])
            return _json(_public(next(p for p in self.posts if p["id"] == post_id), raw=True))
        raise KeyError(request.path)

    def _raw(self, request: Request) -> bool:
        """Discourse adds ``raw`` whenever ``include_raw`` is present (``!!params[:include_raw]``)."""
        return self.honour_include_raw and request.args.get("include_raw") is not None

    def _listing(self, topics: list[dict[str, Any]], path: str, request: Request) -> Response:
        # Discourse's ``order`` (activity = bumped_at, created = created_at) and ``ascending`` filters
        key = "created_at" if request.args.get("order") == "created" else "bumped_at"
        ascending = request.args.get("ascending") == "true"
        ordered = sorted(topics, key=lambda t: (parse_time(t[key]), t["id"]), reverse=not ascending)
        page = int(request.args.get("page", 0))
        chunk = ordered[page * self.per_page : (page + 1) * self.per_page]
        listing: dict[str, Any] = {
            "can_create_topic": False,
            "per_page": self.per_page,
            "topics": [{key: t[key] for key in TOPIC_FIELDS} for t in chunk],
        }
        if (page + 1) * self.per_page < len(ordered):
            kept = "".join(f"&{k}={request.args[k]}" for k in ("order", "ascending") if k in request.args)
            listing["more_topics_url"] = f"{path}?no_definitions=true{kept}&page={page + 1}"
        users = {p["user_id"]: p for t in chunk for p in self.topic_posts(t["id"])}
        return _json(
            {
                "users": [
                    {"id": i, "username": p["username"], "name": p.get("name")}
                    for i, p in sorted(users.items())
                ],
                "topic_list": listing,
            }
        )


def _public(post: dict[str, Any], raw: bool = False) -> dict[str, Any]:
    """A post as a topic view shows it: without the /posts.json-only topic fields, ``raw`` only when
    asked for."""
    hidden = ("topic_title", "topic_html_title", "excerpt", "truncated", "category_id", "raw_generated")
    return {k: v for k, v in post.items() if k not in hidden and (raw or k != "raw")}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers or {}, content_type="application/json; charset=utf-8"
    )
