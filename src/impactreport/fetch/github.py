"""Fetch a GitHub repository's discussion history: issues (pull requests optionally), their comments,
and Discussions with their comments and replies, into one snapshot in the Thinklab table layout.

REST (``/repos/{owner}/{repo}/issues``, ``…/issues/comments``, ``…/issues/{n}/comments``) pages by the
``Link`` header with ``per_page=100``, following ``rel="next"`` exactly as given (GitHub moves to
``/repositories/{id}/…`` after page 1). GraphQL pages by ``pageInfo.endCursor``/``hasNextPage``,
including the nested pages of a discussion's comments and of a comment's replies.

With ``include_pulls``, a pull request's review discussion is fetched too: its review comments (on
diff lines; a full fetch lists them repository-wide, ``…/pulls/comments``, 100 a request) and its
reviews (``…/pulls/{n}/reviews``, one listing per pull request: GitHub has no repository-wide one),
of which the non-empty bodies are kept.

Incremental (``since``): issues updated since then (REST ``since``) are re-fetched whole with their
comments (per issue, so a deleted comment disappears; a re-fetched pull request's review comments
likewise per pull request, ``…/pulls/{n}/comments``, although the repository-wide listing takes
``since``: it names comments updated since, never the ones deleted), discussions are read
newest-updated first and the reading stops at the first one older than ``since``; the re-fetched
threads replace their old rows in the previous snapshot
(:meth:`impactreport.fetch.sync.Since.complete`). A full fetch lists comments
repository-wide (one request per 100 comments instead of one per issue).

Every request goes through the shared :class:`~impactreport.fetch.http.HttpClient` with
:class:`~impactreport.fetch.ratelimits.GitHubLimits` as its ``classify`` hook. The token travels only
in the ``Authorization`` header.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from impactreport import __version__
from impactreport.errors import FetchError
from impactreport.fetch import mapping
from impactreport.fetch.http import HttpClient, HttpFailure, RetryableResponse, RetryPolicy
from impactreport.fetch.ratelimits import GITHUB_POLICY, GitHubLimits, Reporter
from impactreport.fetch.sync import Since, Snapshot
from impactreport.timefmt import iso_z as utc_iso

PUBLIC_API = "https://api.github.com"
PUBLIC_GRAPHQL = "https://api.github.com/graphql"

ACTOR = """{ __typename login url
  ... on User { databaseId name } ... on Bot { databaseId } ... on Mannequin { databaseId }
  ... on Organization { databaseId name } }"""
AUTHOR = f"author {ACTOR}"
#: Who last edited a discussion, comment or reply (null when never edited): the revision's author.
EDITOR = f"editor {ACTOR}"
REPLY_FIELDS = f"id databaseId url createdAt updatedAt body bodyHTML {AUTHOR} {EDITOR}"
PAGE_INFO = "totalCount pageInfo { endCursor hasNextPage }"
REPLIES = f"replies(first: $repliesFirst) {{ {PAGE_INFO} nodes {{ {REPLY_FIELDS} }} }}"
COMMENT_FIELDS = f"id databaseId url createdAt updatedAt isAnswer body bodyHTML {AUTHOR} {EDITOR} {REPLIES}"
COMMENTS_PAGE = f"totalCount pageInfo {{ endCursor hasNextPage }} nodes {{ {COMMENT_FIELDS} }}"

DISCUSSIONS_QUERY = f"""query Discussions($owner: String!, $name: String!, $first: Int!, $after: String,
  $commentsFirst: Int!, $repliesFirst: Int!, $orderBy: DiscussionOrder!) {{
  repository(owner: $owner, name: $name) {{
    discussions(first: $first, after: $after, orderBy: $orderBy) {{
      totalCount pageInfo {{ endCursor hasNextPage }}
      nodes {{ id databaseId number url title createdAt updatedAt closed body bodyHTML {AUTHOR} {EDITOR}
        comments(first: $commentsFirst) {{ {COMMENTS_PAGE} }} }}
    }}
  }}
}}"""

COMMENTS_QUERY = f"""query DiscussionComments($id: ID!, $first: Int!, $after: String, $repliesFirst: Int!) {{
  node(id: $id) {{ __typename ... on Discussion {{
    comments(first: $first, after: $after) {{ {COMMENTS_PAGE} }} }} }}
}}"""

REPLIES_QUERY = f"""query CommentReplies($id: ID!, $first: Int!, $after: String) {{
  node(id: $id) {{ __typename ... on DiscussionComment {{
    replies(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ {REPLY_FIELDS} }} }}
  }} }}
}}"""


def project_name(owner: str, name: str) -> str:
    """The store's project folder of a repository: ``owner__name`` (owners never contain ``_``)."""
    return f"{owner}__{name}"


def iso_z(moment: datetime) -> str:
    """GitHub's ``since`` spelling: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return utc_iso(moment, "seconds")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class PageSizes:
    """GraphQL page sizes; halved after a 502/504 (GitHub's answer to a query that took too long)."""

    discussions: int = 50
    comments: int = 30
    replies: int = 20

    def lower(self) -> None:
        if self.discussions > 1:
            self.discussions = max(1, self.discussions // 2)
        elif self.comments > 1:
            self.comments = max(1, self.comments // 2)
        else:
            self.replies = max(1, self.replies // 2)


@dataclass
class GitHubFetch:
    """One run against one repository, as a :class:`~impactreport.fetch.sync.Source` (one project).

    :meth:`threads` returns the rows of the threads updated since a moment (see mapping); :meth:`fetch`
    completes them into the whole snapshot.
    """

    source = "github"

    owner: str
    name: str
    token: str | None = None
    api_url: str = PUBLIC_API
    graphql_url: str = PUBLIC_GRAPHQL
    include_pulls: bool = False
    discussions_enabled: bool = True
    policy: RetryPolicy = GITHUB_POLICY
    limits: GitHubLimits = field(default_factory=GitHubLimits)
    reporter: Reporter = field(default_factory=Reporter)
    sizes: PageSizes = field(default_factory=PageSizes)
    session: requests.Session | None = None
    repository: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        session = self.session or requests.Session()
        session.headers.update(
            {
                "Accept": "application/vnd.github.full+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"impactreport/{__version__}",
            }
        )
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        self.api_url = self.api_url.rstrip("/")
        self.http = HttpClient(
            session=session,
            policy=self.policy,
            classify=self.limits.classify,
            on_wait=self.reporter.wait,
            on_attempt=self.reporter.attempt,
        )
        self.http.allow(self.api_url, self.graphql_url)  # the token goes nowhere else

    # -- REST ------------------------------------------------------------------------------------

    def _get(self, url: str, params: dict[str, Any] | None = None) -> tuple[Any, requests.Response]:
        """(parsed JSON, response) of one GET; 404 and 401 become one line naming the cause."""
        try:
            result = self.http.request("GET", url, params=params, validate=_json_response)
            return result.value, result.response
        except HttpFailure as error:
            if error.status == 404:
                raise FetchError(
                    f"{self.owner}/{self.name}: not found at {self.api_url} (or no access)"
                ) from None
            if error.status == 401:
                raise FetchError(f"{self.api_url}: bad credentials (check GITHUB_TOKEN)") from None
            raise

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of a REST list: page 1 from ``path``, then ``rel="next"`` exactly as given."""
        body, response = self._get(f"{self.api_url}{path}", {**params, "per_page": 100})
        while True:
            if not isinstance(body, list):
                raise FetchError(f"{response.url}: expected a JSON list, got {type(body).__name__}")
            yield body
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            body, response = self._get(following)

    def repo(self) -> dict[str, Any]:
        self.repository = self._get(f"{self.api_url}/repos/{self.owner}/{self.name}")[0]
        return self.repository

    def issues(self, since: datetime | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"state": "all", "sort": "created", "direction": "asc"}
        if since is not None:
            params["since"] = iso_z(since)
        self.reporter.stage("issues", None)
        found = []
        for page in self.pages(f"/repos/{self.owner}/{self.name}/issues", params):
            kept = [item for item in page if self.include_pulls or "pull_request" not in item]
            found.extend(kept)
            self.reporter.advance(len(kept))
        return found

    def comments_everywhere(self, numbers: set[int]) -> dict[int, list[dict[str, Any]]]:
        """All issue comments of the repository (one listing), grouped by issue number."""
        grouped: dict[int, list[dict[str, Any]]] = {number: [] for number in numbers}
        self.reporter.stage("issue comments", None)
        params = {"sort": "created", "direction": "asc"}
        for page in self.pages(f"/repos/{self.owner}/{self.name}/issues/comments", params):
            for comment in page:
                number = int(comment["issue_url"].rstrip("/").rsplit("/", 1)[1])
                if number in grouped:
                    grouped[number].append(comment)
            self.reporter.advance(len(page))
        return grouped

    def review_comments_everywhere(self, numbers: set[int]) -> dict[int, list[dict[str, Any]]]:
        """All pull-request review comments of the repository (one listing), grouped by pull request."""
        grouped: dict[int, list[dict[str, Any]]] = {number: [] for number in numbers}
        self.reporter.stage("review comments", None)
        params = {"sort": "created", "direction": "asc"}
        for page in self.pages(f"/repos/{self.owner}/{self.name}/pulls/comments", params):
            for comment in page:
                number = int(comment["pull_request_url"].rstrip("/").rsplit("/", 1)[1])
                if number in grouped:
                    grouped[number].append(comment)
            self.reporter.advance(len(page))
        return grouped

    def per_pull(self, pulls: list[dict[str, Any]], listing: str) -> dict[int, list[dict[str, Any]]]:
        """Each pull request's ``listing`` (``comments`` or ``reviews``), pull request by pull request."""
        self.reporter.stage(f"pull request {listing}", len(pulls))
        grouped: dict[int, list[dict[str, Any]]] = {}
        for pull in pulls:
            path = f"/repos/{self.owner}/{self.name}/pulls/{pull['number']}/{listing}"
            grouped[pull["number"]] = [item for page in self.pages(path, {}) for item in page]
            self.reporter.advance(1)
        return grouped

    def comments_of(self, issues: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        """Each issue's comments, issue by issue (the incremental path: deletions show)."""
        with_comments = [issue for issue in issues if issue.get("comments")]
        self.reporter.stage("issue comments", len(with_comments))
        grouped: dict[int, list[dict[str, Any]]] = {issue["number"]: [] for issue in issues}
        for issue in with_comments:
            path = f"/repos/{self.owner}/{self.name}/issues/{issue['number']}/comments"
            for page in self.pages(path, {}):
                grouped[issue["number"]].extend(page)
            self.reporter.advance(1)
        return grouped

    # -- GraphQL ---------------------------------------------------------------------------------

    def graphql(
        self, query: str, operation: str, variables: dict[str, Any], sized: bool = False
    ) -> dict[str, Any]:
        """One GraphQL call; ``sized`` queries take their page sizes afresh on every attempt."""
        seen = self.limits.slow_queries

        def build() -> dict[str, Any]:
            nonlocal seen
            if sized and self.limits.slow_queries > seen:
                seen = self.limits.slow_queries
                self.sizes.lower()
            values = dict(variables)
            if sized:
                values.update(self._size_variables(operation))
            return {"json": {"query": query, "operationName": operation, "variables": values}}

        result = self.http.request("POST", self.graphql_url, build=build, validate=_graphql_data)
        return result.value

    def _size_variables(self, operation: str) -> dict[str, int]:
        if operation == "Discussions":
            return {
                "first": self.sizes.discussions,
                "commentsFirst": self.sizes.comments,
                "repliesFirst": self.sizes.replies,
            }
        if operation == "DiscussionComments":
            return {"first": self.sizes.comments, "repliesFirst": self.sizes.replies}
        return {"first": self.sizes.replies}

    def discussions(self, since: datetime | None) -> list[dict[str, Any]]:
        """Discussions with every comment and reply, nested pages followed.

        A full fetch reads them oldest-created first, so one created or updated while the pages are
        read cannot shift out of the listing; an incremental one reads newest-updated first and stops
        at the first one older than ``since``.
        """
        self.reporter.stage("discussions", None)
        found: list[dict[str, Any]] = []
        after = None
        order = (
            {"field": "CREATED_AT", "direction": "ASC"}
            if since is None
            else {"field": "UPDATED_AT", "direction": "DESC"}
        )
        while True:
            data = self.graphql(
                DISCUSSIONS_QUERY,
                "Discussions",
                {"owner": self.owner, "name": self.name, "after": after, "orderBy": order},
                sized=True,
            )
            repository = data.get("repository")
            if repository is None:
                raise FetchError(f"{self.owner}/{self.name}: GraphQL found no such repository")
            listing = repository["discussions"]
            stop = False
            for node in listing["nodes"]:
                if since is not None and parse_time(node["updatedAt"]) < since:
                    stop = True
                    break
                found.append(self._complete(node))
                self.reporter.advance(1)
            if stop or not listing["pageInfo"]["hasNextPage"]:
                return found
            after = listing["pageInfo"]["endCursor"]

    def _all_nodes(
        self, parent: dict[str, Any], field: str, query: str, operation: str
    ) -> list[dict[str, Any]]:
        """Every node of ``parent[field]``: its first page plus the pages after it, by cursor."""
        connection = parent[field]
        nodes = list(connection["nodes"])
        page = connection["pageInfo"]
        while page["hasNextPage"]:
            data = self.graphql(
                query, operation, {"id": parent["id"], "after": page["endCursor"]}, sized=True
            )
            more = data["node"][field]
            nodes.extend(more["nodes"])
            page = more["pageInfo"]
        return nodes

    def _complete(self, discussion: dict[str, Any]) -> dict[str, Any]:
        """Follow the nested pages of one discussion's comments and of each comment's replies."""
        nodes = self._all_nodes(discussion, "comments", COMMENTS_QUERY, "DiscussionComments")
        for comment in nodes:
            comment["replies"] = {
                "nodes": self._all_nodes(comment, "replies", REPLIES_QUERY, "CommentReplies")
            }
        discussion["comments"] = {"nodes": nodes}
        return discussion

    # -- the run ---------------------------------------------------------------------------------

    def projects(self) -> list[str]:
        return [project_name(self.owner, self.name)]

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        """The whole snapshot: the threads updated since ``since``, merged into the previous one."""
        parts = self.threads(since.moment)
        payload = since.complete(parts, self.source, **self.payload_extra())
        yield Snapshot(payload=payload, details={"threads_fetched": len(parts), "fetched": dict(self.counts)})

    def threads(self, since: datetime | None = None) -> list[dict[str, list[mapping.Row]]]:
        """Rows of every thread updated since ``since`` (all threads when None)."""
        repository = self.repo()
        issues = self.issues(since)
        numbers = {issue["number"] for issue in issues}
        if since is None and any(issue.get("comments") for issue in issues):
            comments = self.comments_everywhere(numbers)
        else:
            comments = self.comments_of(issues)
        pulls = [issue for issue in issues if "pull_request" in issue]
        review_comments: dict[int, list[dict[str, Any]]] = {}
        reviews: dict[int, list[dict[str, Any]]] = {}
        if pulls:
            if since is None:
                review_comments = self.review_comments_everywhere({p["number"] for p in pulls})
            else:
                review_comments = self.per_pull(pulls, "comments")
            reviews = self.per_pull(pulls, "reviews")
        parts = [
            mapping.github_issue(
                issue,
                comments.get(issue["number"], []),
                review_comments.get(issue["number"], []),
                reviews.get(issue["number"], []),
            )
            for issue in issues
        ]
        wanted = self.discussions_enabled and repository.get("has_discussions", True)
        discussions = self.discussions(since) if wanted else []
        parts += [mapping.github_discussion(discussion) for discussion in discussions]
        self.counts = {
            "issues": sum(1 for i in issues if "pull_request" not in i),
            "pulls": sum(1 for i in issues if "pull_request" in i),
            "issue_comments": sum(len(c) for c in comments.values()),
            "review_comments": sum(len(c) for c in review_comments.values()),
            "reviews": sum(len(r) for r in reviews.values()),
            "review_bodies": sum(1 for p in parts for c in p["comments"] if c["kind"] == "review"),
            "discussions": len(discussions),
        }
        return parts

    def payload_extra(self) -> dict[str, Any]:
        """The snapshot's top-level keys besides the tables: what was fetched, without run details."""
        return {
            "repository": {
                "owner": self.owner,
                "name": self.name,
                "id": self.repository.get("id"),
                "url": self.repository.get("html_url") or f"https://github.com/{self.owner}/{self.name}",
            },
            "options": self.options,
        }

    @property
    def options(self) -> dict[str, Any]:
        """What was asked for: an incremental run must use the same, or fetch everything again.

        ``pull_reviews`` marks snapshots with pull requests that hold their reviews: a snapshot with
        pull requests from before reviews were fetched lacks the key, so ``--since auto`` refetches
        everything once instead of merging into pull requests without their reviews.
        """
        options: dict[str, Any] = {
            "include_pulls": self.include_pulls,
            "discussions": self.discussions_enabled,
        }
        if self.include_pulls:
            options["pull_reviews"] = True
        return options


def _json_response(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RetryableResponse("not JSON", response) from None


def _graphql_data(response: requests.Response) -> dict[str, Any]:
    """The ``data`` of a GraphQL answer; errors other than rate limits end the run with one line."""
    body = _json_response(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
        kind = first.get("type") or "ERROR"
        raise FetchError(f"GitHub GraphQL error {kind}: {first.get('message', '')}".strip())
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise FetchError("GitHub GraphQL answered without data")
    return body["data"]
