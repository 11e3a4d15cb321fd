"""Edits from the snapshot series: per week, re-render days, per person, the report's sentence, views.

Every expected value is counted here from the raw JSON of real Thinklab snapshots (plain ``json``,
``gzip``, ``datetime``; rapidfuzz's LCS, the definition's own measure, for inserted and deleted
characters), never through the package's loader. Fast tests copy the format-C snapshots of two projects
out of ``../shared/thinklab/snapshots`` into a temporary folder (the history cache is written beside
them); the slow test walks every commit of the archive bundle with ``git``.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rapidfuzz.distance import LCSseq

from impactreport.cli.main import main
from impactreport.history import load_versions
from impactreport.history.edits import NO_AUTHOR, EditHistory, analyse, per_person
from impactreport.history.versions import Versions
from impactreport.history.views import load_views, views_series
from impactreport.pipeline import Request, run
from impactreport.report.sentences import rerender_sentence, revisions_limits, revisions_sentence
from impactreport.settings import Period
from tests.independent import archive_exports, has_ids

PROJECTS = ("rephetio", "meta")
#: The snapshots of ../shared in format C (ids on every row): 2016-06-02 … 2017-09-09.
FIRST_C_FOLDER = "2016-06-02"
PERIOD = Period(date(2016, 10, 1), date(2017, 2, 28))


# -- an independent count -------------------------------------------------------------------------------
def lf(text: str | None) -> str | None:
    return None if text is None else text.replace("\r\n", "\n")


def texts(export: dict[str, Any]) -> dict[tuple[str, int], tuple[str | None, str | None, int | None]]:
    """(kind, id) → (markdown, HTML, author id) of every comment, note and document of one export."""

    def joined(first: str | None, second: str | None) -> str | None:
        return None if first is None and second is None else f"{first or ''}\n\n{second or ''}"

    out: dict[tuple[str, int], tuple[str | None, str | None, int | None]] = {}
    for row in export["comments"]:
        out[("comment", row["comment_id"])] = (lf(row["body_md"]), lf(row["body_html"]), row["profile_id"])
    for row in export["notes"]:
        out[("note", row["note_id"])] = (lf(row["body_md"]), lf(row["body_html"]), row["profile_id"])
    for row in export["documents"]:
        md = joined(row["intro_md"], row["body_md"])
        html = joined(row["intro_html"], row["body_html"])
        out[("document", row["document_id"])] = (lf(md), lf(html), None)
    return out


def characters(md: str | None, html: str | None) -> int:
    return len(md if md is not None else (html or ""))


@dataclass
class Count:
    """What the raw exports say, per week/day/person, for changes at ``since`` … ``until``."""

    snapshots: list[tuple[str, datetime]] = field(default_factory=list)
    weeks: dict[tuple[date, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    days: Counter[date] = field(default_factory=Counter)
    day_revisions: Counter[date] = field(default_factory=Counter)
    people: dict[int | None, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    edited: dict[int | None, set[tuple[str, str, int]]] = field(default_factory=lambda: defaultdict(set))
    final: int = 0
    names: dict[int, str] = field(default_factory=dict)

    def total(self, what: str) -> int:
        return sum(counter[what] for counter in self.weeks.values())


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def count(exports: Iterator[tuple[str, dict[str, Any]]], period: Period | None = None) -> Count:
    """Walk ``(project, export)`` oldest first and count as the README's History definitions say."""
    period = period or Period()
    found = Count()
    held: dict[str, dict[tuple[str, int], tuple[str | None, str | None, int | None]]] = {}
    at_start: dict[tuple[str, str, int], tuple[int, int | None]] = {}
    at_end: dict[tuple[str, str, int], tuple[int, int | None]] = {}

    def inside(moment: datetime) -> bool:
        return (period.since is None or moment.date() >= period.since) and (
            period.until is None or moment.date() <= period.until
        )

    for project, export in exports:
        moment = datetime.fromisoformat(export["retrieved"].replace("Z", "+00:00"))
        for profile in export["profiles"]:
            name = f"{(profile['first_name'] or '').strip()} {(profile['last_name'] or '').strip()}".strip()
            found.names[profile["profile_id"]] = name or profile["username"]
        now = texts(export)
        before = held.setdefault(project, {})
        if inside(moment):
            found.snapshots.append((project, moment))
        for (kind, ident), (md, html, author) in now.items():
            post = (project, kind, ident)
            if period.until is None or moment.date() <= period.until:
                at_end[post] = (characters(md, html), author)
            if period.since is not None and moment.date() < period.since:
                at_start[post] = (characters(md, html), author)
            if not inside(moment):
                continue
            if (kind, ident) not in before:
                found.people[author]["written"] += characters(md, html)
                continue
            old_md, old_html, _ = before[(kind, ident)]
            on_md = md is not None and old_md is not None
            new, old = (md, old_md) if on_md else (html or "", old_html or "")
            week = found.weeks[(monday(moment.date()), project)]
            if new != old:
                common = LCSseq.similarity(old, new)
                week["revisions"] += 1
                week["inserted"] += len(new) - common
                week["deleted"] += len(old) - common
                found.day_revisions[moment.date()] += 1
                found.people[author]["revisions"] += 1
                found.people[author]["written"] += len(new) - common
                found.edited[author].add(post)
            elif html != old_html:
                week["rerenders"] += 1
                found.days[moment.date()] += 1
        before.update(now)
    for post, (size, author) in at_end.items():
        kept = size - at_start.get(post, (0, None))[0]
        found.people[author]["final"] += kept
        found.final += kept
    return found


def store_exports(tree: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(project, export) of the copied snapshot files, oldest first (folders are UTC dates)."""
    for folder in sorted(f for f in tree.iterdir() if not f.name.startswith(".")):  # not .history
        for project in PROJECTS:
            yield project, json.loads(gzip.decompress((folder / f"{project}.json.gz").read_bytes()))


# -- fixtures -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tree(thinklab_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The format-C snapshots of rephetio and meta (17 dates), copied: ``<date>/<project>.json.gz``."""
    root = tmp_path_factory.mktemp("edits") / "snapshots"
    for folder in sorted((thinklab_dir / "snapshots").iterdir()):
        if folder.name < FIRST_C_FOLDER:
            continue
        (root / folder.name).mkdir(parents=True)
        for project in PROJECTS:
            shutil.copy2(folder / f"{project}.json.gz", root / folder.name / f"{project}.json.gz")
    return root


@pytest.fixture(scope="module")
def versions(tree: Path) -> Versions:
    return load_versions([tree], lambda line: None)


@pytest.fixture(scope="module")
def whole(versions: Versions) -> EditHistory:
    return analyse(versions)


@pytest.fixture(scope="module")
def expected(tree: Path) -> Count:
    return count(store_exports(tree))


# -- per week, per day ----------------------------------------------------------------------------------------
def test_weekly_edits_equal_the_raw_count(whole: EditHistory, expected: Count) -> None:
    weekly = whole.weekly
    assert expected.total("revisions") > 5 and expected.total("rerenders") > 100  # a real test
    got = {
        (row["week"], row["project"]): Counter(
            {k: row[k] for k in ("revisions", "inserted", "deleted", "rerenders") if row[k]}
        )
        for row in weekly.iter_rows(named=True)
    }
    assert {key: value for key, value in got.items() if value} == {
        key: +value for key, value in expected.weeks.items() if +value
    }
    # every week of a project from its first snapshot to its last, the snapshots counted in it
    snapshots = Counter((monday(moment.date()), project) for project, moment in expected.snapshots)
    for project in PROJECTS:
        mine = weekly.filter(pl.col("project") == project).sort("week")
        weeks = [week for week, p in snapshots if p == project]
        first, last = min(weeks), max(weeks)
        assert mine["week"].to_list() == [
            first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)
        ]
        assert {w: s for w, s in mine.select("week", "snapshots").iter_rows() if s} == {
            week: n for (week, p), n in snapshots.items() if p == project
        }
    assert weekly["week"].dt.weekday().unique().to_list() == [1]  # ISO weeks start on Monday
    assert (weekly["end"] - weekly["start"]).dt.total_days().unique().to_list() == [7]


def test_rerender_days_equal_the_raw_count(whole: EditHistory, expected: Count) -> None:
    days = whole.rerender_days
    assert dict(days.select("day", "rerenders").iter_rows()) == dict(expected.days)
    assert dict(days.select("day", "revisions").iter_rows()) == {
        d: expected.day_revisions[d] for d in expected.days
    }
    biggest = max(expected.days, key=lambda d: (expected.days[d], -d.toordinal()))
    assert whole.biggest_rerender_days()["day"][0] == biggest
    assert days.filter(pl.col("rank") == 1)["day"].item() == biggest
    flagged = {d for ds in whole.weekly["rerender_days"].to_list() for d in ds}
    assert flagged == set(expected.days)


def test_summary_agrees_with_the_weeks(whole: EditHistory, expected: Count) -> None:
    overall = whole.overall
    assert overall["revisions"] == expected.total("revisions") == whole.weekly["revisions"].sum()
    assert overall["inserted_characters"] == expected.total("inserted")
    assert overall["deleted_characters"] == expected.total("deleted")
    assert overall["rerenders"] == expected.total("rerenders") == whole.rerender_days["rerenders"].sum()
    assert overall["snapshots"] == len(expected.snapshots)
    assert overall["written_characters"] == sum(p["written"] for p in expected.people.values())


# -- per person ---------------------------------------------------------------------------------------------
def check_people(table: pl.DataFrame, expected: Count) -> None:
    rows = {row["person"]: row for row in table.iter_rows(named=True)}
    for author, counts in expected.people.items():
        if not (counts["written"] or counts["revisions"] or counts["final"]):
            continue
        row = rows.pop(None if author is None else f"thinklab:{author}")
        assert row["name"] == (NO_AUTHOR if author is None else expected.names[author])
        assert row["revisions"] == counts["revisions"], row
        assert row["edited_posts"] == len(expected.edited[author]), row
        assert row["written_characters"] == counts["written"], row
        assert row["final_characters"] == counts["final"], row
        extra = counts["written"] - counts["final"]
        assert row["extra_characters"] == extra
        if counts["final"] > 0:
            assert row["extra_percent"] == pytest.approx(extra / counts["final"] * 100)
    assert rows == {}


def test_per_person_equals_the_raw_count(whole: EditHistory, expected: Count) -> None:
    check_people(whole.people, expected)
    assert whole.people["person"][-1] is None  # documents: no author in the exports, last
    ordered = whole.people.filter(pl.col("person").is_not_null())["revisions"].to_list()
    assert ordered == sorted(ordered, reverse=True)
    top = whole.top_people(2)
    assert top.height == 3 and top["person"][-1] is None and (top["revisions"] > 0).all()
    assert whole.final_characters == expected.final
    # written − final is exactly what was deleted (the same text basis everywhere)
    assert whole.overall["written_characters"] - whole.final_characters == whole.overall["deleted_characters"]


def test_a_period_counts_what_happened_in_it(versions: Versions, tree: Path) -> None:
    expected = count(store_exports(tree), PERIOD)
    history = analyse(versions, PERIOD)
    got = {
        (row["week"], row["project"]): +Counter(
            {k: row[k] for k in ("revisions", "inserted", "deleted", "rerenders")}
        )
        for row in history.weekly.iter_rows(named=True)
    }
    assert {k: v for k, v in got.items() if v} == {k: +v for k, v in expected.weeks.items() if +v}
    assert history.weekly["start"].min() == PERIOD.since and history.weekly[
        "end"
    ].max() == PERIOD.until + timedelta(days=1)
    assert history.overall["revisions"] == expected.total("revisions") > 0
    check_people(history.people, expected)
    assert history.final_characters == expected.final
    assert (
        history.overall["written_characters"] - history.final_characters
        == history.overall["deleted_characters"]
    )


def test_the_editor_is_the_author_of_a_revision(versions: Versions, whole: EditHistory) -> None:
    """Where a source records who edited (``editor_id``), the revision and its inserted characters are
    the editor's; the post's first characters and its final text stay its author's."""
    comments = versions.tables["comments"]
    later = comments.filter(pl.col("first_seq") > pl.col("first_seq").min().over("project", "key"))
    assert later.height
    editor = 999_999
    edited = comments.with_columns(
        editor_id=pl.when(pl.col("hash").is_in(later["hash"].implode())).then(editor).otherwise(None)
    )
    changed = Versions(versions.snapshots, {**versions.tables, "comments": edited})
    people = per_person(changed)
    row = people.filter(pl.col("person") == f"thinklab:{editor}").row(0, named=True)
    comment_revisions = whole.overall["comment_revisions"]
    assert row["revisions"] == comment_revisions and row["final_characters"] == 0
    assert row["written_characters"] > 0 and row["name"] == f"user {editor}"
    assert people["revisions"].sum() == whole.overall["revisions"]  # nobody else got them
    assert people["written_characters"].sum() == whole.overall["written_characters"]


# -- the report's sentence, the pipeline, the figures command ------------------------------------------
def day(value: datetime) -> str:
    return f"{value.day} {value:%b %Y}"


def test_the_sentence_states_the_raw_count(whole: EditHistory, expected: Count) -> None:
    moments = [moment for _, moment in expected.snapshots]
    edited = set().union(*expected.edited.values())
    written = sum(p["written"] for p in expected.people.values())
    percent = (written - expected.final) / expected.final * 100
    assert revisions_sentence(whole) == (
        f"Counting the {expected.total('revisions'):,} revisions of {len(edited):,} posts seen across "
        f"{len(moments):,} snapshots from {day(min(moments))} to {day(max(moments))}, contributors wrote "
        f"{written:,} characters, {percent:,.1f} % more than the final texts hold."
    )
    total = sum(expected.days.values())
    assert f"({total:,} re-renders) on {len(expected.days)} days" in rerender_sentence(whole)
    assert day(min(moments)) in revisions_limits(whole)


def test_pipeline_counts_people_as_the_rest_does(tree: Path, whole: EditHistory) -> None:
    result = run(Request(paths=(tree,), projects=("rephetio",)), figures=True)
    assert result.history is not None
    assert result.frames["edits"]["project"].unique().to_list() == ["rephetio"]
    people = result.history.people.drop_nulls("person")
    contributors = set(result.frames["contributors"]["user"].to_list())
    assert set(people["name"].to_list()) <= contributors  # the names the contributors figure shows
    assert result.history.overall["revisions"] == whole.summary["projects"]["rephetio"]["revisions"]


def test_identities_merge_editors(tree: Path, whole: EditHistory, expected: Count) -> None:
    """An identities file joining the two accounts with the most revisions makes them one row."""
    from impactreport.identities import parse_identities

    editors = sorted(
        (a for a in expected.people if a is not None), key=lambda a: -expected.people[a]["revisions"]
    )
    first, second = editors[:2]
    usernames = {}
    for folder in sorted(f for f in tree.iterdir() if not f.name.startswith(".")):
        for project in PROJECTS:
            export = json.loads(gzip.decompress((folder / f"{project}.json.gz").read_bytes()))
            usernames |= {row["profile_id"]: row["username"] for row in export["profiles"]}
    text = f"- name: Two Accounts\n  accounts: [thinklab:{usernames[first]}, thinklab:{usernames[second]}]\n"
    result = run(Request(paths=(tree,), identities=parse_identities(text, "people.yml")), figures=True)
    assert result.history is not None
    row = result.history.people.filter(pl.col("person") == "person:Two Accounts").row(0, named=True)
    assert row["name"] == "Two Accounts"
    assert row["revisions"] == expected.people[first]["revisions"] + expected.people[second]["revisions"]
    assert row["written_characters"] == expected.people[first]["written"] + expected.people[second]["written"]
    assert row["edited_posts"] == len(expected.edited[first] | expected.edited[second])
    assert result.history.people["revisions"].sum() == whole.overall["revisions"]


def test_one_snapshot_has_no_edits(latest_dir: Path) -> None:
    result = run(Request(paths=(latest_dir / "meta.json",)), figures=True)
    assert result.history is None and "edits" not in result.frames and "edits" not in result.charts


@pytest.mark.slow  # draws every figure (vl-convert)
def test_figures_writes_edits_with_several_snapshots(tree: Path, tmp_path: Path, capsys) -> None:
    assert main(["figures", str(tree), "--out", str(tmp_path), "--formats", "svg", "--json"]) == 0
    capsys.readouterr()
    assert main(["summary", str(tree), "--history", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)["overall"]["history"]
    edits = pl.read_csv(tmp_path / "edits.csv", try_parse_dates=True)
    assert edits["revisions"].sum() == history["revisions"]
    assert edits["inserted"].sum() == history["inserted_characters"]
    assert edits["deleted"].sum() == history["deleted_characters"]
    assert edits["rerenders"].sum() == history["rerenders"]
    assert edits["snapshots"].sum() == history["snapshots"]
    svg = (tmp_path / "edits.svg").read_text(encoding="utf-8")
    assert "re-renders" in svg and "rephetio" in svg


# -- views over time ---------------------------------------------------------------------------------------
def plain_views(folder: Path) -> list[tuple[str, datetime, str, int | None, str | None, int]]:
    """(project, retrieved, kind, id, url, views) of every thread and document with views, read with
    ``json``: ids from ``thread_id``/``document_id``/``id``, a thread's from its url
    ``/discussion/<slug>/<id>``, else from another snapshot with that url (format B); format A has none."""
    rows = []
    for path in sorted(folder.glob("*/*.json.gz")):
        export = json.loads(gzip.decompress(path.read_bytes()))
        moment = datetime.fromisoformat(export["retrieved"].replace("Z", "+00:00")).astimezone(UTC)
        for table, kind in (("threads", "thread"), ("documents", "document")):
            for row in export[table]:
                if "model" in row or row.get("views") is None:
                    continue  # format A: no views
                ident = row.get(f"{kind}_id", row.get("id"))
                url = row.get("url")
                if ident is None and kind == "thread" and "/discussion/" in url:
                    tail = url.split("/discussion/", 1)[1].split("/")
                    ident = int(tail[1]) if len(tail) > 1 and tail[1].isdigit() else None
                rows.append((path.stem.removesuffix(".json"), moment, kind, ident, url, row["views"]))
    known = {(p, k, u): i for p, _, k, i, u, _ in rows if i is not None}
    return sorted(
        ((p, m, k, i if i is not None else known.get((p, k, u)), u, v) for p, m, k, i, u, v in rows),
        key=view_order,
    )


def view_order(row: tuple[Any, ...]) -> tuple[Any, ...]:
    project, moment, kind, ident, url, views = row
    return project, moment.timestamp(), kind, -1 if ident is None else ident, url or "", views


def test_views_series_equals_a_plain_reading(thinklab_dir: Path) -> None:
    """All 21 snapshots (formats A, B, C): the series from the versioned tables equals the raw views."""
    folder = thinklab_dir / "snapshots"
    series = load_views([folder])
    got = sorted(
        series.select("project", "retrieved", "kind", "id", "url", "views").iter_rows(), key=view_order
    )
    assert got == plain_views(folder)
    assert series["id"].null_count() == 0


def test_views_series_from_the_cache_equals_a_cold_read(tree: Path, versions: Versions) -> None:
    from impactreport.history.versions import build_projects
    from impactreport.load import find

    files = sorted(find([tree], all_snapshots=True).files, key=lambda f: (f.project, f.order))
    cold = build_projects(files, [tree])  # no cache read or written
    assert views_series(versions).equals(views_series(cold))
    assert load_views([tree]).equals(views_series(versions))


# -- the real archive -----------------------------------------------------------------------------------------
FIRST_C_DAY = date(2016, 5, 11)  # every export from 2016-05-10 on is format C (ids on every row)


@pytest.mark.slow
def test_archive_edits(archive: tuple[Path, Path]) -> None:
    """The whole archive: the known figures; from the first day every export has ids on, the weeks,
    re-render days and each person's revisions equal a count over every commit (git + json)."""
    data, clone = archive
    versions = load_versions([data / "exports"], lambda line: None)
    history = analyse(versions)
    overall = history.overall
    assert (overall["revisions"], overall["edited_posts"]) == (51, 28)
    assert (overall["inserted_characters"], overall["deleted_characters"]) == (30_671, 10_333)
    assert (overall["rerenders"], overall["deleted_posts"]) == (255, 0)
    assert history.summary["projects"]["rephetio"]["revisions"] == 51
    weekly = history.weekly
    assert weekly["revisions"].sum() == 51 and weekly["rerenders"].sum() == 255
    assert weekly.filter(pl.col("revisions") > 0)["project"].unique().to_list() == ["rephetio"]
    assert (weekly["inserted"].sum(), weekly["deleted"].sum()) == (30_671, 10_333)
    biggest = history.biggest_rerender_days().row(0, named=True)
    assert (biggest["day"], biggest["rerenders"], biggest["revisions"]) == (date(2017, 1, 14), 250, 0)
    assert history.people["revisions"].sum() == 51
    assert overall["written_characters"] - history.final_characters == 10_333
    assert revisions_sentence(history).startswith(
        "Counting the 51 revisions of 28 posts seen across 1,660 snapshots"
    )

    period = Period(FIRST_C_DAY, None)
    expected = count(((p, e) for p, e in archive_exports(clone) if has_ids(e)), period)
    since = analyse(versions, period)
    got = {
        (row["week"], row["project"]): +Counter(
            {k: row[k] for k in ("revisions", "inserted", "deleted", "rerenders")}
        )
        for row in since.weekly.iter_rows(named=True)
    }
    assert {k: v for k, v in got.items() if v} == {k: +v for k, v in expected.weeks.items() if +v}
    assert dict(since.rerender_days.select("day", "rerenders").iter_rows()) == dict(expected.days)
    people = {row["person"]: row for row in since.people.iter_rows(named=True)}
    for author, counts in expected.people.items():
        if counts["revisions"]:
            row = people[None if author is None else f"thinklab:{author}"]
            assert (row["revisions"], row["edited_posts"]) == (
                counts["revisions"],
                len(expected.edited[author]),
            )


def test_no_revision_is_said_plainly() -> None:
    """Snapshots compared without a revision: one plain sentence, not "Counting the 0 revisions of 0
    posts", and the nouns in the number they need."""
    overall = {
        "snapshots": 1_600,
        "revisions": 0,
        "edited_posts": 0,
        "first_snapshot": "2016-01-01T00:00:00Z",
        "last_snapshot": "2016-12-31T00:00:00Z",
        "written_characters": 5_000,
    }
    history = EditHistory(
        Period(), {"overall": overall}, pl.DataFrame(), pl.DataFrame(), pl.DataFrame(), 5_000
    )
    assert revisions_sentence(history) == (
        "The 1,600 snapshots from 1 Jan 2016 to 31 Dec 2016 show no revised post: every text stayed as "
        "first seen."
    )
    one = EditHistory(Period(), {"overall": overall | {"snapshots": 1}}, *[pl.DataFrame()] * 3, 5_000)
    assert revisions_sentence(one).startswith(
        "The 1 snapshot from 1 Jan 2016 to 31 Dec 2016 shows no revised post"
    )
