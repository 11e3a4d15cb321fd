"""Copy-ready files beside the report (``impactreport.outputs``): the tables as CSV, the summaries for
funders' forms and ``provenance.json``, read back and checked against ``impactreport summary --json``
and against the export files themselves (hashes recomputed here, independently)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from impactreport import outputs
from impactreport.citation import Author, Citation
from impactreport.comparison import COMPARISON_ROWS, AwardColumn, Comparison
from impactreport.figures import neutralise
from impactreport.settings import Period, ReportParams, award_periods
from impactreport.stats import ImpactStats, LevelStats
from tests.runner import main_json

TEAM = "dhimmel"
SINCE, UNTIL = "2016-09-01", "2017-08-31"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def cell(value: object) -> str:
    """A number as the CSV writes it (None: empty)."""
    return "" if value is None else str(value)


def summary_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()  # only this run's output
    return main_json(capsys, "summary", *args)[0]


# -- fast: the writer and the word limit ----------------------------------------------------------------
def test_formulas_are_neutralised_and_numbers_are_not() -> None:
    frame = pl.DataFrame(
        {
            "title": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", None, "a=b"],
            "views": [1, -2, 3, 4, 5, 6, 7, 8, 9],
            "change": [-3.5, 0.0, None, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    rows = list(csv.reader(io.StringIO(outputs.csv_bytes(frame).decode("utf-8"), newline="")))
    assert rows[0] == ["title", "views", "change"]
    assert [row[0] for row in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "plain",
        "",
        "a=b",
    ]
    assert rows[2][1] == "-2" and rows[1][2] == "-3.5"  # numbers stay numbers
    assert neutralise("=1") == "'=1" and neutralise(None) is None


def level(**values: int) -> LevelStats:
    return LevelStats(**values)  # type: ignore[arg-type]


def fake_report(years: int, authors: int) -> SimpleNamespace:
    """A report with a comparison, ``years`` award years and ``authors`` authors (no data read)."""
    numbers = {key: 123_456 for key, _ in COMPARISON_ROWS}
    stats = ImpactStats(overall=level(**numbers), projects={})
    period = Period(date(2016, 9, 1), date(2017, 8, 31))
    columns = tuple(
        AwardColumn(award.label, award.period, stats) for award in award_periods(date(2010, 1, 1), years)
    )
    params = ReportParams.from_mapping(
        {
            "since": SINCE,
            "until": UNTIL,
            "title": "A rather long title for an impact report of a project",
            "funder": "The Alfred P. Sloan Foundation",
            "award": "G-2016-1234",
        }
    )
    cite = Citation(
        title=params.title,
        authors=tuple(Author(f"Author Number{i} Name", "0000-0002-1825-0097") for i in range(authors)),
        period=period.describe(),
        prepared_on=date(2024, 1, 2),
        package_version="0.1.0",
        fingerprint="sha256:" + "0" * 64,
        funder=params.funder,
        award=params.award,
    )
    change = {key: 12.5 for key, _ in COMPARISON_ROWS}
    comparison = Comparison(period.previous(), stats, change, False)
    return SimpleNamespace(params=params, stats=stats, comparison=comparison, awards=columns, citation=cite)


@pytest.mark.parametrize(("years", "authors"), [(1, 1), (3, 2), (10, 5), (50, 12)])
def test_summary_stays_within_300_words(years: int, authors: int) -> None:
    report = fake_report(years, authors)
    text, markdown = outputs.summary_texts(report)  # type: ignore[arg-type]
    assert outputs.words(text) <= outputs.MAX_WORDS and outputs.words(markdown) <= outputs.MAX_WORDS
    for summary in (text, markdown):  # what must survive any shortening
        assert "From 1 Sep 2016 to 31 Aug 2017, 123,456 non-team members commented" in summary
        assert "How to cite" in summary and "sha256:" + "0" * 64 in summary
        assert "The Alfred P. Sloan Foundation" in summary
    if years == 1:  # short enough to keep everything
        assert (
            "Compared with the previous period (1 Sep 2015 to 31 Aug 2016): Non-team contributors 123,456 (previous 123,456, +12.5 %)"
            in text
        )
        assert "Year 1 (1 Jan 2010 to 31 Dec 2010): 123,456 non-team contributors" in text


# -- the final exports: tables, summary, provenance -----------------------------------------------------
@pytest.fixture(scope="module")
def latest_report(latest_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from impactreport.report import prepare_report

    root = tmp_path_factory.mktemp("project")  # not a git checkout
    out = tmp_path_factory.mktemp("out")
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = "1504999790"  # 2017-09-09
    try:
        report = prepare_report(
            {
                "data": str(latest_dir),
                "team": [TEAM],
                "authors": ["Daniel Himmelstein <0000-0002-3012-7446>", "Jane Doe"],
                "funder": "Sloan",
                "award": "G-2016-1234",
            },
            root=root,
            output_dir=out,
        )
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH")
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before
    return report, out


@pytest.mark.slow
@pytest.mark.shared
def test_project_table_equals_summary_json(latest_report, latest_dir: Path, capsys) -> None:
    _, out = latest_report
    expected = summary_json(capsys, str(latest_dir), "--team", TEAM)
    rows = read_csv(out / "tables" / "projects.csv")
    assert list(rows[0]) == ["level", "project", "source", *outputs.PROJECT_COLUMNS]
    by_project = {row["project"]: row for row in rows if row["level"] == "project"}
    assert set(by_project) == set(expected["projects"])
    rephetio = by_project["rephetio"]
    assert rephetio["source"] == "thinklab"
    assert {key: rephetio[key] for key in outputs.PROJECT_COLUMNS} == {
        "discussions": "86",
        "comments": "622",
        "notes": "191",
        "contributors": "48",
        "non_team_contributors": "47",
        "words": "146751",
        "characters": "924735",
        "views": "26258",
    }
    for name, row in by_project.items():
        assert {k: row[k] for k in outputs.PROJECT_COLUMNS} == {
            k: cell(expected["projects"][name][k]) for k in outputs.PROJECT_COLUMNS
        }
    (total,) = [row for row in rows if row["level"] == "all"]
    assert total["project"] == "All projects"
    assert {k: total[k] for k in outputs.PROJECT_COLUMNS} == {
        k: cell(expected["overall"][k]) for k in outputs.PROJECT_COLUMNS
    }
    assert not (out / "tables" / "comparison.csv").exists()  # no comparison asked for
    assert not (out / "tables" / "award-years.csv").exists()
    assert not (out / "tables" / "revisions-people.csv").exists()  # one snapshot: no history
    top = read_csv(out / "tables" / "top-discussions.csv")
    assert top[0]["Discussion"] == "Computing standardized logistic regression coefficients"
    assert top[0]["Views"] == "1621" and top[0]["Opened"] == "2016-04-21"


@pytest.mark.slow
@pytest.mark.shared
def test_summary_txt(latest_report) -> None:
    report, out = latest_report
    text = (out / "summary.txt").read_text(encoding="utf-8")
    markdown = (out / "summary.md").read_text(encoding="utf-8")
    assert outputs.words(text) <= 300 and outputs.words(markdown) <= 300
    assert report.stats.sentence() in text and report.stats.sentence() in markdown
    assert "Period: all the data. Funded by Sloan (award G-2016-1234)." in text
    assert "Half of the 133 answered discussions got a first response within 23.1 hours" in text
    assert (
        "How to cite: Daniel Himmelstein and Jane Doe (2017). Impact report: all data up to 9 Sep 2017."
        in text
    )
    assert report.manifest.fingerprint in text
    assert "Prepared on 2017-09-09 with impactreport" in text  # SOURCE_DATE_EPOCH
    assert markdown.startswith("**Impact report**. Period: all the data.")


@pytest.mark.slow
@pytest.mark.shared
def test_provenance_json(latest_report, latest_dir: Path) -> None:
    report, out = latest_report
    document = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    files = sorted(latest_dir.glob("*.json"))
    digests = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
    listed = document["data"]["files"]
    assert [entry["path"] for entry in listed] == sorted(digests)  # relative to the data folder
    assert {entry["path"]: entry["sha256"] for entry in listed} == digests
    for entry in listed:
        retrieved = json.loads((latest_dir / entry["path"]).read_text(encoding="utf-8"))["retrieved"]
        assert datetime.fromisoformat(entry["retrieved"]) == datetime.fromisoformat(retrieved).astimezone(UTC)
        assert entry["source"] == "thinklab" and entry["project"] == entry["path"].removesuffix(".json")
    # the fingerprint, recomputed from the files alone
    lines = "".join(f"{name}\t{digests[name]}\n" for name in sorted(digests))
    fingerprint = "sha256:" + hashlib.sha256(lines.encode("utf-8")).hexdigest()
    assert document["data"]["fingerprint"] == fingerprint == report.manifest.fingerprint
    assert document["report"]["data_fingerprint"] == fingerprint
    assert document["data"]["snapshots"] == 10
    assert document["data"]["first_retrieved"].startswith("2017-09-09T23:29:37")
    assert document["data"]["last_retrieved"].startswith("2017-09-09T23:29:50")
    # the parameters, without a local absolute path
    parameters = document["parameters"]
    assert parameters["data"] == ["latest"] and parameters["data_folders"] == ["latest"]
    assert parameters["team"] == [TEAM] and parameters["funder"] == "Sloan"
    assert parameters["authors"] == ["Daniel Himmelstein <0000-0002-3012-7446>", "Jane Doe"]
    assert parameters["license"] == "CC BY 4.0"
    assert str(latest_dir) not in (out / "provenance.json").read_text(encoding="utf-8")
    # software, the project's commit (none: not a git checkout), the sources' terms
    software = document["software"]
    assert software["impactreport"] and re.fullmatch(r"3\.\d+\.\d+", software["python"])
    assert set(software) >= {"quarto", "pandoc", "renderer", "packages"} and software["pandoc"]
    assert document["project"] == {"git_commit": None}
    assert document["sources"][0]["source"] == "thinklab" and "CC BY 4.0" in document["sources"][0]["terms"]
    cite = document["report"]
    assert cite["prepared_on"] == "2017-09-09" and cite["license"] == "CC BY 4.0"
    assert cite["authors"][0] == {"name": "Daniel Himmelstein", "orcid": "0000-0002-3012-7446"}
    assert cite["bibtex"].startswith("@misc{himmelstein2017-")


@pytest.mark.slow
@pytest.mark.shared
def test_figures_are_printable_at_300_dpi(latest_report) -> None:
    """Each PNG has at least 300 pixels per inch at the width the PDF prints it: its natural size (1 CSS
    px = 1/96 in), at most the page's 17 cm of text."""
    import struct

    _, out = latest_report
    for svg in sorted((out / "figures").glob("*.svg")):
        found = re.search(r'width="([\d.]+)"', svg.read_text(encoding="utf-8")[:500])
        assert found is not None, svg.name
        width = float(found.group(1))
        png = (out / "figures" / f"{svg.stem}.png").read_bytes()
        (pixels,) = struct.unpack(">I", png[16:20])
        inches = min(width / 96, 17 / 2.54)
        assert pixels / inches >= 299.5, svg.name


# -- a period with the previous one, award years and revisions ------------------------------------------
PROJECTS = ("rephetio", "meta")


@pytest.fixture(scope="module")
def period_report(thinklab_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from impactreport.report import prepare_report

    out = tmp_path_factory.mktemp("out")
    stale = out / "tables" / "comparison.csv"
    stale.parent.mkdir()
    stale.write_text("stale", encoding="utf-8")
    (out / "tables" / "revisions-people.csv").write_text("stale", encoding="utf-8")
    report = prepare_report(
        {
            "data": str(thinklab_dir / "snapshots"),
            "projects": list(PROJECTS),
            "team": [TEAM],
            "since": SINCE,
            "until": UNTIL,
            "compare_previous": True,
            "award_start": SINCE,
            "years": 1,
        },
        root=tmp_path_factory.mktemp("project"),
        output_dir=out,
    )
    return report, out


@pytest.mark.slow
@pytest.mark.shared
def test_comparison_and_award_tables_equal_summary_json(period_report, thinklab_dir: Path, capsys) -> None:
    _, out = period_report
    args = [str(thinklab_dir / "snapshots"), "--team", TEAM, "--since", SINCE, "--until", UNTIL]
    args += [arg for project in PROJECTS for arg in ("--project", project)]
    expected = summary_json(capsys, *args, "--compare-previous", "--award-start", SINCE, "--years", "1")
    comparison = read_csv(out / "tables" / "comparison.csv")
    this, before = "This period (2016-09-01 to 2017-08-31)", "Previous period (2015-09-01 to 2016-08-31)"
    assert list(comparison[0]) == ["Number", this, before, "Change (%)"]
    assert [row["Number"] for row in comparison] == [label for _, label in COMPARISON_ROWS]
    for row, (key, _) in zip(comparison, COMPARISON_ROWS, strict=True):
        assert row[this] == cell(expected["overall"][key])
        assert row[before] == cell(expected["previous"][key])
        assert row["Change (%)"] == cell(expected["change"].get(key))
    awards = read_csv(out / "tables" / "award-years.csv")
    headers = ["Year 1 (2016-09-01 to 2017-08-31)", "Since award start (2016-09-01 to 2017-08-31)"]
    assert list(awards[0]) == ["Number", *headers]
    for row, (key, _) in zip(awards, COMPARISON_ROWS, strict=True):
        for header, column in zip(headers, expected["award_years"], strict=True):
            assert row[header] == cell(column["overall"][key])
    projects = {row["project"]: row for row in read_csv(out / "tables" / "projects.csv")}
    assert projects["rephetio"]["comments"] == cell(expected["projects"]["rephetio"]["comments"])
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    assert outputs.words(summary) <= 300
    assert "Period: 1 Sep 2016 to 31 Aug 2017." in summary
    assert "Compared with the previous period (1 Sep 2015 to 31 Aug 2016): Non-team contributors " in summary
    assert "Award years: Year 1 (1 Sep 2016 to 31 Aug 2017): " in summary


@pytest.mark.slow
@pytest.mark.shared
def test_revisions_table_and_stale_tables(period_report, thinklab_dir: Path) -> None:
    report, out = period_report
    rows = read_csv(out / "tables" / "revisions-people.csv")
    people = report.history.people.filter(pl.col("revisions") > 0)
    assert len(rows) == people.height >= 2  # everyone who revised (the report shows the ten with the most)
    assert list(rows[0]) == [
        "Person",
        "Revisions",
        "Edited posts",
        "Written characters",
        "Final characters",
        "Extra written (%)",
    ]
    top = report.history.top_people(1000)
    for row, expected in zip(rows, top.iter_rows(named=True), strict=True):
        assert row["Person"] == expected["name"]
        assert row["Revisions"] == str(expected["revisions"])
        assert row["Written characters"] == str(expected["written_characters"])
    assert (out / "tables" / "comparison.csv").read_text(encoding="utf-8") != "stale"
    # the manifest lists every snapshot read: 21 sets of the two projects
    document = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    paths = [entry["path"] for entry in document["data"]["files"]]
    assert len(paths) == 42 and paths[0] == "2016-04-09/meta.json.gz"
    for entry in document["data"]["files"][:3]:
        data = (thinklab_dir / "snapshots" / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_the_commit_says_dirty_when_tracked_files_changed(tmp_path: Path) -> None:
    """provenance.json named a commit the report was not made from when the worktree had changes."""
    import subprocess

    from impactreport.report.software import git_commit

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(tmp_path), "-c", "user.email=a@b.c", "-c", "user.name=A", *args], check=True
        )

    git("init", "-q")
    (tmp_path / "report.qmd").write_text("one", encoding="utf-8")
    git("add", "report.qmd")
    git("commit", "-qm", "first")
    clean = git_commit(tmp_path)
    assert clean is not None and len(clean) == 40
    (tmp_path / "report.qmd").write_text("two", encoding="utf-8")
    assert git_commit(tmp_path) == f"{clean}-dirty"
    (tmp_path / "untracked.txt").write_text("x", encoding="utf-8")
    git("checkout", "-q", "report.qmd")
    assert git_commit(tmp_path) == clean  # untracked files are not the report's source
