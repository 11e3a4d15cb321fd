"""A GitHub-like API on 127.0.0.1 replaying the recorded payloads in ../shared/fixtures/github.

Real Werkzeug WSGI app, served by ``make_server`` in a thread on an ephemeral port (:func:`serve`).

What it serves (REST v3 and GraphQL v4 as the captures show them):

- ``GET /repos/{owner}/{repo}`` and ``/repositories/{id}``;
- ``GET /repos/{owner}/{repo}/issues`` (``state``, ``since``, ``sort``, ``direction``, ``per_page``,
  ``page``): page 1 at that path, every further page at ``/repositories/{id}/issues?…&page=N`` through a
  real ``Link`` header (``next``, ``last``, ``first``, ``prev``), exactly like the captured pages;
- ``GET …/issues/comments`` (repository-wide, ``since``) and ``GET …/issues/{number}/comments``;
- ``GET …/pulls/comments`` (review comments, repository-wide: ``sort``, ``direction``, ``since``; by id
  without ``sort``), ``GET …/pulls/{number}/comments`` and ``GET …/pulls/{number}/reviews`` (in
  chronological order); a number that is not a pull request is a 404, as on GitHub;
- ``POST /graphql``: the three queries the client sends, told apart by ``operationName``
  (``Discussions``: a repository's discussions in ``orderBy`` order (created or updated) with their first
  comments and replies; ``DiscussionComments``: a further page of one discussion's comments by
  ``node(id)``; ``CommentReplies``: a further page of one comment's replies). Pages by cursor with
  ``pageInfo.endCursor``/``hasNextPage``. This is a replay server, not a GraphQL engine: the query text
  is not parsed.

Every answer carries ``x-ratelimit-*`` headers. Faults are queued per channel (``rest``/``graphql``)
with :meth:`GitHubState.plan`: each request takes the next entry (``None`` = answer normally).

DATA — what is real and what this server generates itself:

- REAL: the 30 issues of PyGithub/PyGithub page 1 (``issues-list-page1.pygithub.json``), the 7
  comments of PyGithub issue 1136 (``issue-comments-paginated.pygithub.json``), the 65 discussions with
  their comments and replies (``discussions-graphql.pygithub.json``; the body of discussion 2993 from
  ``discussion-node-graphql.pygithub.json``), the 13 issues of the octokit fixture repository.
- DERIVED (a real value recomputed): ``databaseId`` of discussions, comments and replies is decoded from
  their real node ids; an issue's ``comments`` count is the number of its comments this server holds
  (the captures hold none of the other PyGithub issues' comments, so those counts become 0).
- GENERATED (marked ``GENERATED`` in the code): every pull-request review and review comment (the
  recorded payloads hold none; :func:`generate_reviews`: per pull request a review by a human
  reviewer with two line comments and a reply by the pull request's author, its body empty on every
  other pull request; on every third an approval without a body and a ``copilot-pull-request-reviewer[bot]``
  review with a body and one line comment; times between the pull request's real ``created_at`` and
  ``updated_at``), PyGithub issue 1136 itself (the captures have its
  comments, not the issue; its opener is its first human commenter), discussion/comment/reply bodies other than the one real body, ``updatedAt``
  of discussions (the newest of its own and its comments' and replies' ``createdAt``), ``databaseId`` of
  GraphQL authors whose login has no REST user id in the captures, ``body_html`` of REST items (asked
  for with ``application/vnd.github.full+json``; escaped body text).
"""

from __future__ import annotations

import base64
import copy
import html
import json
import logging
import math
import os
import socket
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

PYGITHUB = ("PyGithub", "PyGithub")
OCTOKIT = ("octokit-fixture-org", "tmp-scenario-paginate-issues-20220719043836917-izyoe")
FAULTS = (
    "primary",  # 403, x-ratelimit-remaining: 0, reset one second ahead
    "primary429",  # the same as 429
    "secondary",  # 403 with retry-after: 1
    "secondary429",  # 429 with retry-after: 1
    "secondary_no_header",  # 403, secondary-limit message, no retry-after (client waits its minimum)
    "rate_limited",  # GraphQL: HTTP 200 with errors [{type: RATE_LIMITED}]
    "502",
    "500",
    "reset",  # the connection is closed with a TCP reset, no answer
)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _exchanges(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["exchanges"]


def database_id(node_id: str) -> int:
    """DERIVED: the database id inside a GitHub node id (new msgpack ids and legacy base64 ids)."""
    if node_id.startswith("MD") or "_" not in node_id:  # legacy: base64("017:DiscussionComment1093650")
        text = base64.b64decode(node_id + "=" * (-len(node_id) % 4)).decode()
        digits = ""
        for char in reversed(text):
            if not char.isdigit():
                break
            digits = char + digits
        return int(digits)
    packed = node_id.split("_", 1)[1]
    raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
    # msgpack [0, repository id, database id]: the last element is a uint32 (0xce) or uint64 (0xcf)
    if raw[-5] == 0xCE:
        return struct.unpack(">I", raw[-4:])[0]
    return struct.unpack(">Q", raw[-8:])[0]


def generated_user_id(login: str) -> int:
    """GENERATED: a stable user id for a login the captures give no REST id for (high range)."""
    return 900_000_000 + zlib.crc32(login.encode()) % 90_000_000


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> issue
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # number -> comments
    discussions: list[dict[str, Any]] = field(default_factory=list)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # number -> them
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # number -> reviews


def _user_ids(issues: list[dict[str, Any]], comments: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
    users = {}
    for item in [*issues, *comments]:
        users[item["user"]["login"]] = (item["user"]["id"], item["user"]["type"])
    return users


def load_pygithub(fixtures: Path) -> Repo:
    """PyGithub/PyGithub: real issues, issue 1136's real comments, real discussions (see module doc)."""
    github = fixtures / "github"
    issues = _exchanges(github / "issues-list-page1.pygithub.json")[0]["response"]["body"]
    comment_pages = _exchanges(github / "issue-comments-paginated.pygithub.json")
    comments_1136 = [c for page in comment_pages for c in page["response"]["body"]]
    repo = Repo(*PYGITHUB, id=3544490)
    for issue in issues:
        repo.issues[issue["number"]] = copy.deepcopy(issue)
    # GENERATED: issue 1136 (its 7 comments are real; the captures do not hold the issue itself)
    template = copy.deepcopy(next(i for i in issues if "pull_request" not in i))
    first = next(c for c in comments_1136 if c["user"]["type"] != "Bot")  # its opener: a person
    base = "https://api.github.com/repos/PyGithub/PyGithub/issues/1136"
    template.update(
        {
            "id": 479_393_001,  # GENERATED
            "node_id": "I_GENERATED_1136",
            "number": 1136,
            "title": "Issue 1136 (generated by the test server; its comments are real)",
            "body": "GENERATED opening post of issue 1136.",
            "user": copy.deepcopy(first["user"]),
            "created_at": "2019-05-14T10:00:00Z",
            "updated_at": max(c["updated_at"] for c in comments_1136),
            "closed_at": None,
            "state": "open",
            "url": base,
            "html_url": "https://github.com/PyGithub/PyGithub/issues/1136",
            "comments_url": base + "/comments",
        }
    )
    repo.issues[1136] = template
    repo.comments[1136] = copy.deepcopy(comments_1136)
    for number, issue in repo.issues.items():
        issue["comments"] = len(repo.comments.get(number, []))  # DERIVED: what this server holds
    users = _user_ids(list(repo.issues.values()), comments_1136)
    generate_reviews(repo, reviewer=first["user"])
    real_body = _exchanges(github / "discussion-node-graphql.pygithub.json")[0]["response"]["body"]["data"][
        "node"
    ]
    pages = _exchanges(github / "discussions-graphql.pygithub.json")
    for page in pages:
        for node in page["response"]["body"]["data"]["repository"]["discussions"]["nodes"]:
            repo.discussions.append(_discussion(node, users, real_body))
    return repo


REVIEW_BOT = {"login": "copilot-pull-request-reviewer[bot]", "type": "Bot"}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _review(
    repo: Repo, pull: dict[str, Any], review_id: int, user: dict[str, Any], state: str, body: str, when: str
) -> dict[str, Any]:
    """GENERATED: a submitted review in the REST shape."""
    html_url = f"{pull['html_url'].replace('/issues/', '/pull/')}#pullrequestreview-{review_id}"
    return {
        "id": review_id,
        "node_id": f"PRR_GENERATED_{review_id}",
        "user": copy.deepcopy(user),
        "body": body,
        "state": state,
        "html_url": html_url,
        "pull_request_url": pull["pull_request"]["url"],
        "author_association": "NONE",
        "submitted_at": when,
        "commit_id": "0" * 40,
    }


def _review_comment(
    pull: dict[str, Any],
    comment_id: int,
    review_id: int,
    user: dict[str, Any],
    body: str,
    when: str,
    in_reply_to: int | None = None,
) -> dict[str, Any]:
    """GENERATED: a review comment on a diff line in the REST shape (``in_reply_to_id`` on replies)."""
    comment = {
        "id": comment_id,
        "node_id": f"PRRC_GENERATED_{comment_id}",
        "pull_request_review_id": review_id,
        "diff_hunk": "@@ -1,3 +1,4 @@",
        "path": "github/MainClass.py",
        "position": 2,
        "line": 2,
        "side": "RIGHT",
        "commit_id": "0" * 40,
        "user": copy.deepcopy(user),
        "body": body,
        "created_at": when,
        "updated_at": when,
        "html_url": f"{pull['html_url'].replace('/issues/', '/pull/')}#discussion_r{comment_id}",
        "pull_request_url": pull["pull_request"]["url"],
        "author_association": "NONE",
    }
    if in_reply_to is not None:
        comment["in_reply_to_id"] = in_reply_to
    return comment


def generate_reviews(repo: Repo, reviewer: dict[str, Any]) -> None:
    """GENERATED: reviews and review comments on every pull request (see the module docstring).

    Ids: reviews 2_100_000_000 + 10·k + j, review comments 1_700_000_000 + 10·k + j (k-th pull request
    by number), far from the real ids of the other tables (the mapping's bands would keep them apart
    anyway).
    """
    bot = {
        **REVIEW_BOT,
        "id": generated_user_id(REVIEW_BOT["login"]),
        "html_url": f"https://github.com/apps/{REVIEW_BOT['login'][:-5]}",
    }
    pulls = sorted((i for i in repo.issues.values() if "pull_request" in i), key=lambda i: i["number"])
    for k, pull in enumerate(pulls):
        start, end = parse_time(pull["created_at"]), parse_time(pull["updated_at"])

        def at(step: int, start: datetime = start, end: datetime = end) -> str:
            return _stamp(start + (end - start) * step / 8)  # within the pull request's real span

        number = pull["number"]
        review_ids = [2_100_000_000 + 10 * k + j for j in range(3)]
        comment_ids = [1_700_000_000 + 10 * k + j for j in range(4)]
        said = f"GENERATED review of #{number}: looks close, see the line comments." if k % 2 == 0 else ""
        reviews = [_review(repo, pull, review_ids[0], reviewer, "COMMENTED", said, at(1))]
        comments = [
            _review_comment(
                pull,
                comment_ids[0],
                review_ids[0],
                reviewer,
                f"GENERATED line comment 1 on #{number}: rename `x`?",
                at(1),
            ),
            _review_comment(
                pull,
                comment_ids[1],
                review_ids[0],
                reviewer,
                f"GENERATED line comment 2 on #{number}:\n\n```python\nassert x\n```",
                at(1),
            ),
            _review_comment(
                pull,
                comment_ids[2],
                review_ids[1],
                pull["user"],
                f"GENERATED reply on #{number}: done.",
                at(2),
                in_reply_to=comment_ids[0],
            ),
        ]
        reviews.append(_review(repo, pull, review_ids[1], pull["user"], "COMMENTED", "", at(2)))
        if k % 3 == 0:
            reviews.append(
                _review(
                    repo,
                    pull,
                    review_ids[2],
                    bot,
                    "COMMENTED",
                    f"GENERATED automated review of #{number}.",
                    at(3),
                )
            )
            comments.append(
                _review_comment(
                    pull, comment_ids[3], review_ids[2], bot, f"GENERATED bot suggestion on #{number}.", at(3)
                )
            )
            reviews.append(_review(repo, pull, review_ids[2] + 5, reviewer, "APPROVED", "", at(4)))
        repo.reviews[number] = reviews
        repo.review_comments[number] = comments


def _author(author: dict[str, Any] | None, users: dict[str, tuple[int, str]]) -> dict[str, Any] | None:
    if author is None:
        return None
    login = author["login"]
    known = users.get(login)
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {
        "__typename": known[1] if known else kind,
        "login": login,
        "url": author.get("url") or f"https://github.com/{login}",
        "databaseId": known[0] if known else generated_user_id(login),  # GENERATED when unknown
    }


def _body(kind: str, node_id: str) -> tuple[str, str]:
    text = f"GENERATED {kind} body ({node_id}): the capture has no bodies."
    return text, f"<p>{html.escape(text)}</p>"


def _discussion(
    node: dict[str, Any], users: dict[str, tuple[int, str]], real: dict[str, Any]
) -> dict[str, Any]:
    body, body_html = _body("discussion", node["id"])
    if node["id"] == real["id"]:
        body, body_html = real["body"], real["bodyHTML"]  # REAL
    comments = []
    for comment in node["comments"]["nodes"]:
        replies = []
        for reply in comment["replies"]["nodes"]:
            text, rendered = _body("reply", reply["id"])
            replies.append(
                {
                    "id": reply["id"],
                    "databaseId": database_id(reply["id"]),
                    "url": reply["url"],
                    "createdAt": reply["createdAt"],
                    "updatedAt": reply["createdAt"],  # GENERATED
                    "author": _author(reply["author"], users),
                    "body": text,
                    "bodyHTML": rendered,
                }
            )
        text, rendered = _body("comment", comment["id"])
        comments.append(
            {
                "id": comment["id"],
                "databaseId": database_id(comment["id"]),
                "url": comment["url"],
                "createdAt": comment["createdAt"],
                "updatedAt": comment["createdAt"],  # GENERATED
                "isAnswer": comment.get("isAnswer", False),
                "author": _author(comment["author"], users),
                "body": text,
                "bodyHTML": rendered,
                "replies": replies,
            }
        )
    times = [node["createdAt"]] + [c["createdAt"] for c in comments]
    times += [r["createdAt"] for c in comments for r in c["replies"]]
    return {
        "id": node["id"],
        "databaseId": database_id(node["id"]),
        "number": node["number"],
        "url": node["url"],
        "title": node["title"],
        "createdAt": node["createdAt"],
        "updatedAt": max(times, key=parse_time),  # GENERATED
        "closed": False,
        "author": _author(node["author"], users),
        "body": body,
        "bodyHTML": body_html,
        "comments": comments,
    }


def load_octokit(fixtures: Path) -> Repo:
    """The octokit fixture repository: 13 real issues, no comments, no discussions."""
    raw = json.loads((fixtures / "github" / "issues-paginated.octokit-raw-fixture.json").read_text())
    repo = Repo(*OCTOKIT, id=515435940)
    for exchange in raw:
        if exchange["method"] == "get" and exchange["status"] == 200:
            for issue in exchange["response"]:
                repo.issues[issue["number"]] = copy.deepcopy(issue)
    return repo


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])


@dataclass
class GitHubState:
    """Everything the server holds and does: data, faults, limits, and the log of what it was asked."""

    repos: dict[tuple[str, str], Repo]
    token: str | None = None  # when set, requests must carry it (401 otherwise)
    max_per_page: int = 100  # GitHub's cap; tests lower it to make many pages
    graphql_max_first: int = 100  # GitHub's cap on first:
    graphql_budget: int | None = None  # 502 when first × comments × replies exceeds it ("slow query")
    log: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, deque[str | None]] = field(
        default_factory=lambda: {"rest": deque(), "graphql": deque()}
    )
    lock: threading.Lock = field(default_factory=threading.Lock)
    remaining: int = 5000

    @classmethod
    def from_fixtures(cls, fixtures: Path, **options: Any) -> GitHubState:
        repos = [load_pygithub(fixtures), load_octokit(fixtures)]
        return cls(repos={(r.owner.lower(), r.name.lower()): r for r in repos}, **options)

    # -- faults and mutations (the test's hands on the data) --------------------------------------

    def plan(self, channel: str, faults: list[str | None]) -> None:
        """Queue faults for the next requests of one channel (``rest`` or ``graphql``)."""
        unknown = {f for f in faults if f is not None} - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}")
        with self.lock:
            self.faults[channel].extend(faults)

    def repo(self, owner: str, name: str) -> Repo:
        return self.repos[(owner.lower(), name.lower())]

    def update_issue(self, owner: str, name: str, number: int, **changes: Any) -> None:
        with self.lock:
            issue = self.repo(owner, name).issues[number]
            issue.update(changes)
            issue["updated_at"] = now_iso()

    def add_issue_comment(self, owner: str, name: str, number: int, comment_id: int, body: str) -> None:
        """GENERATED data: a new comment (by the issue's author) now."""
        with self.lock:
            repo = self.repo(owner, name)
            issue = repo.issues[number]
            stamp = now_iso()
            repo.comments.setdefault(number, []).append(
                {
                    "id": comment_id,
                    "node_id": f"IC_GENERATED_{comment_id}",
                    "url": f"{issue['url']}/comments/{comment_id}",
                    "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
                    "issue_url": issue["url"],
                    "user": copy.deepcopy(issue["user"]),
                    "created_at": stamp,
                    "updated_at": stamp,
                    "author_association": "NONE",
                    "body": body,
                }
            )
            issue["comments"] = len(repo.comments[number])
            issue["updated_at"] = stamp

    def delete_issue_comment(self, owner: str, name: str, number: int, comment_id: int) -> None:
        with self.lock:
            repo = self.repo(owner, name)
            before = len(repo.comments[number])
            repo.comments[number] = [c for c in repo.comments[number] if c["id"] != comment_id]
            assert len(repo.comments[number]) == before - 1, "no such comment"
            repo.issues[number]["comments"] = len(repo.comments[number])
            repo.issues[number]["updated_at"] = now_iso()

    def add_review_comment(
        self, owner: str, name: str, number: int, comment_id: int, body: str, in_reply_to: int | None = None
    ) -> None:
        """GENERATED data: a new review comment (by the pull request's author) now; the pull request's
        ``updated_at`` moves, as on GitHub."""
        with self.lock:
            repo = self.repo(owner, name)
            pull = repo.issues[number]
            stamp = now_iso()
            review_id = repo.reviews[number][0]["id"]
            repo.review_comments[number].append(
                _review_comment(pull, comment_id, review_id, pull["user"], body, stamp, in_reply_to)
            )
            pull["updated_at"] = stamp

    def delete_review_comment(self, owner: str, name: str, number: int, comment_id: int) -> None:
        with self.lock:
            repo = self.repo(owner, name)
            before = len(repo.review_comments[number])
            repo.review_comments[number] = [c for c in repo.review_comments[number] if c["id"] != comment_id]
            assert len(repo.review_comments[number]) == before - 1, "no such review comment"
            repo.issues[number]["updated_at"] = now_iso()

    def add_review(self, owner: str, name: str, number: int, review_id: int, body: str) -> None:
        """GENERATED data: a review with a body, submitted now by the first reviewer."""
        with self.lock:
            repo = self.repo(owner, name)
            pull = repo.issues[number]
            stamp = now_iso()
            reviewer = repo.reviews[number][0]["user"]
            repo.reviews[number].append(_review(repo, pull, review_id, reviewer, "COMMENTED", body, stamp))
            pull["updated_at"] = stamp

    def discussion(self, owner: str, name: str, number: int) -> dict[str, Any]:
        return next(d for d in self.repo(owner, name).discussions if d["number"] == number)

    def edit_discussion(self, owner: str, name: str, number: int, **changes: Any) -> None:
        with self.lock:
            item = self.discussion(owner, name, number)
            item.update(changes)
            item["updatedAt"] = now_iso()

    def delete_discussion_reply(self, owner: str, name: str, number: int, reply_database_id: int) -> None:
        with self.lock:
            item = self.discussion(owner, name, number)
            for comment in item["comments"]:
                comment["replies"] = [r for r in comment["replies"] if r["databaseId"] != reply_database_id]
            item["updatedAt"] = now_iso()

    def edit_issue_comment(self, owner: str, name: str, number: int, comment_id: int, body: str) -> None:
        """An issue comment's body edited now: ``body`` and ``updated_at`` change, as on GitHub (REST
        names no editor). The issue's ``updated_at`` is left alone: whether GitHub moves it for a comment
        edit is not in the captures, so a test that must see the edit fetches with ``--since full``."""
        with self.lock:
            comment = next(c for c in self.repo(owner, name).comments[number] if c["id"] == comment_id)
            comment["body"] = body
            comment["updated_at"] = now_iso()

    def edit_discussion_comment(
        self,
        owner: str,
        name: str,
        number: int,
        comment_database_id: int,
        body: str,
        editor: dict[str, Any] | None = None,
    ) -> None:
        """A discussion comment edited now by ``editor`` (a GraphQL actor; None: its author). GENERATED
        ``bodyHTML`` (escaped paragraphs); ``editor``/``lastEditedAt`` are set as GitHub's GraphQL
        ``Comment`` interface gives them (the real capture shows both null on an unedited comment);
        the discussion's ``updatedAt`` moves too."""
        with self.lock:
            item = self.discussion(owner, name, number)
            comment = next(c for c in item["comments"] if c["databaseId"] == comment_database_id)
            stamp = now_iso()
            comment.update(
                {
                    "body": body,
                    "bodyHTML": _html(body),
                    "updatedAt": stamp,
                    "lastEditedAt": stamp,
                    "editor": copy.deepcopy(editor or comment["author"]),
                }
            )
            item["updatedAt"] = stamp

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        channel = "graphql" if request.path.rstrip("/").endswith("/graphql") else "rest"
        with self.lock:
            self.log.append(
                {
                    "method": request.method,
                    "url": request.url,
                    "channel": channel,
                    "authorization": request.headers.get("Authorization"),
                    "body": request.get_data(as_text=True),
                }
            )
            fault = self.faults[channel].popleft() if self.faults[channel] else None
        if fault == "reset":
            _reset(environ)
            return Response(b"", status=500)(environ, start_response)
        accepted = {f"Bearer {self.token}", f"token {self.token}"}
        if self.token is not None and request.headers.get("Authorization") not in accepted:
            return self._json({"message": "Bad credentials"}, 401)(environ, start_response)
        if fault is not None and (fault != "rate_limited" or channel == "rest"):
            return self._fault(fault, channel)(environ, start_response)
        try:
            if channel == "graphql":
                response = self._graphql(request, rate_limited=fault == "rate_limited")
            else:
                response = self._rest(request)
        except KeyError as error:
            response = self._json({"message": f"Not Found ({error})"}, 404)
        return response(environ, start_response)

    def _headers(self, resource: str, remaining: int | None = None) -> dict[str, str]:
        reset = int(time.time()) + 1  # "a second ahead" (GitHub rounds the reset down to a second)
        left = self.remaining if remaining is None else remaining
        return {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(left),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(5000 - left),
            "X-RateLimit-Resource": resource,
            "X-GitHub-Media-Type": "github.v3; format=json",
        }

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(body),
            status=status,
            headers=headers or {},
            content_type="application/json; charset=utf-8",
        )

    def _fault(self, fault: str, channel: str) -> Response:
        resource = "graphql" if channel == "graphql" else "core"
        if fault in ("primary", "primary429"):
            headers = self._headers(resource, remaining=0)
            body = {
                "message": "API rate limit exceeded for user ID 1.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            }
            return self._json(body, 403 if fault == "primary" else 429, headers)
        if fault.startswith("secondary"):
            headers = self._headers(resource)
            if fault != "secondary_no_header":
                headers["Retry-After"] = "1"
            body = {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            }
            return self._json(body, 429 if fault == "secondary429" else 403, headers)
        status = int(fault)
        return Response(
            f"<html><body><h1>{status} Server Error</h1></body></html>",
            status=status,
            content_type="text/html",
        )

    # -- REST ------------------------------------------------------------------------------------

    def _find(self, parts: list[str]) -> tuple[Repo, list[str]]:
        if parts[0] == "repos":
            return self.repo(parts[1], parts[2]), parts[3:]
        if parts[0] == "repositories":
            repo = next(r for r in self.repos.values() if r.id == int(parts[1]))
            return repo, parts[2:]
        raise KeyError("/".join(parts))

    def _rest(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        repo, rest = self._find(parts)
        full = "full+json" in request.headers.get("Accept", "")
        if not rest:
            body = {
                "id": repo.id,
                "name": repo.name,
                "full_name": f"{repo.owner}/{repo.name}",
                "has_discussions": bool(repo.discussions),
                "html_url": f"https://github.com/{repo.owner}/{repo.name}",
            }
            return self._json(body, headers=self._headers("core"))
        if rest == ["issues"]:
            items = self._issues(repo, request)
        elif rest == ["issues", "comments"]:
            items = [c for number in sorted(repo.comments) for c in repo.comments[number]]
            items.sort(key=lambda c: (c["created_at"], c["id"]))
            items = self._since(items, request)
        elif len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
            number = int(rest[1])
            if number not in repo.issues:
                raise KeyError(number)
            items = sorted(repo.comments.get(number, []), key=lambda c: (c["created_at"], c["id"]))
            items = self._since(items, request)
        elif rest == ["pulls", "comments"]:
            items = [c for number in sorted(repo.review_comments) for c in repo.review_comments[number]]
            items = self._since(self._sorted(items, request), request)
        elif len(rest) == 3 and rest[0] == "pulls" and rest[2] in ("comments", "reviews"):
            number = int(rest[1])
            if "pull_request" not in repo.issues[number]:
                raise KeyError(number)
            if rest[2] == "comments":
                items = self._since(self._sorted(repo.review_comments.get(number, []), request), request)
            else:  # chronological order, no filters
                items = sorted(repo.reviews.get(number, []), key=lambda r: (r["submitted_at"], r["id"]))
        else:
            raise KeyError(request.path)
        if full:
            items = [{**item, "body_html": _html(item.get("body"))} for item in items]
        return self._page(repo, rest, items, request)

    def _sorted(self, items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        """Review comments: by id unless ``sort`` (``created``/``updated``) is given, then ``direction``."""
        sort = request.args.get("sort")
        if sort is None:
            return sorted(items, key=lambda c: c["id"])
        key = "updated_at" if sort == "updated" else "created_at"
        descending = request.args.get("direction", "desc") == "desc"
        return sorted(items, key=lambda c: (c[key], c["id"]), reverse=descending)

    def _since(self, items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        since = request.args.get("since")
        if not since:
            return items
        moment = parse_time(since)
        return [item for item in items if parse_time(item["updated_at"]) >= moment]

    def _issues(self, repo: Repo, request: Request) -> list[dict[str, Any]]:
        state = request.args.get("state", "open")
        items = [i for i in repo.issues.values() if state == "all" or i["state"] == state]
        key = "updated_at" if request.args.get("sort") == "updated" else "created_at"
        descending = request.args.get("direction", "desc") == "desc"
        items.sort(key=lambda i: (i[key], i["id"]), reverse=descending)
        return self._since(items, request)

    def _page(self, repo: Repo, rest: list[str], items: list[dict[str, Any]], request: Request) -> Response:
        per_page = min(int(request.args.get("per_page", 30)), self.max_per_page)
        page = int(request.args.get("page", 1))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = self._headers("core")
        base = f"{request.host_url.rstrip('/')}/repositories/{repo.id}/{'/'.join(rest)}"
        query = {k: v for k, v in request.args.items() if k != "page"}

        def link(number: int) -> str:
            return f"{base}?{urlencode({**query, 'page': number})}"

        links = []
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        if page < last:
            links += [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{link(1)}>; rel="first"')
        if links:
            headers["Link"] = ", ".join(links)
        return self._json(chunk, headers=headers)

    # -- GraphQL ---------------------------------------------------------------------------------

    def _graphql(self, request: Request, rate_limited: bool) -> Response:
        payload = json.loads(request.get_data(as_text=True))
        variables = payload.get("variables") or {}
        if rate_limited:
            headers = self._headers("graphql", remaining=0)
            body = {
                "errors": [
                    {
                        "type": "RATE_LIMITED",
                        "code": "graphql_rate_limit",
                        "message": "API rate limit exceeded for user ID 1.",
                    }
                ]
            }
            return self._json(body, 200, headers)
        operation = payload.get("operationName")
        first = min(int(variables.get("first", 10)), self.graphql_max_first)
        if operation == "Discussions":
            nested = min(int(variables.get("commentsFirst", 10)), self.graphql_max_first)
            replies = min(int(variables.get("repliesFirst", 10)), self.graphql_max_first)
            if self.graphql_budget is not None and _cost(variables) > self.graphql_budget:
                return Response(
                    "<html><body>502 Bad Gateway: query took too long</body></html>",
                    status=502,
                    content_type="text/html",
                )
            repo = self.repo(variables["owner"], variables["name"])
            order = variables.get("orderBy") or {"field": "CREATED_AT", "direction": "DESC"}
            key = "updatedAt" if order["field"] == "UPDATED_AT" else "createdAt"
            ordered = sorted(
                repo.discussions,
                key=lambda d: (parse_time(d[key]), d["databaseId"]),
                reverse=order["direction"] == "DESC",
            )
            start = _index(variables.get("after"))
            chunk = ordered[start : start + first]
            nodes = [self._discussion_node(d, nested, replies) for d in chunk]
            data = {
                "repository": {
                    "discussions": {
                        "totalCount": len(ordered),
                        "pageInfo": _page_info(start, len(chunk), len(ordered)),
                        "nodes": nodes,
                    }
                }
            }
        elif operation == "DiscussionComments":
            discussion = self._by_node(variables["id"])
            replies = min(int(variables.get("repliesFirst", 10)), self.graphql_max_first)
            data = {
                "node": {
                    "__typename": "Discussion",
                    "comments": self._comments(discussion, _index(variables.get("after")), first, replies),
                }
            }
        elif operation == "CommentReplies":
            comment = self._by_node(variables["id"])
            data = {
                "node": {
                    "__typename": "DiscussionComment",
                    "replies": self._replies(comment, _index(variables.get("after")), first),
                }
            }
        else:
            return self._json(
                {"errors": [{"message": f"unknown operation {operation!r}"}]}, 200, self._headers("graphql")
            )
        return self._json({"data": data}, headers=self._headers("graphql"))

    def _by_node(self, node_id: str) -> dict[str, Any]:
        for repo in self.repos.values():
            for discussion in repo.discussions:
                if discussion["id"] == node_id:
                    return discussion
                for comment in discussion["comments"]:
                    if comment["id"] == node_id:
                        return comment
        raise KeyError(node_id)

    def _discussion_node(self, discussion: dict[str, Any], comments: int, replies: int) -> dict[str, Any]:
        node = {k: v for k, v in discussion.items() if k != "comments"}
        node["comments"] = self._comments(discussion, 0, comments, replies)
        return node

    def _comments(self, discussion: dict[str, Any], start: int, first: int, replies: int) -> dict[str, Any]:
        items = discussion["comments"]
        chunk = items[start : start + first]
        nodes = []
        for comment in chunk:
            node = {k: v for k, v in comment.items() if k != "replies"}
            node["replies"] = self._replies(comment, 0, replies)
            nodes.append(node)
        return {
            "totalCount": len(items),
            "pageInfo": _page_info(start, len(chunk), len(items)),
            "nodes": nodes,
        }

    def _replies(self, comment: dict[str, Any], start: int, first: int) -> dict[str, Any]:
        items = comment["replies"]
        chunk = items[start : start + first]
        return {
            "totalCount": len(items),
            "pageInfo": _page_info(start, len(chunk), len(items)),
            "nodes": copy.deepcopy(chunk),
        }


def _cost(variables: dict[str, Any]) -> int:
    """The nodes a Discussions query asks for, from the REQUESTED sizes (GitHub's node limit counts them)."""
    sizes = [int(variables.get(k, 10)) for k in ("first", "commentsFirst", "repliesFirst")]
    return sizes[0] * max(1, sizes[1]) * max(1, sizes[2])


def _page_info(start: int, count: int, total: int) -> dict[str, Any]:
    return {
        "startCursor": _cursor(start + 1) if count else None,
        "endCursor": _cursor(start + count) if count else None,
        "hasNextPage": start + count < total,
        "hasPreviousPage": start > 0,
    }


def _html(text: str | None) -> str:
    """GENERATED: a body's HTML rendering (escaped paragraphs), standing in for GitHub's markdown."""
    return "".join(f"<p>{html.escape(p)}</p>" for p in (text or "").split("\n\n") if p.strip())


def _reset(environ: dict[str, Any]) -> None:
    """Close the client's connection with a TCP reset (SO_LINGER 0), as a dropped proxy does."""
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # detach(): the socket object is marked closed at once (later writes by the server fail on it,
    # never on a reused descriptor), then the descriptor is closed: with linger 0 that sends a RST.
    os.close(connection.detach())


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1, an ephemeral port, in a thread; yield its base URL."""
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # no access log, no reset tracebacks
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
