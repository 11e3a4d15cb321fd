"""People across sources: the identities file, `identities suggest`, sources in the results.

The data folder is built in tmp_path from the real final Thinklab export of rephetio plus a small GitHub
and a small Discourse export with planted people: a username shared by Thinklab and GitHub (another case),
one person with a different username on Discourse (same full name in capitals), a full name in fullwidth
letters (equal after NFKC), a username shared by two different people (alizee), and near misses that must
not be suggested. Expected counts are derived here from the raw JSON files, not from the package's tables.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from impactreport.cli.main import main
from impactreport.errors import InputError
from impactreport.identities import Identities, parse_identities, read_identities
from impactreport.stats import KEYS
from tests import builders
from tests.builders import comment, note, profile, thread
from tests.runner import main_json

# source -> [(profile id, username, first name, last name, comments)]
PLANTED = {
    "github": [
        (901, "DHimmel", "Daniel", "Himmelstein", 3),  # = thinklab dhimmel, username ignoring case
        (902, "cgreene", "Ｃａｓｅｙ", "Ｇｒｅｅｎｅ", 2),  # = thinklab caseygreene, full name after NFKC
        (903, "bob", "Bob", "Builder", 1),
        (904, "ljensen", "Lars", "Jensen", 1),  # not "Lars Juhl Jensen": no match
        (905, "sam", "Sam", "Silent", 0),  # a profile without posts: never suggested
    ],
    "discourse": [
        (701, "daniel_h", "DANIEL", "HIMMELSTEIN", 2),  # same person, another username
        (702, "alizee", "Alice", "Zee", 2),  # the username of a different Thinklab person
        (703, "bobby", "Bobby", "Tables", 1),
        (704, "Sam", "", "", 1),  # sam has no posts on GitHub
    ],
}
IDENTITIES = """\
- name: Daniel Himmelstein
  team: true
  accounts: [thinklab:dhimmel, github:dhimmel, discourse:Daniel_H]
- name: Casey Greene
  accounts:
    - thinklab:caseygreene
    - github:CGREENE
- name: Nobody Here
  accounts: [github:ghost]
"""


def export(source: str, users: list[tuple[int, str, str, str, int]]) -> dict:
    """A format-C export of ``source``: one thread, each user's comments in it, one note by the first."""
    comments: list[dict[str, object]] = []
    for pid, _, _, _, count in users:
        for i in range(count):
            day = f"2018-02-{1 + len(comments):02d}T12:00:00.000000Z"
            comments.append(
                comment(pid * 10 + i, 1, pid, day, f"comment {i} by {pid}", url=f"/t/1#{pid * 10 + i}")
            )
    return builders.export(
        threads=[thread(1, users[0][0], "2018-01-31T00:00:00.000000Z", subject="hello", url="/t/1", views=5)],
        comments=comments,
        notes=[
            note(
                1,
                comments[0]["comment_id"],
                users[1][0],
                "2018-02-20T00:00:00.000000Z",
                "a note",
                url="/t/1#note-1",
            )
        ],
        profiles=[profile(pid, name, first, last) for pid, name, first, last, _ in users],
        retrieved="2018-03-01T00:00:00.000000Z",
        source=source,
    )


@pytest.fixture
def data(latest_dir: Path, tmp_path: Path) -> list[Path]:
    """rephetio (Thinklab, real) + octo__repo (GitHub) + forum.example.org (Discourse) export files."""
    folder = tmp_path / "data"
    folder.mkdir()
    paths = [folder / "rephetio.json", folder / "octo__repo.json", folder / "forum.example.org.json"]
    shutil.copyfile(latest_dir / "rephetio.json", paths[0])
    paths[1].write_text(json.dumps(export("github", PLANTED["github"])), encoding="utf-8")
    paths[2].write_text(json.dumps(export("discourse", PLANTED["discourse"])), encoding="utf-8")
    return paths


# -- counts derived from the raw files --------------------------------------------------------------
def raw_authors(paths: list[Path]) -> dict[str, dict[int, tuple[str, str]]]:
    """source -> author id -> (username, full name) of every comment and note author."""
    found: dict[str, dict[int, tuple[str, str]]] = {}
    for path in paths:
        raw = json.loads(path.read_text(encoding="utf-8"))
        source = raw.get("source", "thinklab")
        profiles = {p["profile_id"]: p for p in raw["profiles"]}
        for row in raw["comments"] + raw["notes"]:
            p = profiles[row["profile_id"]]
            full = f"{p['first_name']} {p['last_name']}".strip()
            found.setdefault(source, {})[row["profile_id"]] = (p["username"], full)
    return found


def people(authors: dict[str, dict[int, tuple[str, str]]], mapping: dict[str, str]) -> set[str]:
    """Distinct people: the mapped name of an account listed in ``mapping`` (``source:username`` as the
    source compares it), else the account ``source:id``."""
    found = set()
    for source, ids in authors.items():
        for pid, (username, _) in ids.items():
            key = f"{source}:{username if source == 'thinklab' else username.lower()}"
            found.add(mapping.get(key, f"{source}:{pid}"))
    return found


MAPPING = {
    "thinklab:dhimmel": "Daniel",
    "github:dhimmel": "Daniel",
    "discourse:daniel_h": "Daniel",
    "thinklab:caseygreene": "Casey",
    "github:cgreene": "Casey",
}


def summary(capsys, *args: str) -> tuple[dict, str]:
    return main_json(capsys, "summary", *args)


@pytest.mark.shared
def test_counts_with_and_without_the_file_match_the_raw_files(
    data: list[Path], tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no data/identities.yml here: the default applies nothing
    authors = raw_authors(data)
    accounts = people(authors, {})
    merged = people(authors, MAPPING)
    assert len(accounts) - len(merged) == 3  # Daniel: 3 accounts → 1; Casey: 2 → 1

    stats, err = summary(capsys, *map(str, data))
    assert stats["overall"]["contributors"] == len(accounts)
    assert stats["overall"]["non_team_contributors"] == len(accounts)
    hint = [line for line in err.splitlines() if "several sources" in line]
    assert len(hint) == 1 and "(alizee, dhimmel)" in hint[0] and "--identities" in hint[0]

    file = tmp_path / "identities.yml"
    file.write_text(IDENTITIES, encoding="utf-8")
    stats, err = summary(capsys, *map(str, data), "--identities", str(file))
    overall = stats["overall"]
    assert overall["contributors"] == len(merged)
    assert overall["non_team_contributors"] == len(merged) - 1  # Daniel is team: true
    assert "several sources" not in err
    assert f"{file}:8: account 'github:ghost' of 'Nobody Here' matches no author" in err
    # per source, a person counts once in each source they wrote in
    for source, ids in authors.items():
        assert stats["sources"][source]["contributors"] == len(ids), source
        assert stats["sources"][source]["non_team_contributors"] == len(ids) - 1, source
    assert list(stats["sources"]) == ["discourse", "github", "thinklab"]
    for values in stats["sources"].values():
        assert list(values) == list(KEYS)
    projects = stats["projects"]
    assert {name: p["source"] for name, p in projects.items()} == {
        "forum.example.org": "discourse",
        "octo__repo": "github",
        "rephetio": "thinklab",
    }
    assert list(projects["rephetio"]) == ["source", *KEYS]
    # sources add up to overall for texts; comments of each source = the raw file's
    for key in ("comments", "notes", "words", "characters", "discussions"):
        assert sum(s[key] for s in stats["sources"].values()) == overall[key], key
    raw = {p: json.loads(p.read_text(encoding="utf-8")) for p in data}
    assert stats["sources"]["github"]["comments"] == len(raw[data[1]]["comments"])

    # --team with a bare username makes the whole person team (any of their accounts)
    stats, _ = summary(capsys, *map(str, data), "--identities", str(file), "--team", "cgreene")
    assert stats["overall"]["non_team_contributors"] == len(merged) - 2


@pytest.mark.slow  # draws every figure (vl-convert)
@pytest.mark.shared
def test_default_file_and_names_in_figures(data: list[Path], tmp_path: Path, capsys, monkeypatch) -> None:
    """data/identities.yml under the current folder applies without an option; figures use the names."""
    import polars as pl

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "identities.yml").write_text(IDENTITIES, encoding="utf-8")
    stats, err = summary(capsys, *map(str, data))
    assert stats["overall"]["contributors"] == len(people(raw_authors(data), MAPPING))
    assert "identities data/identities.yml: 3 people, 6 accounts" in err
    out = tmp_path / "figures"
    assert main(["figures", *map(str, data), "--out", str(out), "--formats", "svg"]) == 0
    capsys.readouterr()
    contributors = pl.read_csv(out / "contributors.csv")
    assert contributors.height == stats["overall"]["contributors"]
    daniel = contributors.filter(pl.col("user") == "Daniel Himmelstein")
    assert daniel.height == 1 and daniel["team"].to_list() == [True]
    raw_daniel = sum(
        1
        for path in data
        for raw in [json.loads(path.read_text(encoding="utf-8"))]
        for row in raw["comments"] + raw["notes"]
        if row["profile_id"] in ({17} if "source" not in raw else {901, 701})
    )
    assert daniel["posts"].to_list() == [raw_daniel]


@pytest.mark.shared
def test_suggest_finds_the_planted_pairs_and_no_others(data: list[Path], tmp_path: Path, capsys) -> None:
    assert main(["identities", "suggest", *map(str, data)]) == 0
    captured = capsys.readouterr()
    printed = yaml.safe_load(captured.out)
    out = tmp_path / "suggested.yml"
    assert main(["identities", "suggest", *map(str, data), "--out", str(out)]) == 0
    assert "3 candidate people written to" in capsys.readouterr().err
    written = read_identities(out)  # the suggestions are a valid identities file
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == printed
    assert {frozenset(p["accounts"]) for p in printed} == {
        frozenset({"thinklab:dhimmel", "github:DHimmel", "discourse:daniel_h"}),
        frozenset({"thinklab:caseygreene", "github:cgreene"}),
        frozenset({"thinklab:alizee", "discourse:alizee"}),
    }
    assert all(person.team is False for person in written.people)
    assert "Daniel Himmelstein" in {p["name"] for p in printed}


def commented_entries(text: str) -> dict[frozenset[str], list[str]]:
    """Each suggested entry (by its accounts) and the ``# why:``/``# against:`` lines right above it."""
    entries: list[tuple[list[str], list[str]]] = []  # (comments, entry lines)
    comments: list[str] = []
    for line in text.splitlines():
        if line.startswith(("# why:", "# against:")):
            comments.append(line)
        elif line.startswith("- "):
            entries.append((comments, [line]))
            comments = []
        elif line.startswith("  "):
            entries[-1][1].append(line)
    found = {}
    for above, lines in entries:
        (entry,) = yaml.safe_load("\n".join(lines))
        found[frozenset(entry["accounts"])] = above
    return found


@pytest.mark.shared
def test_suggest_says_why_and_what_argues_against(data: list[Path], capsys) -> None:
    """Each entry's reasons and doubts, as comments above it, from the planted accounts' raw names."""
    assert main(["identities", "suggest", *map(str, data)]) == 0
    text = capsys.readouterr().out
    rephetio = json.loads(data[0].read_text(encoding="utf-8"))
    thinklab = {p["username"]: f"{p['first_name']} {p['last_name']}".strip() for p in rephetio["profiles"]}
    comments = commented_entries(text)
    assert len(comments) == 3
    daniel = comments[frozenset({"thinklab:dhimmel", "github:DHimmel", "discourse:daniel_h"})]
    assert daniel == [
        '# why: same username ignoring case in 2 sources (github, thinklab): "DHimmel" (github), '
        '"dhimmel" (thinklab)',
        "# why: same full name after Unicode and case folding in sources discourse, github and thinklab: "
        f'"DANIEL HIMMELSTEIN" (discourse), "{thinklab["dhimmel"]}" (github, thinklab)',
        '# against: usernames differ: "daniel_h" (discourse) vs "DHimmel" (github, thinklab)',
    ]
    casey = comments[frozenset({"thinklab:caseygreene", "github:cgreene"})]
    assert casey == [
        "# why: same full name after Unicode and case folding in sources github and thinklab: "
        f'"{thinklab["caseygreene"]}" (thinklab), "Ｃａｓｅｙ Ｇｒｅｅｎｅ" (github)',
        '# against: usernames differ: "caseygreene" (thinklab) vs "cgreene" (github)',
    ]
    # the false match: one username, two people; the differing full names say so
    alizee = comments[frozenset({"thinklab:alizee", "discourse:alizee"})]
    assert thinklab["alizee"] != "Alice Zee"
    assert alizee == [
        '# why: same username "alizee" in 2 sources (discourse, thinklab)',
        f'# against: full names differ: "Alice Zee" (discourse) vs "{thinklab["alizee"]}" (thinklab)',
    ]


def test_suggest_doubts_and_names_that_would_break_the_comments(tmp_path: Path, capsys) -> None:
    """Accounts without a full name, two accounts of one source, and full names holding line breaks (a
    newline or U+2028 would end a YAML comment and turn the rest into an entry)."""
    thinklab = [(1, "Al", "", "", 1), (2, "al", "", "", 1)]
    github = [(3, "AL", "", "", 1), (4, "eve", "Eve\n- name: Injected", "", 1)]
    discourse = [(5, "EVE", "Eve\u2028- name: Injected", "", 1), (6, "zed", "", "", 1)]
    paths = []
    for source, users in (("thinklab", thinklab), ("github", github), ("discourse", discourse)):
        path = tmp_path / f"{source}.json"
        path.write_text(json.dumps(export(source, users)), encoding="utf-8")
        paths.append(path)
    assert main(["identities", "suggest", *map(str, paths)]) == 0
    text = capsys.readouterr().out
    assert all(line.startswith(("#", "- ", "  ")) for line in text.splitlines())
    assert sorted(sorted(entry["accounts"]) for entry in yaml.safe_load(text)) == [
        ["discourse:EVE", "github:eve"],
        ["github:AL", "thinklab:Al", "thinklab:al"],
    ]
    comments = commented_entries(text)
    assert comments[frozenset({"github:AL", "thinklab:Al", "thinklab:al"})] == [
        '# why: same username ignoring case in 2 sources (github, thinklab): "AL" (github), "Al" (thinklab), '
        '"al" (thinklab)',
        "# against: no account has a full name: only the usernames match",
        '# against: 2 accounts in thinklab ("Al" and "al"): are they one person?',
    ]
    assert comments[frozenset({"discourse:EVE", "github:eve"})] == [
        '# why: same username ignoring case in 2 sources (discourse, github): "EVE" (discourse), "eve" (github)',
        "# why: same full name after Unicode and case folding in sources discourse and github: "
        '"Eve\\n- name: Injected" (github), "Eve\\u2028- name: Injected" (discourse)',
        "# against: nothing found: the usernames and full names agree",
    ]


@pytest.mark.shared
def test_team_described_as_people(data: list[Path], tmp_path: Path) -> None:
    """With identities the team line counts people and their accounts (any account of a team person
    counts), from the raw files: Daniel (team: true) has 3 accounts with posts, Casey (--team cgreene,
    the GitHub one) 2."""
    from impactreport.identities import describe_team
    from impactreport.people import Team
    from impactreport.pipeline import Request, run

    file = tmp_path / "identities.yml"
    file.write_text(IDENTITIES, encoding="utf-8")
    identities = read_identities(file)
    result = run(Request(paths=tuple(data), team=Team.of(["cgreene"]), identities=identities))
    authors = raw_authors(data)
    accounts = {
        f"{source}:{u if source == 'thinklab' else u.lower()}"
        for source, ids in authors.items()
        for u, _ in ids.values()
    }
    team_accounts = {a for a in accounts if MAPPING.get(a) in ("Daniel", "Casey")}
    assert len(team_accounts) == 5
    line = describe_team(result.request.team, identities, result.dataset.posts)
    assert line == "team (2 people, 5 accounts): Casey Greene, Daniel Himmelstein"
    # without identities: the entries, as before
    plain = run(Request(paths=tuple(data), team=Team.of(["cgreene"])))
    assert describe_team(plain.request.team, Identities(), plain.dataset.posts) == "team (1): cgreene"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "- name: A\n  accounts: [github:a]\n- name: B\n  accounts: [github:A]\n",
            3,
            "claimed by 'B' and by 'A'",
        ),
        ("- name: A\n  acounts: [github:a]\n", 2, "unknown key 'acounts'"),
        ("- name: A\n  accounts: [github:a\n", 3, "not valid YAML"),
        ("name: A\naccounts: [github:a]\n", 1, "must be a list of people"),
        ("- name: A\n  accounts: [alice]\n", 2, "'alice' is not source:username"),
        ("- name: A\n  team: maybe\n  accounts: [github:a]\n", 2, "team must be true or false"),
        ("- accounts: [github:a]\n", 1, "needs a name"),
        (
            "- name: A\n  accounts: [github:a]\n- name: A\n  accounts: [github:b]\n",
            3,
            "already used at line 1",
        ),
    ],
)
def test_bad_files_are_one_line_errors_with_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_identities(text, "people.yml")
    shown = str(caught.value)
    assert "\n" not in shown and shown.startswith(f"people.yml:{line}: ") and message in shown


def test_bad_file_on_the_command_line_exits_2(tmp_path: Path, capsys) -> None:
    file = tmp_path / "people.yml"
    file.write_text("- name: A\n  accounts: [github:a]\n  colour: red\n", encoding="utf-8")
    export_file = tmp_path / "octo.json"
    export_file.write_text(json.dumps(export("github", PLANTED["github"])), encoding="utf-8")
    assert main(["summary", str(export_file), "--identities", str(file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{file}:3: unknown key 'colour'" in err
    assert main(["summary", str(export_file), "--identities", str(tmp_path / "missing.yml")]) == 2
    assert "--identities" in capsys.readouterr().err


def test_case_rule_of_each_source() -> None:
    """GitHub and Discourse accounts match in any case; Thinklab's only exactly (two entries may differ
    only in the case of a Thinklab username, not of a GitHub one)."""
    parse_identities("- name: A\n  accounts: [thinklab:Al]\n- name: B\n  accounts: [thinklab:al]\n")
    with pytest.raises(InputError, match="claimed"):
        parse_identities("- name: A\n  accounts: [github:Al]\n- name: B\n  accounts: [github:al]\n")


@pytest.mark.slow
@pytest.mark.shared
def test_builtin_render_shows_the_source_column(data: list[Path], tmp_path: Path, capsys) -> None:
    file = tmp_path / "identities.yml"
    file.write_text(IDENTITIES, encoding="utf-8")
    out = tmp_path / "out"
    listed = ", ".join(map(str, data))
    params = ["-P", f"data:[{listed}]", "-P", f"identities:{file}"]
    assert main(["render", "--engine", "builtin", "--to", "html", "--output-dir", str(out), *params]) == 0
    capsys.readouterr()
    check_combined_report(out / "index.html", data)


def check_combined_report(html_path: Path, data: list[Path]) -> None:
    """The Source column, one subtotal per source, and people (not accounts) counted."""
    html = html_path.read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\s+", " ", text)
    assert "Source" in text
    for source in ("discourse", "github", "thinklab"):
        assert f"Subtotal {source}" in text, source
    merged = len(people(raw_authors(data), MAPPING))
    assert f"{merged:,} people contributed comments or notes" in text


@pytest.mark.slow
@pytest.mark.shared
def test_quarto_render_shows_the_source_column(
    data: list[Path], tmp_path: Path, quarto_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same combined report through the real `quarto render`."""
    import sys

    from impactreport.render import render
    from tests.test_quarto import _project

    file = tmp_path / "identities.yml"
    file.write_text(IDENTITIES, encoding="utf-8")
    project = _project(tmp_path / "project")
    monkeypatch.setenv("QUARTO_PATH", str(quarto_binary))
    monkeypatch.setenv("QUARTO_PYTHON", sys.executable)
    params = {"data": [str(path) for path in data], "identities": str(file)}
    render(("html",), params, project / "out", "quarto", root=project)
    check_combined_report(project / "out" / "index.html", data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "ids.yml: nested too deeply to be a list of people"),
        (
            "- name: &a [x, x, x, x, x, x, x, x, x]\n- name: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
            "ids.yml:2: YAML aliases (*name) are not allowed here",
        ),
    ],
    ids=["nested 10**5 deep", "an alias tree"],
)
def test_hostile_identities_yaml_is_one_line(tmp_path: Path, text: str, message: str, capsys) -> None:
    path = tmp_path / "ids.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_identities(path)
    assert str(caught.value) == message.replace("ids.yml", str(path))
