"""Statistics on real exports, checked against numbers derived independently from the raw JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from impactreport import load_dataset, summarise
from impactreport.people import read_team_file
from impactreport.settings import parse_thresholds
from impactreport.stats import KEYS, SENTENCE
from tests import independent

TEAM = {"dhimmel"}
# Every statistic except the ones the independent route has no second way to compute.
# The community numbers (first response, new/returning contributors, absence factor) are checked against
# the raw JSON in tests/test_community.py.
NOT_COMPARED = (
    "publications_equivalent",
    "first_activity",
    "last_activity",
    "first_response",
    "new_contributors",
    "returning_contributors",
    "absence_factor",
)
COMPARED = tuple(k for k in KEYS if k not in NOT_COMPARED)


@pytest.fixture(scope="module")
def expected(latest_dir: Path) -> dict[str, dict]:
    return {
        p.stem: independent.project_numbers(independent.read(p), TEAM)
        for p in sorted(latest_dir.glob("*.json"))
    }


@pytest.fixture(scope="module")
def stats(latest_dir: Path):
    return summarise(load_dataset(latest_dir), team=sorted(TEAM))


@pytest.mark.shared
def test_every_project_matches_the_independent_route(stats, expected) -> None:
    assert set(stats.projects) == set(expected)
    for project, numbers in expected.items():
        got = stats.projects[project]
        assert {k: got[k] for k in COMPARED} == {k: numbers[k] for k in COMPARED}, project


@pytest.mark.shared
def test_overall_counts_people_once_across_projects(stats, expected) -> None:
    authors = set().union(*(n["_authors"] for n in expected.values()))
    assert stats.overall["contributors"] == len(authors) == 67
    assert sum(p["contributors"] for p in stats.projects.values()) > len(
        authors
    )  # double-counted per project
    per_person: dict[int, int] = {}
    for numbers in expected.values():
        for person, characters in numbers["_per_person"].items():
            per_person[person] = per_person.get(person, 0) + characters
    assert stats.overall["contributors_over"] == {
        str(t): sum(1 for v in per_person.values() if v > t) for t in (500, 4000)
    }
    dois = set().union(*(n["_dois"] for n in expected.values()))
    assert stats.overall["cited_dois"] == len(dois)
    for key in ("discussions", "comments", "notes", "documents", "words", "characters", "views"):
        assert stats.overall[key] == sum(n[key] for n in expected.values()), key


@pytest.mark.shared
def test_known_totals_of_the_final_export(stats) -> None:
    """Values verified once by hand with the independent route (tests/independent.py) and the data README."""
    overall = stats.overall
    assert (overall["discussions"], overall["comments"], overall["notes"], overall["documents"]) == (
        171,
        1163,
        282,
        12,
    )
    assert (overall["words"], overall["characters"]) == (216_273, 1_339_932)
    assert overall["non_team_contributors"] == 66
    assert stats.sentence() == (
        "In total, 66 non-team members commented across 171 discussions, which generated 1,163 comments "
        "and 282 notes totaling 216,273 words and 1,339,932 characters."
    )
    assert overall["first_activity"] == "2014-06-02T01:11:45Z"
    assert overall["publications_equivalent"] == round(216_273 / 7000, 2)


@pytest.mark.shared
def test_markdown_basis_counts_body_md_as_stored(latest_dir: Path) -> None:
    stats = summarise(load_dataset(latest_dir / "meta.json", text_basis="markdown"))
    raw = json.loads((latest_dir / "meta.json").read_text(encoding="utf-8"))
    assert stats.overall["comment_characters"] == sum(len(c["body_md"]) for c in raw["comments"])
    assert stats.overall["note_characters"] == sum(len(n["body_md"]) for n in raw["notes"])
    assert any("\r\n" in c["body_md"] for c in raw["comments"])  # CRLF really is counted as two


@pytest.mark.shared
def test_team_file_thresholds_and_divisor(latest_dir: Path, tmp_path: Path) -> None:
    team_file = tmp_path / "team.txt"
    team_file.write_text("# the Rephetio team\ndhimmel\n\nsergiobaranzini  # PI\n", encoding="utf-8")
    assert read_team_file(team_file) == ["dhimmel", "sergiobaranzini"]
    dataset = load_dataset(latest_dir / "rephetio.json")
    stats = summarise(
        dataset, team=read_team_file(team_file), thresholds=(0, 10**9), words_per_publication=1000
    )
    raw = json.loads((latest_dir / "rephetio.json").read_text(encoding="utf-8"))
    usernames = {p["profile_id"]: p["username"] for p in raw["profiles"]}
    authors = {r["profile_id"] for r in raw["comments"] + raw["notes"]}
    team_authors = {a for a in authors if usernames[a] in {"dhimmel", "sergiobaranzini"}}
    assert stats.overall["non_team_contributors"] == len(authors) - len(team_authors)
    assert stats.overall["contributors_over"] == {"0": len(authors), "1000000000": 0}
    assert stats.overall["publications_equivalent"] == round(stats.overall["words"] / 1000, 2)


def test_json_keys_are_exactly_the_documented_ones() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for key in KEYS:
        assert f"`{key}`" in readme, key
    assert "{non_team_contributors}" in SENTENCE


def test_threshold_parsing() -> None:
    assert parse_thresholds("4000, 500") == (500, 4000)
    from impactreport.errors import InputError

    with pytest.raises(InputError, match="--thresholds"):
        parse_thresholds("500,lots")


# Published per-comment counts: dhimmel/thinklytics, process/table/comments.tsv (CC0), computed daily from the
# exports by process.py with BeautifulSoup + lxml: comment_id -> (word_count, character_count).
PUBLISHED_COMMENT_COUNTS = {
    3: (77, 423),
    4: (144, 793),
    11: (343, 1936),
    14: (403, 2447),
    20: (695, 4142),
    22: (448, 2725),
    36: (122, 577),
    66: (405, 2518),
    154: (293, 1599),
    159: (315, 1937),
    551: (668, 4086),
    791: (259, 1476),
    1062: (188, 1137),
    1138: (234, 1299),
}


@pytest.mark.shared
def test_against_published_thinklytics_counts(latest_dir: Path) -> None:
    """Words and characters equal the counts published by the Thinklab users' own analytics."""
    import polars as pl

    dataset = load_dataset(latest_dir)
    ours = dataset.posts.filter(pl.col("kind") == "comment").filter(
        pl.col("post_id").is_in(list(PUBLISHED_COMMENT_COUNTS))
    )
    assert ours.height == len(PUBLISHED_COMMENT_COUNTS)
    assert {
        r["post_id"]: (r["words"], r["characters"]) for r in ours.iter_rows(named=True)
    } == PUBLISHED_COMMENT_COUNTS


# The users' own figure (../shared/references/rephetio-contribution.png, R/ggplot2, February 2017): each
# contributor's characters in Rephetio comments and notes, in thousands, as labelled at its right edge.
REFERENCE_FIGURE_LABELS = {
    "Pouya Khankhanian": 60.1,
    "Antoine Lizee": 40.5,
    "Lars Juhl Jensen": 21.8,
    "Frederic Bastian": 15.0,
    "Benjamin Good": 10.1,
    "Katie Fortney": 9.9,
    "Sabrina Chen": 9.7,
    "Casey Greene": 6.9,
    "Craig Knox": 6.6,
    "Tudor Oprea": 6.4,
    "Alexander Pico": 5.4,
    "Mike Gilson": 5.4,
    "Alex Ratner": 4.9,
}


@pytest.mark.shared
def test_against_the_users_reference_figure(thinklab_dir: Path) -> None:
    """The February 2017 figure's labels: every contributor's total equals ours from the exports of that
    month; Daniel Himmelstein's 561.5K lies between our totals of 1 February and 1 March 2017."""
    import polars as pl

    def totals(snapshot: str) -> dict[str, float]:
        dataset = load_dataset(thinklab_dir / "snapshots" / snapshot / "rephetio.json.gz")
        per_person = (
            dataset.posts.filter(pl.col("kind").is_in(["comment", "note"]))
            .group_by("name")
            .agg(pl.col("characters").sum())
        )
        return {name: characters / 1000 for name, characters in per_person.iter_rows()}

    february, march = totals("2017-02-01"), totals("2017-03-01")
    assert {name: round(february[name], 1) for name in REFERENCE_FIGURE_LABELS} == REFERENCE_FIGURE_LABELS
    assert february["Daniel Himmelstein"] <= 561.5 <= march["Daniel Himmelstein"]
    assert sum(1 for value in february.values() if value >= 4.5) == len(REFERENCE_FIGURE_LABELS) + 1
