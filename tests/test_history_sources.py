"""History of GitHub and Discourse snapshots: two real fetches from the local test servers with an edit
on the server between them, then ``impactreport summary <data>/exports --history --json`` (the real
command, in a subprocess).

What must hold (README, "History"): the edit is one revision of that one post, however many edits
were made between the two fetches; inserted/deleted characters follow the longest common subsequence
of the two source texts (computed here by a plain dynamic programme, in code points, after CRLF → LF);
a change of Discourse's ``cooked`` HTML with the same ``raw`` markdown is a re-render, not a revision;
a post removed on the server is one deleted post. The servers (tests/servers/) mark what they
generate; the bodies edited here are real captured ones.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from impactreport.fetch.store import SnapshotStore, read_snapshot
from impactreport.history import load_versions
from impactreport.history.revisions import events
from tests.runner import cli, unset
from tests.servers.discourse_app import DiscourseState
from tests.servers.github_app import PYGITHUB, GitHubState, serve

pytestmark = pytest.mark.shared

GITHUB_FAST = ["--backoff", "0.05", "--secondary-wait", "0.2"]
DISCOURSE_FAST = ["--backoff", "0.05", "--rate", "0"]
BAND = 10**12  # the GitHub id bands of docs/sources.md: issue comments 3, discussion comments 5
ISSUE_COMMENT, DISCUSSION_COMMENT = 3, 5


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of two strings (code points): the textbook dynamic
    programme, one row at a time."""
    previous = [0] * (len(b) + 1)
    for char in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if char == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def changed(old: str, new: str) -> tuple[int, int]:
    """(inserted, deleted) characters from ``old`` to ``new`` after CRLF → LF."""
    old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
    common = lcs_length(old, new)
    return len(new) - common, len(old) - common


def test_lcs_length_is_the_textbook_one() -> None:
    assert lcs_length("ABCBDAB", "BDCABA") == 4  # Cormen et al.'s example
    assert lcs_length("", "abc") == lcs_length("abc", "") == 0
    assert lcs_length("naïve 🙂", "naive 🙂!") == 6  # code points: the emoji is one
    assert changed("a\r\nb", "a\nb") == (0, 0)


def command(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env: dict[str, str | None] = {**unset("GITHUB_", "DISCOURSE_"), "COLUMNS": "200"}
    if token is not None:
        env["GITHUB_TOKEN"] = token  # GraphQL (Discussions) needs one; the test server takes any
    return cli(*args, env=env, timeout=300)


def history(data: Path, project: str) -> dict[str, Any]:
    """The ``history`` object of one project from ``summary --history --json`` (no notice expected)."""
    result = command("summary", str(data / "exports"), "--history", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return json.loads(result.stdout)["projects"][project]["history"]


def revised_posts(data: Path) -> list[tuple[str, str]]:
    """(kind, key) of every revision the versioned tables hold (the post the count is about)."""
    frame = events(load_versions([data / "exports"], lambda _: None)).filter("revision")
    return sorted(frame.select("kind", "key").iter_rows())


# -- GitHub -------------------------------------------------------------------------------------


@pytest.fixture
def github(fixtures_dir: Path) -> Iterator[tuple[GitHubState, str]]:
    state = GitHubState.from_fixtures(fixtures_dir)
    with serve(state) as url:
        yield state, url


def fetch_github(url: str, data: Path, *extra: str) -> dict[str, Any]:
    """One ``fetch github`` of PyGithub/PyGithub; the stored snapshot."""
    result = command(
        "fetch",
        "github",
        "--repo",
        "/".join(PYGITHUB),
        "--api-url",
        url,
        "--graphql-url",
        f"{url}/graphql",
        "--data",
        str(data),
        "--json",
        *GITHUB_FAST,
        *extra,
        token="t",
    )
    assert result.returncode == 0, result.stderr
    return read_snapshot(Path(json.loads(result.stdout)["file"]))


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_github_comment_edit_is_one_revision_and_a_removed_one_a_deletion(
    github: tuple[GitHubState, str], tmp_path: Path
) -> None:
    state, url = github
    owner, name = PYGITHUB
    project = f"{owner}__{name}"
    first = fetch_github(url, tmp_path)
    edited, removed = 2012384661, 2016818677  # real comments of issue 1136; the first has CRLFs
    old = next(c["body_md"] for c in first["comments"] if c["github_id"] == edited)
    assert "\r\n" in old
    before = history(tmp_path, project)
    assert before["snapshots"] == 1 and before["revisions"] == 0

    new = old.replace("Just tried", "Tried again").replace("\r\n\r\n", "\n\n", 1) + "\n\nEdit: naïve 🙂"
    state.edit_issue_comment(owner, name, 1136, edited, new)
    second = fetch_github(url, tmp_path, "--since", "full")
    assert next(c["body_md"] for c in second["comments"] if c["github_id"] == edited) == new
    inserted, deleted = changed(old, new)
    assert inserted > 0 and deleted > 0
    after = history(tmp_path, project)
    assert after["snapshots"] == 2
    assert after["revisions"] == after["comment_revisions"] == after["edited_posts"] == 1
    assert after["note_revisions"] == after["document_revisions"] == 0
    assert (after["inserted_characters"], after["deleted_characters"]) == (inserted, deleted)
    assert after["written_characters"] == before["written_characters"] + inserted
    assert after["rerenders"] == after["deleted_posts"] == 0
    assert revised_posts(tmp_path) == [("comment", str(ISSUE_COMMENT * BAND + edited))]

    state.delete_issue_comment(owner, name, 1136, removed)
    fetch_github(url, tmp_path, "--since", "full")
    last = history(tmp_path, project)
    assert last["snapshots"] == 3 and last["deleted_posts"] == 1
    assert (last["revisions"], last["rerenders"]) == (1, 0)


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_github_discussion_comment_edited_twice_is_one_revision_with_its_editor(
    github: tuple[GitHubState, str], tmp_path: Path
) -> None:
    """Two edits between two fetches are one revision (the first text against the last); GraphQL's
    ``editor`` (the last editor, here not the comment's author) is stored as ``editor_id``."""
    state, url = github
    owner, name = PYGITHUB
    project = f"{owner}__{name}"
    discussion = next(
        d
        for d in state.repo(owner, name).discussions
        if any(c["author"]["login"] != d["author"]["login"] for c in d["comments"])
    )
    comment = next(c for c in discussion["comments"] if c["author"]["login"] != discussion["author"]["login"])
    first = fetch_github(url, tmp_path)
    key = DISCUSSION_COMMENT * BAND + comment["databaseId"]
    row = next(c for c in first["comments"] if c["comment_id"] == key)
    assert row["editor_id"] is None  # never edited
    old = row["body_md"]

    middle = old + "\n\nA first edit by its author."
    final = old.replace("GENERATED", "Generated") + "\n\nEdited by a maintainer."
    state.edit_discussion_comment(owner, name, discussion["number"], comment["databaseId"], middle)
    state.edit_discussion_comment(
        owner, name, discussion["number"], comment["databaseId"], final, editor=discussion["author"]
    )
    second = fetch_github(url, tmp_path, "--since", "full")
    row = next(c for c in second["comments"] if c["comment_id"] == key)
    assert row["body_md"] == final
    assert row["editor_id"] == discussion["author"]["databaseId"] != row["profile_id"]
    assert row["profile_id"] == comment["author"]["databaseId"]
    others = [c for c in second["comments"] + second["notes"] if c.get("editor_id") is not None]
    assert others == [row]
    graphql = [entry["body"] for entry in state.log if entry["channel"] == "graphql"]
    assert graphql and all("editor {" in body for body in graphql)

    inserted, deleted = changed(old, final)
    level = history(tmp_path, project)
    assert level["revisions"] == level["comment_revisions"] == level["edited_posts"] == 1
    assert (level["inserted_characters"], level["deleted_characters"]) == (inserted, deleted)
    assert (level["rerenders"], level["deleted_posts"]) == (0, 0)
    assert revised_posts(tmp_path) == [("comment", str(key))]


# -- Discourse ----------------------------------------------------------------------------------


@pytest.fixture
def discourse(fixtures_dir: Path) -> Iterator[tuple[DiscourseState, str]]:
    state = DiscourseState.from_fixtures(fixtures_dir)
    with serve(state) as url:
        yield state, url


def fetch_discourse(url: str, data: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    """One ``fetch discourse``; (its project, the stored snapshot)."""
    result = command(
        "fetch", "discourse", "--base-url", url, "--data", str(data), "--json", *DISCOURSE_FAST, *extra
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return report["project"], read_snapshot(Path(report["file"]))


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_discourse_edits_rerender_and_deletion(
    discourse: tuple[DiscourseState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    """Two edits of one post's markdown between two fetches: one revision, on ``raw``; a new ``cooked``
    of another post with the same ``raw``: one re-render; a post removed: one deleted post."""
    state, url = discourse
    captured = {
        p["id"]: p["raw"]
        for p in json.loads((fixtures_dir / "discourse" / "posts.json").read_text())["latest_posts"]
    }
    edited, rebaked, removed = 20178, 20174, 20171  # real posts with their real markdown
    project, first = fetch_discourse(url, tmp_path)
    stored = {c["comment_id"]: c for c in first["comments"]}
    # the source text stored is the markdown (raw), not the HTML
    assert all(stored[i]["body_md"] == captured[i] for i in (edited, rebaked, removed))
    old = captured[edited]
    before = history(tmp_path, project)

    state.edit_post(edited, old + "\n\nEdit: a typo fixed.")
    final = old.replace("problem", "issue") + "\n\nEdit: naïve 🙂 – really fixed."
    state.edit_post(edited, final)
    new_cooked = stored[rebaked]["body_html"].replace("<p>", '<p dir="auto">')
    assert new_cooked != stored[rebaked]["body_html"]
    state.rebake_post(rebaked, new_cooked)
    _, second = fetch_discourse(url, tmp_path, "--since", "full")
    now = {c["comment_id"]: c for c in second["comments"]}
    assert now[edited]["body_md"] == final
    assert now[rebaked]["body_md"] == captured[rebaked] and now[rebaked]["body_html"] == new_cooked

    inserted, deleted = changed(old, final)
    assert inserted > 0 and deleted > 0
    level = history(tmp_path, project)
    assert level["snapshots"] == 2
    assert level["revisions"] == level["comment_revisions"] == level["edited_posts"] == 1
    assert (level["inserted_characters"], level["deleted_characters"]) == (inserted, deleted)
    assert level["written_characters"] == before["written_characters"] + inserted
    assert level["rerenders"] == 1 and level["deleted_posts"] == 0
    assert revised_posts(tmp_path) == [("comment", str(edited))]

    state.delete_post(removed)
    fetch_discourse(url, tmp_path, "--since", "full")
    last = history(tmp_path, project)
    assert last["snapshots"] == 3 and last["deleted_posts"] == 1
    assert (last["revisions"], last["rerenders"]) == (1, 1)


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_discourse_markdown_arriving_after_an_upgrade_is_no_revision(
    discourse: tuple[DiscourseState, str], tmp_path: Path
) -> None:
    """A snapshot written before the fetcher asked for ``raw`` holds ``body_md: ""`` beside the HTML
    (``post.get("raw") or ""``); the next one has the markdown. Nothing was edited."""
    _, url = discourse
    project, now = fetch_discourse(url, tmp_path / "scratch")
    old = {key: value for key, value in now.items() if key != "retrieved"}
    old["options"] = {"category": None}
    old["comments"] = [{**comment, "body_md": ""} for comment in now["comments"]]
    SnapshotStore(tmp_path / "data").save("discourse", project, old)
    fetch_discourse(url, tmp_path / "data")
    level = history(tmp_path / "data", project)
    assert level["snapshots"] == 2
    assert (level["revisions"], level["rerenders"], level["inserted_characters"]) == (0, 0, 0)


def test_github_editor_reaches_the_versioned_tables(github: tuple[GitHubState, str], tmp_path: Path) -> None:
    state, url = github
    owner, name = PYGITHUB
    discussion = state.discussion(owner, name, 2993)
    comment = discussion["comments"][0]
    fetch_github(url, tmp_path)
    state.edit_discussion_comment(
        owner, name, 2993, comment["databaseId"], "Edited.", editor=discussion["author"]
    )
    fetch_github(url, tmp_path, "--since", "full")
    comments = load_versions([tmp_path / "exports"], lambda _: None).tables["comments"]
    key = str(DISCUSSION_COMMENT * BAND + comment["databaseId"])
    editors = comments.filter(comments["key"] == key)["editor_id"].to_list()
    assert editors == [None, discussion["author"]["databaseId"]]
