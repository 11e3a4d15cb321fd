"""One place for every default and every parameter check (``impactreport.settings``, ``impactreport.people``).

The report's ``parameters`` cell must repeat the defaults (papermill reads it), so a test holds it to
:class:`ReportParams`; the CLI's option defaults are read back from click and compared the same way.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from impactreport import settings
from impactreport.errors import InputError
from impactreport.people import Team, account_key
from impactreport.render.qmd import parse
from impactreport.settings import Period, ReportParams, parse_day

REPO = Path(__file__).resolve().parents[1]


def test_report_parameter_cell_repeats_the_defaults() -> None:
    document = parse((REPO / "report" / "index.qmd").read_text(encoding="utf-8"), "index.qmd")
    cell = next(c for c in document.cells if "parameters" in (c.options.get("tags") or []))
    namespace: dict = {}
    exec(cell.code, namespace)
    declared = {key: namespace[key] for key in ReportParams.names()}
    assert list(declared) == list(ReportParams.names())
    assert ReportParams.from_mapping(declared) == ReportParams()
    assert declared["thresholds"] == list(settings.THRESHOLDS)
    assert declared["bandwidth"] == settings.BANDWIDTH


@pytest.mark.parametrize(
    ("module", "option", "expected"),
    [
        ("summary", "thresholds", ",".join(map(str, settings.THRESHOLDS))),
        ("summary", "words_per_publication", settings.WORDS_PER_PUBLICATION),
        ("figures", "thresholds", ",".join(map(str, settings.THRESHOLDS))),
        ("figures", "bandwidth", settings.BANDWIDTH),
        ("figures", "char_bandwidth", settings.CHAR_BANDWIDTH),
        ("figures", "cumulative_bandwidth", settings.CUMULATIVE_BANDWIDTH),
        ("figures", "label_threshold", settings.LABEL_THRESHOLD),
        ("figures", "histogram_bin", settings.HISTOGRAM_BIN),
    ],
)
def test_cli_defaults_come_from_settings(module: str, option: str, expected: object) -> None:
    import importlib

    command = importlib.import_module(f"impactreport.cli.{module}").command
    defaults = {param.name: param.default for param in command.params}
    assert defaults[option] == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bandwidth": "abc"}, "parameter bandwidth 'abc'"),
        ({"bandwidth": 0}, "parameter bandwidth 0: must be more than 0"),
        ({"since": "2017-13-01"}, "parameter since '2017-13-01': no such day"),
        ({"until": "2017-02-30"}, "parameter until '2017-02-30': no such day"),
        ({"since": "1 Feb 2017"}, "parameter since '1 Feb 2017': expected a day as YYYY-MM-DD"),
        ({"since": "2017-03-01", "until": "2017-02-01"}, "since 2017-03-01 is after until 2017-02-01"),
        ({"thresholds": "500,lots"}, "parameter thresholds"),
        ({"thresholds": [-1]}, "parameter thresholds"),
        ({"text_basis": "pdf"}, "parameter text_basis 'pdf': choose html or markdown"),
        ({"projects": {"a": 1}}, "parameter projects: expected a list"),
        ({"colour": "red"}, "unknown report parameter 'colour'"),
    ],
)
def test_report_parameters_are_checked_by_name(params: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        ReportParams.from_mapping(params)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_period_is_inclusive_days_in_utc() -> None:
    period = Period(parse_day("2017-02-01", "since"), parse_day("2017-02-28", "until"))
    frame = pl.DataFrame(
        {
            "published": [
                "2017-01-31T23:59:59",
                "2017-02-01T00:00:00",
                "2017-02-28T23:59:59",
                "2017-03-01T00:00:00",
            ]
        }
    ).with_columns(pl.col("published").str.to_datetime(time_zone="UTC"))
    assert frame.select(period.contains())["literal"].to_list() == [False, True, True, False]
    assert period.describe() == "1 Feb 2017 to 28 Feb 2017"
    assert Period().is_open and Period().describe() == "all time"
    assert parse_day(date(2017, 2, 1), "since") == date(2017, 2, 1)


def test_threshold_rule_is_more_than() -> None:
    frame = pl.DataFrame({"characters": [499, 500, 501]})
    assert frame.select(settings.above("characters", 500))["characters"].to_list() == [False, False, True]
    assert settings.threshold_phrase(4000) == "more than 4,000 characters"


def test_team_matches_as_each_source_compares_usernames() -> None:
    accounts = pl.DataFrame(
        {
            "source": ["github", "discourse", "thinklab", "thinklab", "github"],
            "username": ["Alice", "ALICE", "Alice", "alice", "bob"],
        }
    )
    member = accounts.select(Team.of(["alice"]).member().alias("m"))["m"].to_list()
    assert member == [True, True, False, True, False]
    scoped = accounts.select(Team.of(["github:ALICE"]).member().alias("m"))["m"].to_list()
    assert scoped == [True, False, False, False, False]
    assert Team.of(["nobody"]).unmatched(accounts) == [
        "team member 'nobody' matches no contributor's username"
    ]
    assert "did you mean 'bob'" in Team.of(["bobb"]).unmatched(accounts)[0]


def test_accounts_are_namespaced_by_source() -> None:
    frame = pl.DataFrame(
        {
            "source": ["thinklab", "discourse", "github", None],
            "profile_id": [172, 172, None, 5],
            "username": ["sam", "sam", "Octo", "x"],
        }
    )
    keys = frame.select(account_key())["source"].to_list()
    assert keys == ["thinklab:172", "discourse:172", "github:@octo", "thinklab:5"]


def test_previous_period_of_whole_months_is_the_same_span_of_the_calendar() -> None:
    from datetime import date

    from impactreport.settings import Period

    # an award year: the award year before, though 2016 has a 29 February
    assert Period(date(2016, 9, 1), date(2017, 8, 31)).previous() == Period(
        date(2015, 9, 1), date(2016, 8, 31)
    )
    # a quarter ending in February of a leap year: the quarter before
    assert Period(date(2016, 1, 1), date(2016, 3, 31)).previous() == Period(
        date(2015, 10, 1), date(2015, 12, 31)
    )
    # a month of 29 days: the month before, 31 days
    assert Period(date(2016, 2, 1), date(2016, 2, 29)).previous() == Period(
        date(2016, 1, 1), date(2016, 1, 31)
    )
    # other spans shift by their number of days
    assert Period(date(2016, 9, 3), date(2016, 9, 10)).previous() == Period(
        date(2016, 8, 26), date(2016, 9, 2)
    )


def test_award_periods_are_twelve_calendar_months_each_then_the_whole_span() -> None:
    from datetime import date

    from impactreport.errors import InputError
    from impactreport.settings import award_periods

    periods = award_periods(date(2016, 2, 29), 2)
    assert [(p.label, p.period.since, p.period.until) for p in periods] == [
        ("Year 1", date(2016, 2, 29), date(2017, 2, 27)),
        ("Year 2", date(2017, 2, 28), date(2018, 2, 27)),
        ("Since award start", date(2016, 2, 29), date(2018, 2, 27)),
    ]
    with pytest.raises(InputError, match="--years 0"):
        award_periods(date(2016, 9, 1), 0)
