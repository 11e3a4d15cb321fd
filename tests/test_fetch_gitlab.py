"""``impactreport fetch gitlab`` against a GitLab-like REST v4 server on 127.0.0.1 (tests/servers/gitlab_app.py).

Every count is checked against one computed here from the server's own data by another route: the
server's Python objects (not its JSON answers), its own knowledge of which users are bots, and words
as ``\\w+`` runs of the markdown, never the package's mapping or loader.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from impactreport.fetch import gitlab_mapping
from impactreport.fetch.gitlab import next_url, project_name
from impactreport.fetch.ratelimits import GitLabLimits
from tests.runner import cli, cli_json, unset
from tests.servers.github_app import serve
from tests.servers.gitlab_app import PROJECT_PATH, GitLabState
from tests.servers.origin_app import Pointer, Recorder

FAST = ["--backoff", "0.05"]
WORD = re.compile(r"\w+")


# -- the command ----------------------------------------------------------------------------------


def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env: dict[str, str | None] = {**unset("GITLAB_"), "COLUMNS": "200"}
    if token is not None:
        env["GITLAB_TOKEN"] = token
    return cli(*args, env=env, timeout=120)


def fetch(url: str, data: Path, token: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "fetch", "gitlab", "--project", PROJECT_PATH, "--base-url", url, "--data", str(data), "--json",
        *FAST, *extra, token=token,
    )  # fmt: skip


def stored(data: Path) -> tuple[Path, dict[str, Any]]:
    """The newest snapshot file under ``data`` and its payload."""
    [folder] = (data / "exports" / "gitlab").iterdir()
    newest = sorted(folder.glob("*.json.gz"))[-1]
    return newest, json.loads(gzip.decompress(newest.read_bytes()))


def summary(data: Path, *extra: str) -> dict[str, Any]:
    return cli_json("summary", data, "--json", *extra, env={**unset("GITLAB_"), "COLUMNS": "200"})["overall"]


@pytest.fixture
def server() -> Any:
    state = GitLabState()
    with serve(state) as url:
        yield state, url


# -- the expectation, from the server's objects -----------------------------------------------------


def expected(state: GitLabState) -> dict[str, Any]:
    """Threads, comments, people and words a complete fetch must give, counted from the server's data."""
    items, notes = state.snapshot()
    posts = []  # (user, markdown) of every description and user note
    for kind, by_iid in items.items():
        for iid, item in by_iid.items():
            posts.append((item["author"], item["description"] or ""))
            posts += [(n["author"], n["body"]) for n in notes[(kind, iid)] if not n["system"]]
    people = [(user, body) for user, body in posts if not user.bot]
    return {
        "threads": sum(len(by_iid) for by_iid in items.values()),
        "comments": len(people),
        "all_comments": len(posts),
        "contributors": len({user.username.lower() for user, _ in people}),
        "accounts": len({user.id for user, _ in posts}),
        "words": sum(len(WORD.findall(body)) for _, body in people),
        # read only where the item has user notes: an item without any is not asked for its notes
        "system_notes": sum(
            1
            for (kind, iid), listed in notes.items()
            for n in listed
            if n["system"] and items[kind][iid]["user_notes_count"]
        ),
        "bot_comments": len(posts) - len(people),
    }


def tables(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: payload[key] for key in ("documents", "threads", "comments", "notes", "profiles")}


# -- tests ----------------------------------------------------------------------------------------


def test_full_fetch_counts_what_the_server_holds(server: tuple[GitLabState, str], tmp_path: Path) -> None:
    state, url = server
    want = expected(state)
    assert want["system_notes"] > 0 and want["bot_comments"] > 0  # the data exercise both exclusions
    result = fetch(url, tmp_path, state.token)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "plain http" in result.stderr
    assert (
        report["project"]
        == project_name(PROJECT_PATH, url)
        == f"research__impact__tools@127.0.0.1_{url.rsplit(':', 1)[1]}"
    )
    assert report["rows"]["threads"] == want["threads"]
    assert report["rows"]["comments"] == want["all_comments"]  # bots are kept, marked, in the snapshot
    assert report["rows"]["profiles"] == want["accounts"]
    assert report["fetched"]["system_notes"] == want["system_notes"]
    # one request for the project, one per listing (one page each), one per item with user notes
    items, _ = state.snapshot()
    with_notes = sum(1 for by_iid in items.values() for item in by_iid.values() if item["user_notes_count"])
    assert report["requests"] == len(state.log) == 3 + with_notes
    assert "research%2Fimpact%2Ftools" in state.log[0]["url"]  # the path as one URL-encoded segment

    overall = summary(tmp_path)
    assert overall["discussions"] == want["threads"]
    assert overall["comments"] == want["comments"]
    assert overall["contributors"] == want["contributors"]
    assert overall["words"] == overall["comment_words"] == want["words"]
    assert overall["notes"] == 0
    assert summary(tmp_path, "--include-bots")["comments"] == want["all_comments"]

    _, payload = stored(tmp_path)
    assert payload["source"] == "gitlab" and payload["project"]["path"] == PROJECT_PATH
    bots = {row["username"] for row in payload["profiles"] if row["is_bot"]}
    assert bots == {"project_4242_bot_5f2a9c1e", "renovate-runner"}
    kinds = {(row["kind"], row["gitlab_id"]) for row in payload["threads"]}
    assert ("issue", 101) in kinds and ("merge_request", 101) in kinds  # overlapping ids kept apart
    edited = [c for c in payload["comments"] if c["kind"] == "note" and c["updated"] != c["published"]]
    assert len(edited) == 1 and "Edited to add" in edited[0]["body_md"]
    assert all(c["url"].startswith("https://gitlab.example.org/") for c in payload["comments"])


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_incremental_fetch_rereads_only_what_changed_and_equals_a_full_fetch(
    server: tuple[GitLabState, str], tmp_path: Path
) -> None:
    state, url = server
    data = tmp_path / "data"
    assert fetch(url, data, state.token).returncode == 0
    state.add_note("issue", 2, "bob", "A new remark on the citation metrics")
    state.edit_note("merge_request", 1, 0, "Rewritten: the pipelines are reproducible now")
    state.delete_note("issue", 5, 0)
    state.log.clear()
    result = fetch(url, data, state.token, "--since", "auto")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "incremental" and report["threads_fetched"] == 3
    # the project, two listings, the notes of two items: issue 5 lost its only user note
    # (user_notes_count 0), so its notes are not asked for, and its thread is replaced without it
    assert state.items["issue"][5]["user_notes_count"] == 0
    assert report["requests"] == len(state.log) == 3 + 2
    listings = [e["url"] for e in state.log if re.search(r"/(issues|merge_requests)\?", e["url"])]
    assert len(listings) == 2 and all("updated_after=" in listing for listing in listings)

    fresh = tmp_path / "fresh"
    assert fetch(url, fresh, state.token, "--since", "full").returncode == 0
    assert tables(stored(data)[1]) == tables(stored(fresh)[1])
    assert summary(data) == summary(fresh)
    assert summary(data)["comments"] == expected(state)["comments"]


def test_the_token_stays_in_its_header(server: tuple[GitLabState, str], tmp_path: Path) -> None:
    state, url = server
    token = state.token
    assert token is not None
    help_text = run("fetch", "gitlab", "--help").stdout
    assert "token" not in re.sub(r"GITLAB_TOKEN", "", help_text).lower()  # no option takes it
    result = fetch(url, tmp_path, token)
    assert result.returncode == 0
    assert token not in result.stdout + result.stderr
    assert all(entry["token"] == token and token not in entry["url"] for entry in state.log)
    file, _ = stored(tmp_path)
    assert token.encode() not in gzip.decompress(file.read_bytes())
    refused = fetch(url, tmp_path / "none", None)  # a private project without a token
    assert refused.returncode == 1 and "GITLAB_TOKEN is not set" in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("impactreport: error:")]
    assert len(errors) == 1 and "access refused (HTTP 401" in errors[0]


def test_a_redirect_to_another_origin_never_gets_the_token(
    server: tuple[GitLabState, str], tmp_path: Path
) -> None:
    state, url = server
    other = Recorder()
    with serve(other) as elsewhere:
        state.redirect_to = elsewhere
        state.plan([None, "redirect"])  # the project, then the issues listing redirects
        result = fetch(url, tmp_path, state.token, "--max-attempts", "1")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("impactreport: error:")]
    assert len(errors) == 1 and "redirected to another origin" in errors[0]
    assert other.log == []  # nothing was sent there, the token least of all
    assert state.token not in result.stderr


@pytest.mark.slow
def test_faults_and_rate_limits_are_survived(server: tuple[GitLabState, str], tmp_path: Path) -> None:
    state, url = server
    state.max_per_page = 2  # many pages: the faults land on listings and their later pages
    state.plan(["502", None, "429", "reset", None, "429_reset", "spent", None, "502"])
    result = fetch(url, tmp_path / "faulty", state.token)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["waits"] >= 5 and report["waited_seconds"] >= 2  # Retry-After 1, two resets ≥ 1 s
    state.max_per_page, state.next_page_header = 3, False  # pages by the Link header alone
    assert fetch(url, tmp_path / "clean", state.token).returncode == 0
    assert tables(stored(tmp_path / "faulty")[1]) == tables(stored(tmp_path / "clean")[1])
    assert summary(tmp_path / "faulty")["comments"] == expected(state)["comments"]


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        ("no_id", r"/api/v4/projects/4242/issues\?\S*: issue 0 has no field 'id'"),
        ("empty_object", r"/api/v4/projects/4242/issues\?\S*: expected a JSON list of issues, got dict"),
    ],
)
def test_malformed_answers_give_one_line_naming_url_and_field(
    server: tuple[GitLabState, str], tmp_path: Path, damage: str, needle: str
) -> None:
    state, url = server
    if damage == "no_id":
        first = min(state.items["issue"].values(), key=lambda item: item["created_at"])
        del first["id"]
    else:
        state.plan([None, "empty_object"])
    result = fetch(url, tmp_path, state.token, "--max-attempts", "1")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("impactreport: error:")]
    assert len(errors) == 1 and re.search(needle, errors[0]), result.stderr
    assert "Traceback" not in result.stderr


def test_mapping_drops_system_notes_marks_bots_and_bands_ids() -> None:
    alice = {"id": 1, "username": "alice", "name": "Alice A", "web_url": "https://g/alice"}
    bot = {"id": 2, "username": "helper", "name": "Helper", "bot": True}
    token_bot = {"id": 3, "username": "group_77_bot_ab12", "name": "group bot"}
    when = "2026-01-01T10:00:00.000Z"
    item = {"id": 9, "iid": 1, "title": "T", "description": "a < b", "author": alice, "created_at": when}
    item["web_url"] = "https://g/p/-/issues/1"
    notes = [
        {"id": 9, "body": "hi", "author": alice, "created_at": when, "system": False},
        {"id": 10, "body": "changed the description", "author": alice, "created_at": when, "system": True},
        {"id": 11, "body": "beep", "author": bot, "created_at": when, "system": False},
        {"id": 12, "body": "boop", "author": token_bot, "created_at": when, "system": False},
    ]
    rows = gitlab_mapping.gitlab_item(item, notes, "issue")
    assert [c["comment_id"] for c in rows["comments"]] == [
        10**12 + 9,
        3 * 10**12 + 9,
        3 * 10**12 + 11,
        3 * 10**12 + 12,
    ]
    assert rows["comments"][0]["body_html"] == "<p>a &lt; b</p>" and rows["comments"][0]["body_md"] == "a < b"
    assert rows["comments"][1]["url"] == "https://g/p/-/issues/1#note_9"
    assert [p["is_bot"] for p in rows["profiles"]] == [False, False, True, True]
    mr = gitlab_mapping.gitlab_item(
        {**item, "web_url": "https://g/p/-/merge_requests/1"}, [], "merge_request"
    )
    assert mr["threads"][0]["thread_id"] == 2 * 10**12 + 9 != rows["threads"][0]["thread_id"]
    assert rows["threads"][0]["views"] is None and rows["threads"][0]["iid"] == 1
    assert not gitlab_mapping.is_bot({"username": "project_bot_fan"})


def test_folder_names_and_pages() -> None:
    assert project_name("group/name") == project_name("group/name", "https://gitlab.com/") == "group__name"
    assert project_name("a/b/c", "https://git.example.org") == "a__b__c@git.example.org"
    assert project_name("a/b", "http://[::1]:8080") == "a__b@ipv6_--1_8080"

    answer = SimpleNamespace(
        url="https://g/api/v4/projects/1/issues?per_page=100&page=2&sort=asc",
        headers={"x-next-page": "3"},
        links={},
    )
    assert next_url(answer) == "https://g/api/v4/projects/1/issues?per_page=100&sort=asc&page=3"
    answer.headers, answer.links = {"x-next-page": ""}, {"next": {"url": "https://g/elsewhere"}}
    assert next_url(answer) is None  # an empty X-Next-Page is the last page, whatever Link says
    answer.headers = {}
    assert next_url(answer) == "https://g/elsewhere"


def test_a_next_link_to_another_origin_is_refused(tmp_path: Path) -> None:
    other = Recorder()
    with serve(other) as elsewhere:
        listing = (200, {"Link": f'<{elsewhere}/api/v4/projects/1/issues?page=2>; rel="next"'}, [])
        pointer = Pointer(
            {
                "/api/v4/projects/g/n": (200, {}, {"id": 1, "web_url": "https://g/g/n"}),
                "/api/v4/projects/1/issues": listing,
            }
        )
        with serve(pointer) as url:
            result = run(
                "fetch", "gitlab", "--project", "g/n", "--base-url", url, "--data", str(tmp_path),
                "--max-attempts", "1", token="secret-token",
            )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("impactreport: error:")]
    assert len(errors) == 1 and "another origin" in errors[0] and "secret-token" not in result.stderr
    assert other.log == []


def test_a_project_that_is_no_gitlab_path_is_refused(tmp_path: Path) -> None:
    from impactreport.cli.fetch_gitlab import PROJECT_PATTERN

    for bad in ("name", "group/", "/name", "-x/y", "a/b?c", "a//b", "a/../b"):
        assert not PROJECT_PATTERN.match(bad), bad
    assert all(PROJECT_PATTERN.match(good) for good in ("g/n", "a/b/c", "_g/n.x-y", "G1/N_2"))
    result = run("fetch", "gitlab", "--project", "group/name.git", "--data", str(tmp_path))
    assert result.returncode == 2 and "expected GROUP/NAME" in result.stderr
    assert not (tmp_path / "exports").exists()


def test_gitlab_limits_wait_for_429_and_after_a_spent_quota() -> None:
    def answer(status: int, **headers: str) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
        return response

    limits = GitLabLimits()
    soon = str(int(time.time()) + 30)
    wait = limits.classify(answer(429, Retry_After="7", RateLimit_Reset=soon))
    assert wait is not None and wait.seconds == 7
    wait = limits.classify(answer(429, RateLimit_Remaining="0", RateLimit_Reset=soon))
    assert wait is not None and 29 <= wait.seconds <= 32
    assert limits.classify(answer(429)) is None and limits.hits == 3  # the layer's backoff then
    assert limits.classify(answer(200, RateLimit_Remaining="0", RateLimit_Reset=soon)) is None
    pause = limits.pause()  # the good answer is kept; the next request waits for the reset
    assert pause is not None and 29 <= pause.seconds <= 32 and limits.pause() is None
    assert limits.classify(answer(200, RateLimit_Remaining="5", RateLimit_Reset=soon)) is None
    assert limits.pause() is None and limits.classify(answer(502)) is None
