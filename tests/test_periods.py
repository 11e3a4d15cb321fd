"""Reporting periods everywhere: summary, figures and the report count the same period the same way.

Expected numbers come from the raw JSON (plain ``json`` and ``datetime``, :mod:`tests.independent` for
words and characters), never from the package's tables.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from impactreport.cli.main import main
from impactreport.counting import restrict, statistics
from impactreport.errors import InputError
from impactreport.pipeline import REPORT_NAMES, Request, load, run
from impactreport.settings import Period, ReportParams

from .independent import html_metrics, read

pytestmark = pytest.mark.shared

ADDITIVE = ("comments", "notes", "documents", "words", "characters")
SINCE, UNTIL = date(2016, 9, 1), date(2017, 8, 31)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def in_period(text: str | None, since: date, until: date) -> bool:
    return text is not None and since <= when(text).date() <= until


def raw_period_counts(folder: Path, since: date, until: date) -> dict:
    """The period's numbers from the raw format-C files: texts posted in it, discussions opened or
    commented on in it, authors of its comments and notes, words and characters of its texts."""
    out = dict.fromkeys(
        ("discussions", "comments", "notes", "documents", "contributors", "words", "characters"), 0
    )
    authors: set[int] = set()
    for path in sorted(folder.glob("*.json")):
        export = read(path)
        comments = [c for c in export["comments"] if in_period(c["published"], since, until)]
        notes = [n for n in export["notes"] if in_period(n["added"], since, until)]
        documents = [d for d in export["documents"] if in_period(d["doc_published"], since, until)]
        active = {c["thread_id"] for c in comments}
        out["discussions"] += sum(
            1
            for t in export["threads"]
            if t["thread_id"] in active or in_period(t["published"], since, until)
        )
        out["comments"] += len(comments)
        out["notes"] += len(notes)
        out["documents"] += len(documents)
        authors |= {row["profile_id"] for row in comments + notes}
        for html in [row["body_html"] for row in comments + notes] + [
            d[part] for d in documents for part in ("intro_html", "body_html")
        ]:
            characters, words = html_metrics(html)
            out["characters"] += characters
            out["words"] += words
    out["contributors"] = len(authors)
    return out


@pytest.fixture(scope="module")
def full(latest_dir: Path):
    return load(Request(paths=(latest_dir,)))


def months(first: date, last: date) -> list[Period]:
    periods, start = [], first.replace(day=1)
    while start <= last:
        following = (start + timedelta(days=32)).replace(day=1)
        periods.append(Period(start, following - timedelta(days=1)))
        start = following
    return periods


def test_disjoint_months_add_up_to_the_whole(full, latest_dir: Path) -> None:
    request = Request(paths=(latest_dir,))
    whole = statistics(full, request).overall
    first = full.posts["published"].min().date()  # type: ignore[union-attr]
    last = full.posts["published"].max().date()  # type: ignore[union-attr]
    parts = [statistics(restrict(full, month), request).overall for month in months(first, last)]
    assert len(parts) > 36  # Jun 2014 … Jul 2017
    for key in ADDITIVE:
        assert sum(part[key] for part in parts) == whole[key], key
    assert whole["comments"] == 1163 and whole["notes"] == 282  # the README's table (2017-09-09)
    # discussions are not additive (one commented on in two months counts in both), but never fewer
    assert sum(part["discussions"] for part in parts) >= whole["discussions"]


def test_a_real_period_equals_the_raw_json(latest_dir: Path) -> None:
    expected = raw_period_counts(latest_dir, SINCE, UNTIL)
    result = run(Request(paths=(latest_dir,), period=Period(SINCE, UNTIL)))
    got = result.stats.overall
    assert {key: got[key] for key in expected} == expected
    assert expected["comments"] > 100 and expected["discussions"] > 10  # a period with real activity


def test_compare_previous_numbers_and_change(latest_dir: Path, capsys) -> None:
    args = ["summary", str(latest_dir), "--since", "2016-09-01", "--until", "2017-08-31"]
    assert main([*args, "--compare-previous", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    # the previous period: the award year before (whole months shift by months, leap day or not)
    assert payload["previous_period"] == {"since": "2015-09-01", "until": "2016-08-31"}
    previous = raw_period_counts(latest_dir, date(2015, 9, 1), date(2016, 8, 31))
    current = raw_period_counts(latest_dir, SINCE, UNTIL)
    assert {key: payload["previous"][key] for key in previous} == previous
    assert set(payload["previous"]) == set(payload["overall"])
    for key in ("comments", "notes", "words", "contributors"):
        percent = round((current[key] - previous[key]) / previous[key] * 100, 1)
        assert payload["change"][key] == percent, key
    assert "first_activity" not in payload["change"]  # not a number
    # the human output: a second table with both periods and the change
    assert main([*args, "--compare-previous"]) == 0
    out = capsys.readouterr().out
    assert "This period / previous period (1 Sep 2015 to 31 Aug 2016) / change" in out
    comments = f"{current['comments']:,}"
    line = next(row for row in out.splitlines() if "│ Comments " in row)
    assert comments in line and f"{previous['comments']:,}" in line and "−" in line


def test_compare_previous_at_the_start_of_the_data_says_it_holds_no_data(latest_dir: Path, capsys) -> None:
    # the first post is of 2 Jun 2014: the month before holds nothing
    args = [
        "summary",
        str(latest_dir),
        "--since",
        "2014-06-01",
        "--until",
        "2014-06-30",
        "--compare-previous",
    ]
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["overall"]["comments"] > 0
    assert payload["previous"]["comments"] == 0 and payload["previous"]["discussions"] == 0
    assert all(value is None for value in payload["change"].values() if not isinstance(value, dict))
    assert "previous period (1 May 2014 to 31 May 2014) holds no data" in captured.err
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "holds no data" in captured.err
    line = next(row for row in captured.out.splitlines() if "│ Comments " in row)
    assert line.rstrip(" │").endswith("–")  # no change, no division by zero


def test_compare_previous_needs_both_ends(latest_dir: Path, capsys) -> None:
    assert main(["summary", str(latest_dir), "--since", "2016-01-01", "--compare-previous"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "impactreport: error: --compare-previous needs a period with both ends (since and until)"
    with pytest.raises(InputError, match=r"^parameter compare_previous needs a period with both ends"):
        ReportParams.from_mapping({"compare_previous": True, "until": "2017-01-01"})
    assert ReportParams.from_mapping(
        {"compare_previous": "true", "since": "2017-01-01", "until": "2017-01-31"}
    )


@pytest.mark.parametrize(
    ("command", "option", "day"),
    [
        ("summary", "--since", "2030-01-01"),
        ("figures", "--since", "2030-01-01"),
        ("summary", "--until", "2010-12-31"),
    ],
)
def test_a_period_outside_the_data_is_one_line(
    latest_dir: Path, tmp_path: Path, capsys, command, option, day
) -> None:
    extra = ["--out", str(tmp_path / "figures")] if command == "figures" else []
    assert main([command, str(latest_dir), option, day, *extra]) == 2
    err = capsys.readouterr().err.strip()
    # from the first post to the retrieval of the final export
    assert err == f"impactreport: error: {option} {day}: the data runs from 2014-06-02 to 2017-09-09"
    assert not (tmp_path / "figures").exists()


def test_a_report_period_outside_the_data_names_the_parameter(latest_dir: Path) -> None:
    request = Request(paths=(latest_dir,), period=Period(date(2030, 1, 1), None), names=REPORT_NAMES)
    with pytest.raises(InputError) as caught:
        run(request)
    assert str(caught.value) == "parameter since 2030-01-01: the data runs from 2014-06-02 to 2017-09-09"


@pytest.fixture(scope="module")
def period_figures(thinklab_dir: Path):
    """Every figure's frame for rephetio, 1 Sep 2016 … 31 Aug 2017, from the snapshot tree."""
    request = Request(
        paths=(thinklab_dir / "snapshots",), projects=("rephetio",), period=Period(SINCE, UNTIL)
    )
    return run(request, figures=True)


def test_histogram_counts_each_discussion_when_it_enters_the_period(
    period_figures, thinklab_dir: Path
) -> None:
    export = read(thinklab_dir / "snapshots" / "2017-09-09" / "rephetio.json.gz")
    comments = [c for c in export["comments"] if in_period(c["published"], SINCE, UNTIL)]
    first_in_period: dict[int, datetime] = {}
    for comment in comments:
        moment = when(comment["published"])
        first_in_period[comment["thread_id"]] = min(first_in_period.get(comment["thread_id"], moment), moment)
    entered: dict[str, int] = {}
    for thread in export["threads"]:
        opened = when(thread["published"])
        if SINCE <= opened.date() <= UNTIL:
            moment = opened
        elif thread["thread_id"] in first_in_period:
            moment = first_in_period[thread["thread_id"]]
        else:
            continue
        month = moment.strftime("%Y-%m")
        entered[month] = entered.get(month, 0) + 1
    old = [
        t
        for t in export["threads"]
        if t["thread_id"] in first_in_period and when(t["published"]).date() < SINCE
    ]
    assert old, "the period must hold discussions opened before it"
    notes = [n for n in export["notes"] if in_period(n["added"], SINCE, UNTIL)]
    histogram = period_figures.frames["activity-histogram"]
    assert histogram["period"].min() == SINCE  # nothing at an opening date before the period
    assert histogram["period"].max() <= UNTIL
    assert histogram["posts"].sum() == sum(entered.values()) + len(comments) + len(notes)
    weighted = {row["period"].strftime("%Y-%m"): row["weighted"] for row in histogram.iter_rows(named=True)}
    per_month_posts: dict[str, float] = {}
    for row, weight in [(c, 2.0) for c in comments] + [(n, 1.0) for n in notes]:
        month = when(row.get("published") or row["added"]).strftime("%Y-%m")
        per_month_posts[month] = per_month_posts.get(month, 0.0) + weight
    expected = {
        month: 3.0 * entered.get(month, 0) + per_month_posts.get(month, 0.0)
        for month in set(entered) | set(per_month_posts)
    }
    assert weighted == pytest.approx(expected)
    assert sum(entered.values()) == period_figures.stats.overall["discussions"]


def test_curves_start_and_end_with_the_period(period_figures) -> None:
    frames = period_figures.frames
    for name in ("activity-density", "characters-density", "user-stream", "cumulative-contribution"):
        dates = frames[name]["date"]
        assert dates.min() == SINCE, name
        assert dates.max() <= UNTIL, name
    cumulative = frames["cumulative-contribution"]
    assert cumulative.filter(pl.col("date") == SINCE)["cumulative"].max() < 1000  # starts near 0
    over_time = frames["views-over-time"]
    assert over_time["date"].min() >= SINCE and over_time["date"].max() <= UNTIL


def test_views_gained_between_the_bracketing_snapshots(period_figures, thinklab_dir: Path) -> None:
    # the last snapshot on or before 31 Aug 2017 is 2 Aug 2017; on or before 1 Sep 2016, 1 Sep 2016
    end = read(thinklab_dir / "snapshots" / "2017-08-02" / "rephetio.json.gz")
    start = read(thinklab_dir / "snapshots" / "2016-09-01" / "rephetio.json.gz")
    before = {("discussion", t["thread_id"]): t["views"] for t in start["threads"]}
    before |= {("document", d["document_id"]): d["views"] for d in start["documents"]}
    after = {("discussion", t["thread_id"]): t["views"] for t in end["threads"]}
    after |= {("document", d["document_id"]): d["views"] for d in end["documents"]}
    gained = {key: views - before.get(key, 0) for key, views in after.items()}
    assert period_figures.stats.overall["views"] == sum(gained.values())
    frame = period_figures.frames["views"]
    got = {(row["kind"], row["id"]): row["views"] for row in frame.iter_rows(named=True)}
    assert got == {key: value for key, value in gained.items() if value > 0}
    assert frame["views_from"].unique().to_list() == [date(2016, 9, 1)]
    assert frame["views_to"].unique().to_list() == [date(2017, 8, 2)]
    assert any("views gained in the period" in note for note in period_figures.notes)


def test_views_legend_shows_titles(period_figures, thinklab_dir: Path) -> None:
    export = read(thinklab_dir / "snapshots" / "2017-09-09" / "rephetio.json.gz")
    subjects = {t["subject"].strip() for t in export["threads"]}
    series = period_figures.frames["views-over-time"].filter(pl.col("kind") == "discussion")["series"]
    assert series.n_unique() == 5
    for name in series.unique():
        assert not name.startswith("Thread ")
        assert name in subjects or name.endswith("…"), name


def test_views_without_bracketing_snapshots_are_null_and_said_so(latest_dir: Path) -> None:
    # a single export cannot say which views were gained in the period: null everywhere, with a note
    # (all-time views beside views gained would compare unlike with like)
    result = run(Request(paths=(latest_dir,), projects=("rephetio",), period=Period(SINCE, UNTIL)))
    assert result.stats.overall["views"] is None
    assert result.stats.projects["rephetio"]["views"] is None
    assert all(level["views"] is None for level in result.stats.sources.values())
    assert any("views are not counted for 1 Sep 2016 to 31 Aug 2017" in note for note in result.notes)
    assert any("a single export (rephetio)" in note for note in result.notes)


def test_snapshot_dates_are_those_in_the_period(period_figures) -> None:
    # 13 snapshot days from 1 Sep 2016 to 2 Aug 2017 (the monthly series plus 2 Aug 2017)
    assert period_figures.snapshot_dates == 13
    assert period_figures.frames["views-over-time"]["date"].n_unique() == 13
