"""One data folder, three sources, fetched for real: people counted once with and without an identities file.

Issue 14, item 6. The folder is built as a user builds it: ``impactreport fetch github`` and ``impactreport
fetch discourse`` against the local replay servers (tests/servers/) store their snapshots under
``DIR/exports/<source>/<project>/``, and the real final Thinklab export of rephetio is placed in the same
store under its retrieval stamp. The recorded payloads share no username across sources, so before the
Discourse fetch the test renames two forum users on the server (GENERATED usernames, real posts):

* ``Max`` becomes ``Raboof``: the GitHub author ``raboof`` in another case, the same person (merged by the
  file);
* ``Elliot`` becomes ``dhimmel``: the Thinklab author's username, a different person (never merged).

The identities file also joins one person with different usernames: Thinklab ``dhimmel``, GitHub ``henryiii``
and ``kenorb`` (two accounts in one source) and Discourse ``Neo``. Expected counts are derived here from the
raw files (gzip + json, comment and note authors, bots left out) and the mapping applied by hand.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from impactreport.layout import EXPORTS_DIR, STAMP_PATTERN, stamp
from tests.runner import main_json
from tests.servers.discourse_app import DiscourseState
from tests.servers.github_app import GitHubState
from tests.test_fetch_discourse import fetch as fetch_discourse
from tests.test_fetch_discourse import forum  # noqa: F401  (fixture)
from tests.test_fetch_github import fetch as fetch_github
from tests.test_fetch_github import server  # noqa: F401  (fixture)

pytestmark = pytest.mark.shared

#: Discourse users renamed on the server before the fetch: old username -> new username.
RENAMED = {"Max": "Raboof", "Elliot": "dhimmel"}

IDENTITIES = """\
- name: One Person
  accounts:
    - thinklab:dhimmel
    - github:henryiii
    - github:kenorb
    - discourse:Neo
- name: Raboof
  accounts: [github:raboof, discourse:raboof]
"""

#: The same mapping, written by hand as each source compares usernames (Thinklab exactly, others ignoring case).
MAPPING = {
    ("thinklab", "dhimmel"): "One Person",
    ("github", "henryiii"): "One Person",
    ("github", "kenorb"): "One Person",
    ("discourse", "neo"): "One Person",
    ("github", "raboof"): "Raboof",
    ("discourse", "raboof"): "Raboof",
}


def rename_forum_users(state: DiscourseState, renamed: dict[str, str]) -> None:
    """The test's hand on the forum: every post of a renamed user now carries the new username."""
    with state.lock:
        for post in state.posts:
            post["username"] = renamed.get(post["username"], post["username"])


def raw_authors(folder: Path) -> dict[str, dict[int, str]]:
    """source -> profile id -> username of every comment and note author in the store, bots left out,
    read straight from the stored files."""
    found: dict[str, dict[int, str]] = {}
    for path in sorted((folder / EXPORTS_DIR).glob("*/*/*")):
        if not STAMP_PATTERN.match(path.name):
            continue
        data = path.read_bytes()
        raw = json.loads(gzip.decompress(data) if path.name.endswith(".gz") else data)
        source = path.parts[-3]
        profiles = {p["profile_id"]: p for p in raw["profiles"]}
        for row in raw["comments"] + raw["notes"]:
            profile = profiles[row["profile_id"]]
            if profile.get("is_bot") or profile["username"].endswith("[bot]"):
                continue
            found.setdefault(source, {})[row["profile_id"]] = profile["username"]
    return found


def person(source: str, pid: int, username: str, mapping: dict[tuple[str, str], str]) -> Any:
    key = (source, username if source == "thinklab" else username.lower())
    return mapping.get(key, (source, pid))


def counts(authors: dict[str, dict[int, str]], mapping: dict[tuple[str, str], str]) -> dict[str, Any]:
    """Distinct people overall and per source once ``mapping`` joins accounts."""
    per_source = {
        source: {person(source, pid, name, mapping) for pid, name in ids.items()}
        for source, ids in authors.items()
    }
    return {
        "overall": len(set().union(*per_source.values())),
        "sources": {source: len(people) for source, people in per_source.items()},
    }


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], str]:
    return main_json(capsys, "summary", *args)


@pytest.fixture
def folder(
    server: tuple[GitHubState, str],  # noqa: F811
    forum: tuple[DiscourseState, str],  # noqa: F811
    latest_dir: Path,
    tmp_path: Path,
) -> Path:
    """A data folder holding a GitHub snapshot, a Discourse snapshot and the Thinklab final export."""
    data = tmp_path / "data"
    _, github = fetch_github(server[1], data, token="t")
    state, url = forum
    rename_forum_users(state, RENAMED)
    _, discourse = fetch_discourse(url, data)
    assert github["source"] == "github" and discourse["source"] == "discourse"
    export = latest_dir / "rephetio.json"
    retrieved = json.loads(export.read_text(encoding="utf-8"))["retrieved"]
    target = data / EXPORTS_DIR / "thinklab" / "rephetio" / f"{stamp(datetime.fromisoformat(retrieved))}.json"
    target.parent.mkdir(parents=True)
    shutil.copyfile(export, target)
    return data


def test_people_across_fetched_sources_match_the_raw_files(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no data/identities.yml under the current folder: nothing applied by default
    authors = raw_authors(folder)
    assert sorted(authors) == ["discourse", "github", "thinklab"]
    usernames = {source: {name.lower() for name in ids.values()} for source, ids in authors.items()}
    # the planted collisions are there, and they are the only ones
    assert usernames["github"] & usernames["discourse"] == {"raboof"}
    assert usernames["thinklab"] & usernames["discourse"] == {"dhimmel"}
    assert usernames["thinklab"] & usernames["github"] == set()
    for source, name in MAPPING:  # every account of the file wrote something
        assert name in usernames[source], (source, name)

    accounts = counts(authors, {})
    merged = counts(authors, MAPPING)
    assert accounts == {"overall": 154, "sources": {"discourse": 11, "github": 95, "thinklab": 48}}
    # One Person: 4 accounts -> 1 (2 of them in GitHub); Raboof: 2 -> 1; discourse dhimmel stays apart
    assert merged == {"overall": 150, "sources": {"discourse": 11, "github": 94, "thinklab": 48}}

    (forum_project,) = [p.name for p in (folder / EXPORTS_DIR / "discourse").iterdir()]
    stats, err = summary(capsys, str(folder))
    assert stats["overall"]["contributors"] == accounts["overall"]
    assert {s: v["contributors"] for s, v in stats["sources"].items()} == accounts["sources"]
    assert {name: p["source"] for name, p in stats["projects"].items()} == {
        forum_project: "discourse",
        "PyGithub__PyGithub": "github",
        "rephetio": "thinklab",
    }
    hint = [line for line in err.splitlines() if "several sources" in line]
    assert len(hint) == 1 and "(dhimmel, raboof)" in hint[0] and "--identities" in hint[0]

    file = tmp_path / "identities.yml"
    file.write_text(IDENTITIES, encoding="utf-8")
    stats, err = summary(capsys, str(folder), "--identities", str(file))
    assert stats["overall"]["contributors"] == merged["overall"]
    assert {s: v["contributors"] for s, v in stats["sources"].items()} == merged["sources"]
    assert "several sources" not in err and "matches no author" not in err
    # comments per source are the raw files' (bots left out by default, as the counts above)
    (rephetio,) = (folder / EXPORTS_DIR / "thinklab" / "rephetio").iterdir()
    assert stats["sources"]["thinklab"]["comments"] == len(json.loads(rephetio.read_text())["comments"])


def test_discourse_projects_of_two_forums_are_warned_about(
    forum: tuple[DiscourseState, str],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each forum numbers its own users: two forums' projects in one count would join user 5 of one
    with user 5 of the other. Two categories of one forum share its users and are not warned about."""
    data = tmp_path / "data"
    fetch_discourse(forum[1], data)
    (project,) = (data / EXPORTS_DIR / "discourse").iterdir()
    host = project.name.split("__")[0]
    shutil.copytree(project, project.with_name(f"{host}__another-category"))
    _, said = summary(capsys, str(data / EXPORTS_DIR))
    assert "forums" not in said
    shutil.copytree(project, project.with_name("forum.example.org"))
    _, said = summary(capsys, str(data / EXPORTS_DIR))
    line = next(line for line in said.splitlines() if "forums" in line)
    assert f"2 forums ({host} and forum.example.org)" in line and "one person" in line


def test_a_source_without_views_has_none_gained_in_a_period(tmp_path: Path, capsys) -> None:
    """A mailing list has no views: over a period its views gained were summed as 0 beside a Thinklab
    project's; they are null, and the totals are the Thinklab project's alone."""
    from impactreport.cli.main import main
    from tests.builders import comment, export, profile, thread, write_snapshot

    def snapshot(views: int | None, day: str) -> dict:
        return export(
            threads=[thread(1, published="2016-03-01T00:00:00.000000Z", views=views)],
            comments=[comment(10, published="2016-03-01T00:00:00.000000Z")],
            profiles=[profile(1, "ann")],
            retrieved=f"{day}T00:00:00.000000Z",
        )

    data = tmp_path / "data"
    for day, views in (("2016-01-01", 5), ("2016-12-31", 12)):
        write_snapshot(data, "thinklab", "lab", f"{day}T000000Z", snapshot(views, day))
        write_snapshot(data, "mail", "list", f"{day}T000000Z", snapshot(None, day) | {"source": "mail"})
    assert main(["summary", str(data), "--since", "2016-01-01", "--until", "2016-12-31", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["projects"]["list"]["views"] is None
    assert result["projects"]["lab"]["views"] == 7
    assert result["overall"]["views"] == 7
