"""``impactreport fetch github`` against a GitHub-like server on 127.0.0.1 replaying the recorded payloads.

The server (tests/servers/github_app.py) says which of its data are real, derived or generated. The
expected counts here are derived independently: straight from the fixture files with ``json``, by
login rather than by the ids the fetcher computes.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
import requests
from rich.console import Console
from rich.progress import Progress

from impactreport.cli.progress import Display
from impactreport.fetch.http import WaitEvent
from impactreport.fetch.ratelimits import GitHubLimits
from impactreport.fetch.store import SnapshotStore, read_snapshot
from tests.runner import cli, unset
from tests.servers.github_app import PYGITHUB, GitHubState, serve

pytestmark = pytest.mark.shared
TABLES = ("documents", "threads", "comments", "notes", "profiles")
FAST = ["--backoff", "0.05", "--secondary-wait", "0.2"]
REPO = "/".join(PYGITHUB)


# -- independent expectations from the fixture files ---------------------------------------------


def _exchanges(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["exchanges"]


def served_reviews(url: str, numbers: list[int]) -> dict[str, list[dict[str, Any]]]:
    """The review comments and the reviews with a body the server holds (GENERATED data: the captures
    have none), read over plain HTTP per pull request, following ``Link`` with requests' own parser."""

    def listing(path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        next_url: str | None = f"{url}/repos/{REPO}/{path}?per_page=100"
        while next_url:
            response = requests.get(next_url, headers={"Authorization": "Bearer t"}, timeout=30)
            response.raise_for_status()
            found += response.json()
            next_url = response.links.get("next", {}).get("url")
        return found

    comments = [c for n in numbers for c in listing(f"pulls/{n}/comments")]
    reviews = [r for n in numbers for r in listing(f"pulls/{n}/reviews") if r["body"].strip()]
    return {"review_comments": comments, "reviews": reviews}


def pull_numbers(fixtures: Path) -> list[int]:
    issues = _exchanges(fixtures / "github" / "issues-list-page1.pygithub.json")[0]["response"]["body"]
    return [i["number"] for i in issues if "pull_request" in i]


def expected(
    fixtures: Path, include_pulls: bool, reviews: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """What a complete fetch of PyGithub/PyGithub from the replay server must hold, from the files
    (plus, with pull requests, the review comments and review bodies ``reviews`` read from the server).

    Issue 1136 is the one item the server generates (its 7 comments are real): it adds one thread,
    one opening comment, and its author (its first human commenter's, as the server documents).
    """
    github = fixtures / "github"
    issues = _exchanges(github / "issues-list-page1.pygithub.json")[0]["response"]["body"]
    kept = [i for i in issues if include_pulls or "pull_request" not in i]
    comments = [
        c
        for e in _exchanges(github / "issue-comments-paginated.pygithub.json")
        for c in e["response"]["body"]
    ]
    discussions = [
        n
        for e in _exchanges(github / "discussions-graphql.pygithub.json")
        for n in e["response"]["body"]["data"]["repository"]["discussions"]["nodes"]
    ]
    d_comments = [c for d in discussions for c in d["comments"]["nodes"]]
    replies = [r for c in d_comments for r in c["replies"]["nodes"]]

    def login(author: dict[str, Any] | None) -> str:
        return author["login"] if author else "ghost"

    opener_1136 = next(c["user"]["login"] for c in comments if c["user"]["type"] != "Bot")
    posts = [i["user"]["login"] for i in kept] + [opener_1136]  # + the generated issue 1136
    posts += [c["user"]["login"] for c in comments]
    posts += [login(d["author"]) for d in discussions] + [login(c["author"]) for c in d_comments]
    extra = (reviews or {}).get("review_comments", []) + (reviews or {}).get("reviews", [])
    if include_pulls:
        posts += [item["user"]["login"] for item in extra]
    else:
        extra = []
    note_authors = [login(r["author"]) for r in replies]
    bots = {name for name in posts + note_authors if name.endswith("[bot]")}
    return {
        "threads": len(kept) + 1 + len(discussions),
        "comments": len(kept) + 1 + len(comments) + len(discussions) + len(d_comments) + len(extra),
        "notes": len(replies),
        "profiles": len(set(posts + note_authors)),
        "bot_comments": sum(1 for name in posts if name in bots),
        "contributors": len(set(posts + note_authors) - bots),
        "pulls": sum(1 for i in kept if "pull_request" in i),
        "bots": sorted(bots),
    }


# -- running the command ------------------------------------------------------------------------


def run(args: list[str], token: str | None = None, **variables: str) -> subprocess.CompletedProcess[str]:
    env: dict[str, str | None] = {**unset("GITHUB_"), "COLUMNS": "200", **variables}
    if token is not None:
        env["GITHUB_TOKEN"] = token
    return cli("fetch", "github", *args, env=env, timeout=300)


def fetch(
    url: str, data: Path, *extra: str, token: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the command with --json; return (its report, the stored snapshot)."""
    result = run(
        [
            "--repo",
            REPO,
            "--api-url",
            url,
            "--graphql-url",
            f"{url}/graphql",
            "--data",
            str(data),
            "--json",
            *FAST,
            *extra,
        ],
        token,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return report, read_snapshot(Path(report["file"]))


def tables(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {name: snapshot[name] for name in TABLES}


@pytest.fixture
def server(fixtures_dir: Path) -> Iterator[tuple[GitHubState, str]]:
    # small pages so that every pagination path runs: 7 issues a REST page, 3 nodes a GraphQL page
    state = GitHubState.from_fixtures(fixtures_dir, max_per_page=7, graphql_max_first=3)
    with serve(state) as url:
        yield state, url


# -- tests --------------------------------------------------------------------------------------


def test_full_fetch_holds_every_fixture_item(
    server: tuple[GitHubState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    state, url = server
    report, snapshot = fetch(url, tmp_path, "--include-pulls", token="t")
    served = served_reviews(url, pull_numbers(fixtures_dir))
    want = expected(fixtures_dir, include_pulls=True, reviews=served)
    assert report["status"] == "stored" and report["mode"] == "full"
    assert {k: len(snapshot[k]) for k in ("threads", "comments", "notes", "profiles")} == {
        k: want[k] for k in ("threads", "comments", "notes", "profiles")
    }
    assert snapshot["source"] == "github" and snapshot["documents"] == []
    assert sum(1 for t in snapshot["threads"] if t["kind"] == "pull") == want["pulls"]
    # REST went to /repositories/<id>/ after page 1, exactly as the Link header said
    issue_urls = [e["url"] for e in state.log if "/issues?" in e["url"] or e["url"].endswith("/issues")]
    assert "/repos/PyGithub/PyGithub/issues?" in issue_urls[0]
    assert all("/repositories/3544490/issues?" in u for u in issue_urls[1:]) and len(issue_urls) == 5
    # every thread's first comment is its opening post, by the thread's author
    first = {}
    for comment in sorted(snapshot["comments"], key=lambda c: (c["published"], c["comment_id"])):
        first.setdefault(comment["thread_id"], comment)
    for thread in snapshot["threads"]:
        assert first[thread["thread_id"]]["kind"].endswith("_body")
        assert first[thread["thread_id"]]["profile_id"] == thread["profile_id"]
    # ids are unique per table; bots are flagged
    for name, key in (
        ("threads", "thread_id"),
        ("comments", "comment_id"),
        ("notes", "note_id"),
        ("profiles", "profile_id"),
    ):
        assert len({row[key] for row in snapshot[name]}) == len(snapshot[name])
    assert sorted(p["username"] for p in snapshot["profiles"] if p["is_bot"]) == want["bots"]
    assert want["bots"] == ["copilot-pull-request-reviewer[bot]", "stale[bot]"]
    # a reply keeps its comment, and that comment is in the same thread
    comments = {c["comment_id"]: c for c in snapshot["comments"]}
    assert all(comments[n["comment_id"]]["thread_id"] == n["thread_id"] for n in snapshot["notes"])
    # review comments and review bodies: intact, each on its pull request's thread, bots flagged
    assert_reviews_intact(snapshot, served)
    assert report["fetched"]["review_comments"] == len(served["review_comments"]) == 30
    assert report["fetched"]["review_bodies"] == len(served["reviews"]) == 8


def assert_reviews_intact(snapshot: dict[str, Any], served: dict[str, list[dict[str, Any]]]) -> None:
    """Every served review comment and review body is one comment of its pull request's thread, with
    its markdown, author and time as served; nothing else has those kinds."""
    threads = {t["thread_id"]: t for t in snapshot["threads"]}
    profiles = {p["profile_id"]: p for p in snapshot["profiles"]}
    for kind, items, time_key in (
        ("review_comment", served["review_comments"], "created_at"),
        ("review", served["reviews"], "submitted_at"),
    ):
        stored = {c["github_id"]: c for c in snapshot["comments"] if c["kind"] == kind}
        assert sorted(stored) == sorted(item["id"] for item in items)
        for item in items:
            row = stored[item["id"]]
            thread = threads[row["thread_id"]]
            assert thread["kind"] == "pull"
            assert item["pull_request_url"].endswith(f"/pulls/{thread['number']}")
            assert row["body_md"] == item["body"]
            author = profiles[row["profile_id"]]
            assert author["username"] == item["user"]["login"]
            assert author["is_bot"] == item["user"]["login"].endswith("[bot]")
            assert row["published"][:19] == item[time_key][:19]


def test_pull_requests_only_when_asked(
    server: tuple[GitHubState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    _, url = server
    _, snapshot = fetch(url, tmp_path, token="t")
    want = expected(fixtures_dir, include_pulls=False)
    assert len(snapshot["threads"]) == want["threads"] and len(snapshot["comments"]) == want["comments"]
    assert all(t["kind"] != "pull" for t in snapshot["threads"])


@pytest.mark.slow
def test_every_fault_is_survived_and_data_is_complete(
    server: tuple[GitHubState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    state, url = server
    _, clean = fetch(url, tmp_path / "clean", "--include-pulls", token="t")
    rest = [
        "primary",
        None,
        "primary429",
        "secondary",
        None,
        "secondary429",
        "secondary_no_header",
        "reset",
        "500",
        "502",
    ]
    graphql = ["rate_limited", None, "502", "reset", "primary", None, "secondary_no_header"]
    state.plan("rest", rest)
    state.plan("graphql", graphql)
    state.graphql_budget = 12 * 30 * 20  # the client's first page size is "too slow": 502 until it lowers it
    start = len(state.log)
    report, faulty = fetch(url, tmp_path / "faulty", "--include-pulls", token="t")
    assert not state.faults["rest"] and not state.faults["graphql"], "every planned fault was served"
    assert tables(faulty) == tables(clean)  # complete, and no RATE_LIMITED answer stored as data
    faults = sum(1 for f in rest + graphql if f)
    assert report["waits"] >= faults and report["requests"] == len(state.log) - start
    # the primary limits were waited out until the reset (a second ahead, + 1 s rounding margin)
    assert report["waited_seconds"] >= 3 * 1.0


def test_review_comments_and_reviews_arrive_intact_under_faults(
    server: tuple[GitHubState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    state, url = server
    _, clean = fetch(url, tmp_path / "clean", "--include-pulls", "--no-discussions", token="t")
    rest = [e["url"] for e in state.log if e["channel"] == "rest"]
    comments_at = next(i for i, u in enumerate(rest) if "/pulls/comments" in u)
    reviews_at = next(i for i, u in enumerate(rest) if "/reviews" in u)
    # the faults land on the first review-comments page, a later one, the first reviews listing and
    # the fourth (every None lets one request of the clean sequence through)
    plan: list[str | None] = [None] * comments_at + ["502", "reset", None, "500"]
    plan += [None] * (reviews_at - comments_at - 1) + [
        "500",
        "secondary429",
        "reset",
        None,
        None,
        None,
        "502",
    ]
    state.plan("rest", plan)
    start = len(state.log)
    report, faulty = fetch(url, tmp_path / "faulty", "--include-pulls", "--no-discussions", token="t")
    assert not state.faults["rest"], "every planned fault was served"
    faulted = [e["url"] for e, f in zip(state.log[start:], plan, strict=False) if f]
    assert sum("/pulls/comments" in u for u in faulted) == 3 and sum("/reviews" in u for u in faulted) == 4
    assert report["waits"] == sum(1 for f in plan if f)
    assert tables(faulty) == tables(clean)
    assert_reviews_intact(faulty, served_reviews(url, pull_numbers(fixtures_dir)))


def test_graphql_page_size_is_lowered_after_502(server: tuple[GitHubState, str], tmp_path: Path) -> None:
    state, url = server
    state.graphql_budget = 12 * 30 * 20  # the default page (50 × 30 × 20) is "too slow"
    fetch(url, tmp_path, token="t")
    firsts = [
        json.loads(e["body"])["variables"]["first"]
        for e in state.log
        if e["channel"] == "graphql" and '"Discussions"' in e["body"]
    ]
    assert firsts[:3] == [50, 25, 12] and set(firsts[3:]) == {12}
    orders = {
        json.dumps(json.loads(e["body"])["variables"]["orderBy"])
        for e in state.log
        if e["channel"] == "graphql" and '"Discussions"' in e["body"]
    }
    assert orders == {'{"field": "CREATED_AT", "direction": "ASC"}'}  # a full fetch: oldest first


def test_secondary_limit_without_retry_after_waits_at_least_a_minute_then_doubles(
    server: tuple[GitHubState, str],
) -> None:
    state, url = server
    state.plan("rest", ["secondary_no_header", "secondary_no_header", None, "secondary_no_header"])
    limits = GitHubLimits()  # the defaults: 60 s, doubling, at most 900 s
    waits = [limits.classify(requests.get(f"{url}/repos/{REPO}")) for _ in range(4)]
    assert [w.seconds if w else None for w in waits] == [60.0, 120.0, None, 60.0]
    state.plan("rest", ["primary", "secondary"])
    primary = limits.classify(requests.get(f"{url}/repos/{REPO}"))
    secondary = limits.classify(requests.get(f"{url}/repos/{REPO}"))
    assert primary is not None and 0 < primary.seconds <= 2.01 and "primary" in primary.reason
    assert secondary is not None and secondary.seconds == 1.0


@pytest.mark.slow
def test_token_appears_nowhere(fixtures_dir: Path, tmp_path: Path) -> None:
    token = "ghp_" + secrets.token_hex(18)
    state = GitHubState.from_fixtures(fixtures_dir, max_per_page=7, graphql_max_first=3, token=token)
    state.plan("rest", ["primary", None, "reset"])
    state.plan("graphql", ["rate_limited"])
    with serve(state) as url:
        result = run(
            [
                "--repo",
                REPO,
                "--api-url",
                url,
                "--graphql-url",
                f"{url}/graphql",
                "--data",
                str(tmp_path),
                *FAST,
            ],
            token,
        )
        assert result.returncode == 0, result.stderr
        bad = run(
            [
                "--repo",
                "PyGithub/nothing-here",
                "--api-url",
                url,
                "--graphql-url",
                f"{url}/graphql",
                "--data",
                str(tmp_path),
            ],
            token,
        )
    errors = [line for line in bad.stderr.splitlines() if line.startswith("impactreport: error:")]
    assert bad.returncode == 1 and len(errors) == 1 and "nothing-here: not found" in errors[0]
    assert all(entry["authorization"] == f"Bearer {token}" for entry in state.log), (
        "the token was sent, as a header"
    )
    for text in (result.stdout, result.stderr, bad.stdout, bad.stderr):
        assert token not in text
    for entry in state.log:
        assert token not in entry["url"] and token not in entry["body"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".json.gz") for p in files)
    for path in files:
        raw = path.read_bytes()
        assert token.encode() not in raw
        if path.name.endswith(".gz"):
            assert token.encode() not in gzip.decompress(raw)


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_since_merge_equals_a_full_fetch(server: tuple[GitHubState, str], tmp_path: Path) -> None:
    state, url = server
    owner, name = PYGITHUB
    first, before = fetch(url, tmp_path / "incremental", "--include-pulls", token="t")
    assert first["mode"] == "full"
    # the world changes: an issue is edited, a comment deleted, another added, a discussion edited,
    # a reply deleted (the added comment is GENERATED data)
    state.update_issue(owner, name, 3045, title="Renamed after the first fetch")
    state.delete_issue_comment(owner, name, 1136, 1879739410)
    state.add_issue_comment(owner, name, 3043, 4_000_000_001, "A comment added after the first fetch.")
    state.edit_discussion(owner, name, 2205, body="Edited body.", bodyHTML="<p>Edited body.</p>")
    reply = state.discussion(owner, name, 2453)["comments"][0]["replies"][0]["databaseId"]
    state.delete_discussion_reply(owner, name, 2453, reply)
    # and on pull requests: a review comment added (a reply), one deleted, a review submitted
    repo = state.repo(owner, name)
    answered = repo.review_comments[3041][0]["id"]
    state.add_review_comment(owner, name, 3041, 1_799_000_001, "A review reply after the fetch.", answered)
    gone = repo.review_comments[3039][1]["id"]
    state.delete_review_comment(owner, name, 3039, gone)
    state.add_review(owner, name, 3040, 2_199_000_001, "A review submitted after the first fetch.")
    start = len(state.log)
    report, merged = fetch(url, tmp_path / "incremental", "--include-pulls", token="t")
    incremental_requests = len(state.log) - start
    incremental_urls = [e["url"] for e in state.log[start:]]
    _, full = fetch(url, tmp_path / "full", "--include-pulls", token="t")
    assert report["mode"] == "incremental" and report["status"] == "stored"
    # 3045, 1136, 3043, the pull requests 3041, 3039, 3040 and the discussions 2205, 2453
    assert report["threads_fetched"] == 8
    assert tables(merged) == tables(full)
    # 5 of the 9 pull requests changed, each costing two listings (review comments, reviews)
    assert incremental_requests < first["requests"] / 2
    # and the changes are really in it
    titles = {t["number"]: t["subject"] for t in merged["threads"] if t["kind"] != "discussion"}
    assert titles[3045] == "Renamed after the first fetch"
    ids = {c["github_id"] for c in merged["comments"] if c["kind"] == "issue_comment"}
    assert 1879739410 not in ids and 4_000_000_001 in ids
    assert reply not in {n["github_id"] for n in merged["notes"]}
    assert len(merged["notes"]) == len(before["notes"]) - 1
    kinds = {(c["kind"], c["github_id"]) for c in merged["comments"]}
    assert ("review_comment", 1_799_000_001) in kinds and ("review_comment", gone) not in kinds
    assert ("review", 2_199_000_001) in kinds
    assert sum(k == "review_comment" for k, _ in kinds) == sum(
        c["kind"] == "review_comment" for c in before["comments"]
    )  # one added, one deleted
    # the incremental run read review comments per re-fetched pull request, never repository-wide
    assert not any("/pulls/comments" in u for u in incremental_urls)
    assert sum("/pulls/3041/comments" in u for u in incremental_urls) == 1
    assert not any("/pulls/3022/" in u for u in incremental_urls)  # an unchanged one is not read
    # nothing changed since: the same 8 are read again (within the safety margin) and nothing is stored
    again, _ = fetch(url, tmp_path / "incremental", "--include-pulls", token="t")
    assert again["status"] == "unchanged" and again["threads_fetched"] == 8


def test_since_date_needs_a_snapshot_and_bad_input_is_one_line(
    server: tuple[GitHubState, str], tmp_path: Path
) -> None:
    _, url = server
    base = ["--api-url", url, "--graphql-url", f"{url}/graphql", "--data", str(tmp_path)]
    for args, needle in (
        (["--repo", REPO, "--since", "2024-01-01", *base], "no"),
        (["--repo", REPO, "--since", "yesterday", *base], "--since"),
        (["--repo", "not a repo", *base], "--repo"),
        (["--repo", REPO, "--api-url", "ftp://x", "--data", str(tmp_path)], "--api-url"),
    ):
        result = run(args, token="t")
        assert result.returncode == 2, (args, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("impactreport: error:")]
        assert len(errors) == 1 and needle in errors[0]
    unauthenticated = run(["--repo", REPO, *base, "--quiet"])
    assert unauthenticated.returncode == 0 and "GITHUB_TOKEN is not set" in unauthenticated.stderr


def test_summary_counts_what_the_fixtures_hold(
    server: tuple[GitHubState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    load = pytest.importorskip("impactreport.load")
    stats = pytest.importorskip("impactreport.stats")
    if not hasattr(load, "load_dataset") or not hasattr(stats, "summarise"):
        pytest.skip("the loader or the statistics are not there yet")
    _, url = server
    fetch(url, tmp_path, "--include-pulls", token="t")
    dataset = load.load_dataset([tmp_path])
    want = expected(fixtures_dir, include_pulls=True, reviews=served_reviews(url, pull_numbers(fixtures_dir)))
    assert want["comments"] - want["bot_comments"] > 0
    overall = stats.summarise(dataset).overall
    assert overall["discussions"] == want["threads"]
    assert overall["comments"] == want["comments"] - want["bot_comments"]
    assert overall["notes"] == want["notes"]
    assert overall["contributors"] == want["contributors"]
    assert stats.summarise(dataset, exclude_bots=False).overall["comments"] == want["comments"]
    assert dataset.projects == ["PyGithub__PyGithub"]


def test_api_urls_default_to_the_github_actions_variables(
    server: tuple[GitHubState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    state, url = server
    variables = {"GITHUB_API_URL": url, "GITHUB_GRAPHQL_URL": f"{url}/graphql"}
    result = run(["--repo", REPO, "--data", str(tmp_path), "--json", *FAST], token="t", **variables)
    assert result.returncode == 0, result.stderr
    assert (
        json.loads(result.stdout)["rows"]["threads"] == expected(fixtures_dir, include_pulls=False)["threads"]
    )
    assert any(entry["channel"] == "graphql" for entry in state.log)


def test_progress_shows_a_wait_with_its_end_time() -> None:
    progress = Progress(console=Console(file=io.StringIO()))
    shown = Display(progress)
    shown.stage("issues", None)
    shown.waiting(WaitEvent(1, 42.0, "primary rate limit (core) until reset", "http://x"))
    status = progress.tasks[0].fields["status"]
    match = re.search(r"waiting 42 s until (\d\d:\d\d:\d\d) UTC", status)
    assert match and "primary rate limit" in status
    end = datetime.combine(datetime.now(UTC).date(), time.fromisoformat(match.group(1)), UTC)
    assert abs((end - datetime.now(UTC)).total_seconds() - 42) < 3 or end.hour == 0


def test_mapping_keeps_overlapping_database_ids_apart_and_merge_replaces_whole_threads() -> None:
    from impactreport.fetch import mapping

    user = {"login": "ann", "id": 7, "type": "User"}
    bot = {"login": "helper[bot]", "id": 8, "type": "Bot"}
    when = "2024-01-01T00:00:00Z"
    issue = {
        "id": 5,
        "number": 1,
        "title": "T",
        "user": user,
        "created_at": when,
        "html_url": "i",
        "body": "b",
    }
    comment = {
        "id": 5,
        "user": bot,
        "created_at": "2024-01-02T00:00:00+01:00",
        "html_url": "i#c",
        "body": "c",
    }
    author = {"__typename": "User", "login": "ann", "databaseId": 7, "name": "Ann Smith"}
    reply = {"databaseId": 5, "id": "R", "url": "r", "createdAt": when, "author": None, "body": "r"}
    node = {
        "databaseId": 5,
        "id": "DC",
        "url": "dc",
        "createdAt": when,
        "author": author,
        "replies": {"nodes": [reply]},
    }
    discussion = {"databaseId": 5, "id": "D", "url": "d", "title": "D", "createdAt": when, "author": author}
    discussion["comments"] = {"nodes": [node]}
    full = mapping.assemble(
        [mapping.github_issue(issue, [comment]), mapping.github_discussion(discussion)], "github"
    )
    assert [len(full[t]) for t in ("threads", "comments", "notes", "profiles")] == [2, 4, 1, 3]
    assert {c["comment_id"] % mapping.BAND for c in full["comments"]} == {5}  # one database id, four rows
    profiles = {p["username"]: p for p in full["profiles"]}
    assert profiles["ann"]["first_name"] == "Ann Smith"  # the GraphQL name survives the REST row
    assert profiles["helper[bot]"]["is_bot"] and profiles["ghost"]["profile_id"] == 10137
    assert (
        next(c for c in full["comments"] if c["github_id"] == 5 and c["kind"] == "issue_comment")["published"]
        == "2024-01-01T23:00:00.000000Z"
    )
    # the bot's comment is deleted: re-fetching the issue whole drops it, and its author with it
    merged = mapping.merge(full, [mapping.github_issue(issue, [])], "github")
    assert len(merged["comments"]) == 3 and "helper[bot]" not in {p["username"] for p in merged["profiles"]}
    assert merged["notes"] == full["notes"] and merged["threads"] == full["threads"]


def test_a_pulls_snapshot_from_before_reviews_is_refetched_whole(
    server: tuple[GitHubState, str], tmp_path: Path
) -> None:
    """A snapshot with pull requests but without their reviews (options of the previous version) is not
    merged into: ``--since auto`` fetches everything once, and the reviews are there."""
    _, url = server
    _, first = fetch(url, tmp_path / "now", "--include-pulls", token="t")
    old = {k: v for k, v in first.items() if k != "retrieved"}
    old["options"] = {"include_pulls": True, "discussions": True}
    old["comments"] = [c for c in first["comments"] if not c["kind"].startswith("review")]
    SnapshotStore(tmp_path / "upgraded").save("github", "PyGithub__PyGithub", old)
    report, again = fetch(url, tmp_path / "upgraded", "--include-pulls", token="t")
    assert report["mode"] == "full" and report["status"] == "stored"
    assert tables(again) == tables(first)


def test_review_mapping_bands_and_skipped_reviews() -> None:
    """One database id in four GitHub tables gives four comment ids; a review without words or not
    submitted (pending) is no comment; a review comment keeps what it answers."""
    from impactreport.fetch import mapping

    user = {"login": "ann", "id": 7, "type": "User"}
    bot = {"login": "reviewer[bot]", "id": 8, "type": "Bot"}
    when = "2024-01-01T00:00:00Z"
    pull = {"id": 5, "number": 1, "title": "P", "user": user, "created_at": when, "html_url": "p"}
    pull["pull_request"] = {"url": "api/pulls/1"}
    comment = {"id": 5, "user": user, "created_at": when, "html_url": "c", "body": "c"}
    line = {"id": 5, "user": bot, "created_at": when, "html_url": "l", "body": "`x`", "in_reply_to_id": 4}
    reviews = [
        {"id": 5, "user": bot, "body": "Looks good.", "state": "APPROVED", "submitted_at": when},
        {"id": 6, "user": user, "body": "  ", "state": "COMMENTED", "submitted_at": when},
        {"id": 7, "user": user, "body": "draft", "state": "PENDING"},
    ]
    rows = mapping.github_issue(pull, [comment], [line], reviews)
    ids = {c["kind"]: c["comment_id"] for c in rows["comments"]}
    assert ids == {
        "pull_body": 1 * mapping.BAND + 5,
        "issue_comment": 3 * mapping.BAND + 5,
        "review_comment": 6 * mapping.BAND + 5,
        "review": 7 * mapping.BAND + 5,
    }
    review_comment = next(c for c in rows["comments"] if c["kind"] == "review_comment")
    assert review_comment["in_reply_to_id"] == 4 and review_comment["body_md"] == "`x`"
    assert {p["username"]: p["is_bot"] for p in rows["profiles"]} == {"ann": False, "reviewer[bot]": True}
