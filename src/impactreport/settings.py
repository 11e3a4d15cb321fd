"""Every default and every parameter check, in one place, for the CLI and the report alike.

Why: the same knob (thresholds, bandwidths, weights, the period) used to have a default in the CLI,
another in the analyses and a third in the report. Each is defined here once; :class:`ReportParams`
checks the report's ``-P`` values before any slow work starts, naming each parameter as the user typed
it (``parameter bandwidth: 'abc' is not a number``).

The threshold rule is stated once, in :func:`above`: a contributor is counted for a threshold when
their characters of comments and notes are **more than** the threshold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from impactreport.errors import InputError
from impactreport.timefmt import DAY_FORMAT_D3 as DAY_FORMAT_D3
from impactreport.timefmt import day_text as day_text
from impactreport.timefmt import iso_z as iso_z

# -- defaults ---------------------------------------------------------------------------------------
#: Characters of comments and notes per contributor (``contributors_over``, the contributors figure).
THRESHOLDS: tuple[int, ...] = (500, 4000)
#: Contributors named in the cumulative chart: more than this many characters.
LABEL_THRESHOLD: int | None = None  # None: the highest of the thresholds (the text names them)
WORDS_PER_PUBLICATION = 7000.0
#: Weighted activity: a discussion counts 3, a comment 2, a note 1.
WEIGHTS: Mapping[str, float] = {"threads": 3.0, "comments": 2.0, "notes": 1.0}
#: Gaussian kernel standard deviations, in days.
BANDWIDTH = 30.0
CHAR_BANDWIDTH = 7.0
#: The Rephetio report used 0.03 years ≈ 11 days for the cumulative chart.
CUMULATIVE_BANDWIDTH = 11.0
HISTOGRAM_BIN = "1mo"
TEXT_BASES = ("html", "markdown")
TEXT_BASIS = "html"
TITLE = "Impact report"
#: The licence of the report itself (parameter ``license``).
REPORT_LICENSE = "CC BY 4.0"

#: The threshold rule in words, for every text that states it (README, report, CLI help, figures).
THRESHOLD_RULE = "more than"


def above(column: str | pl.Expr, threshold: int) -> pl.Expr:
    """The one threshold rule: ``column`` is **more than** ``threshold``."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr > threshold


def threshold_phrase(threshold: int) -> str:
    """``more than 4,000 characters``: how every text names a threshold."""
    return f"{THRESHOLD_RULE} {threshold:,} characters"


# -- checks -----------------------------------------------------------------------------------------
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_day(value: object, name: str) -> date | None:
    """A ``YYYY-MM-DD`` day (``""``/None = unset); impossible dates are a one-line error naming ``name``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    match = _DAY.match(text)
    if not match:
        raise InputError(f"{name} {text!r}: expected a day as YYYY-MM-DD, e.g. 2017-02-01")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as error:
        raise InputError(f"{name} {text!r}: no such day ({error})") from None


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months (the 31st of a shorter month becomes its last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


@dataclass(frozen=True)
class Period:
    """Inclusive UTC days ``since`` … ``until`` (either may be open).

    Membership is one rule for every layer: a text counts when it was posted in the period; a
    discussion counts when it was opened in it or commented on in it.
    """

    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise InputError(f"since {self.since.isoformat()} is after until {self.until.isoformat()}")

    @property
    def is_open(self) -> bool:
        return self.since is None and self.until is None

    @property
    def start(self) -> datetime | None:
        """First instant in the period (UTC)."""
        return datetime(self.since.year, self.since.month, self.since.day, tzinfo=UTC) if self.since else None

    @property
    def end(self) -> datetime | None:
        """First instant after the period (UTC): the day after ``until``, at midnight."""
        if self.until is None:
            return None
        return datetime(self.until.year, self.until.month, self.until.day, tzinfo=UTC) + timedelta(days=1)

    def contains(self, column: str = "published") -> pl.Expr:
        """True for rows whose ``column`` lies in the period."""
        expr = pl.lit(True)
        if self.start is not None:
            expr = expr & (pl.col(column) >= self.start)
        if self.end is not None:
            expr = expr & (pl.col(column) < self.end)
        return expr

    @property
    def days(self) -> int | None:
        """Length in days (both ends given), else None."""
        if self.since is None or self.until is None:
            return None
        return (self.until - self.since).days + 1

    @property
    def whole_months(self) -> int | None:
        """The number of calendar months the period spans when it starts on a 1st and ends on a last day
        of a month (an award year: 12), else None."""
        if self.since is None or self.until is None or self.since.day != 1:
            return None
        if (self.until + timedelta(days=1)).day != 1:
            return None
        return (self.until.year - self.since.year) * 12 + self.until.month - self.since.month + 1

    def previous(self, name: str = "--compare-previous") -> Period:
        """The same span of the calendar just before this one (for "this period vs the one before").

        Whole months shift by months (2016-09-01..2017-08-31 → 2015-09-01..2016-08-31: the previous
        award year, whatever leap days lie between); any other span shifts by its number of days.
        Needs both ends: an open period has no length. ``name`` is the option as the user typed it.
        """
        if self.since is None or self.until is None or self.days is None:
            raise InputError(f"{name} needs a period with both ends (since and until)")
        months = self.whole_months
        if months is not None:
            return Period(add_months(self.since, -months), self.since - timedelta(days=1))
        length = timedelta(days=self.days)
        return Period(self.since - length, self.until - length)

    def describe(self) -> str:
        """``1 Sep 2016 to 31 Aug 2017`` (or open ends), for titles and sentences."""

        if self.since and self.until:
            return f"{day_text(self.since)} to {day_text(self.until)}"
        if self.since:
            return f"since {day_text(self.since)}"
        if self.until:
            return f"until {day_text(self.until)}"
        return "all time"


@dataclass(frozen=True)
class AwardPeriod:
    """One column of an award report: "Year 1", …, or "Since award start"."""

    label: str
    period: Period


def award_periods(start: date, years: int, name: str = "--years") -> list[AwardPeriod]:
    """Year 1 … Year N from ``start`` (each 12 calendar months), then the whole span since the start.

    Why calendar months: an award year is 1 Sep–31 Aug whether or not it holds a 29 February.
    """
    if isinstance(years, bool) or not isinstance(years, int) or years < 1 or years > 50:
        raise InputError(f"{name} {years!r}: expected a whole number of award years from 1 to 50")
    periods = [
        AwardPeriod(
            f"Year {index + 1}",
            Period(add_months(start, 12 * index), add_months(start, 12 * (index + 1)) - timedelta(days=1)),
        )
        for index in range(years)
    ]
    whole = Period(start, periods[-1].period.until)
    return [*periods, AwardPeriod("Since award start", whole)]


def _number(value: object, name: str, *, whole: bool = False, positive: bool = False) -> float:
    if isinstance(value, bool) or value is None or value == "":
        raise InputError(f"{name} {value!r}: expected a number")
    try:
        text = str(value).strip()
        number = float(int(text)) if whole else float(text)
    except (TypeError, ValueError):
        kind = "whole number" if whole else "number"
        raise InputError(f"{name} {value!r}: is not a {kind}") from None
    if not math.isfinite(number):
        raise InputError(f"{name} {value!r}: must be a finite number")
    if positive and number <= 0:
        raise InputError(f"{name} {value!r}: must be more than 0")
    if number < 0:
        raise InputError(f"{name} {value!r}: must not be negative")
    return number


def normal_thresholds(thresholds: Iterable[int]) -> tuple[int, ...]:
    """Thresholds as every count reads them (the one definition): each once, ascending
    (``(4000, 500, 500)`` → ``(500, 4000)``)."""
    return tuple(sorted(set(thresholds)))


def parse_thresholds(value: object, name: str = "--thresholds") -> tuple[int, ...]:
    """``"500,4000"`` or ``[500, 4000]`` → ``(500, 4000)``; a one-line error for anything else."""
    if isinstance(value, str):
        parts: list[Any] = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    if not parts:
        raise InputError(f"{name} {value!r}: expected comma-separated whole numbers, e.g. 500,4000")
    try:
        values = normal_thresholds(int(_number(part, name, whole=True)) for part in parts)
    except InputError:
        raise InputError(f"{name} {value!r}: expected non-negative whole numbers, e.g. 500,4000") from None
    return values


def positive_days(value: object, name: str) -> float:
    """A kernel bandwidth in days: a number more than 0."""
    return _number(value, name, positive=True)


def _strings(value: object, name: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        bad = [item for item in value if not isinstance(item, str | int) or isinstance(item, bool)]
        if bad:
            raise InputError(f"{name}: expected a list of names, got {bad[0]!r}")
        return tuple(str(item) for item in value)
    raise InputError(f"{name}: expected a list, e.g. [a, b], got {value!r}")


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InputError(f"{name}: expected text, got {value!r}")
    return str(value)


def _flag(value: object, name: str) -> bool:
    """A yes/no parameter: YAML ``true``/``false`` (or the words, as typed on a command line)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0", ""):
        return False
    raise InputError(f"{name} {value!r}: expected true or false")


@dataclass(frozen=True)
class ReportParams:
    """The report's parameters (``-P key:value``), checked and typed, with the defaults above."""

    data: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    team_file: str = ""
    since: str = ""
    until: str = ""
    bandwidth: float = BANDWIDTH
    char_bandwidth: float = CHAR_BANDWIDTH
    thresholds: tuple[int, ...] = THRESHOLDS
    label_threshold: int | None = LABEL_THRESHOLD
    text_basis: str = TEXT_BASIS
    title: str = TITLE
    author: str = ""
    compare_previous: bool = False
    #: identities file (which accounts are one person); "" = data/identities.yml under the project root
    #: when present
    identities: str = ""
    #: the period to compare with (both or neither; default: the same span just before)
    previous_since: str = ""
    previous_until: str = ""
    #: count the data as it stood at the end of this day (later snapshots ignored)
    as_of: str = ""
    #: award years: one column per year from ``award_start``, and one since the award start
    award_start: str = ""
    years: int = 1
    #: who funds the work reported on, and the award's number (stated in the report and its citation)
    funder: str = ""
    award: str = ""
    #: the report's authors, each ``Name`` or ``Name <ORCID>`` (:mod:`impactreport.citation`)
    authors: tuple[str, ...] = ()
    #: the licence of the report itself
    license: str = REPORT_LICENSE
    period: Period = field(default_factory=Period, compare=False)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Parameter names the report accepts, in the order of its ``parameters`` cell."""
        return tuple(f.name for f in fields(cls) if f.name != "period")

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any], *, prefix: str = "parameter ") -> ReportParams:
        """Check every value; the first problem is a one-line error naming the parameter as typed."""
        known = cls.names()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise InputError(f"unknown report parameter {unknown[0]!r} (known: {', '.join(known)})")
        given = {key: value for key, value in params.items() if value is not None}

        def name(key: str) -> str:
            return f"{prefix}{key}"

        out: dict[str, Any] = {}
        if "data" in given:
            out["data"] = _strings(given["data"], name("data"))
        for key in ("projects", "team"):
            if key in given:
                out[key] = _strings(given[key], name(key))
        for key in ("team_file", "title", "author", "identities", "funder", "award", "license"):
            if key in given:
                out[key] = _text(given[key], name(key))
        for key in ("bandwidth", "char_bandwidth"):
            if key in given:
                out[key] = positive_days(given[key], name(key))
        if "license" in out and not out["license"].strip():
            raise InputError(f"{name('license')}: name the report's licence, e.g. {REPORT_LICENSE!r}")
        if "authors" in given:
            from impactreport.authors import parse_authors

            out["authors"] = parse_authors(given["authors"], name("authors"))
        if "thresholds" in given:
            out["thresholds"] = parse_thresholds(given["thresholds"], name("thresholds"))
        if "label_threshold" in given and given["label_threshold"] != "":
            label = _number(given["label_threshold"], name("label_threshold"), whole=True)
            out["label_threshold"] = int(label)
        if "text_basis" in given:
            basis = _text(given["text_basis"], name("text_basis"))
            if basis not in TEXT_BASES:
                raise InputError(f"{name('text_basis')} {basis!r}: choose {' or '.join(TEXT_BASES)}")
            out["text_basis"] = basis
        if "compare_previous" in given:
            out["compare_previous"] = _flag(given["compare_previous"], name("compare_previous"))
        since = parse_day(given.get("since"), name("since"))
        until = parse_day(given.get("until"), name("until"))
        out["since"] = since.isoformat() if since else ""
        out["until"] = until.isoformat() if until else ""
        out["period"] = Period(since, until)
        for key in ("previous_since", "previous_until", "as_of", "award_start"):
            day = parse_day(given.get(key), name(key))
            out[key] = day.isoformat() if day else ""
        if bool(out["previous_since"]) != bool(out["previous_until"]):
            raise InputError(f"{name('previous_since')} and {name('previous_until')} go together")
        if out["previous_since"]:
            Period(parse_day(out["previous_since"], ""), parse_day(out["previous_until"], ""))
            out["compare_previous"] = True
        if "years" in given:
            out["years"] = int(_number(given["years"], name("years"), whole=True, positive=True))
            award_periods(date(2000, 1, 1), out["years"], name("years"))
        if out.get("compare_previous"):
            out["period"].previous(name("compare_previous"))
        return cls(**out)

    @property
    def previous_period(self) -> Period | None:
        """The period to compare with, when given by hand."""
        if not self.previous_since:
            return None
        return Period(date.fromisoformat(self.previous_since), date.fromisoformat(self.previous_until))

    def day(self, key: str) -> date | None:
        """A day parameter (``as_of``, ``award_start``) as a date, None when unset."""
        value = getattr(self, key)
        return date.fromisoformat(value) if value else None

    def to_mapping(self) -> dict[str, Any]:
        """Plain values (lists, not tuples) for papermill and for the report's provenance."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in ((k, getattr(self, k)) for k in self.names())
        }
