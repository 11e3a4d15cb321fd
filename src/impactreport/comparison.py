"""Periods side by side: this period against the previous one, and award years in columns.

Why its own module: the summary table, the JSON and the report all show the same rows with the same
change rule; each is defined here once. The numbers themselves come from one code path
(:func:`impactreport.counting.count_period`), so a column equals a direct run of its period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from impactreport.settings import Period
from impactreport.stats import ImpactStats

#: Rows of the "this period / previous period / change" and award-year tables (summary and report):
#: the impact sentence's numbers, then the ones a grant report asks for.
COMPARISON_ROWS: tuple[tuple[str, str], ...] = (
    ("non_team_contributors", "Non-team contributors"),
    ("discussions", "Discussions"),
    ("comments", "Comments"),
    ("notes", "Notes"),
    ("words", "Words"),
    ("characters", "Characters"),
    ("contributors", "Contributors"),
    ("new_contributors", "New contributors"),
    ("views", "Views"),
)


def period_json(period: Period) -> dict[str, str | None]:
    """``{"since": "2016-09-01", "until": "2017-08-31"}`` (null for an open end)."""
    return {
        "since": period.since.isoformat() if period.since else None,
        "until": period.until.isoformat() if period.until else None,
    }


@dataclass(frozen=True)
class Comparison:
    """The same statistics for the previous period (``--compare-previous``).

    ``change`` holds, per numeric key of :class:`~impactreport.stats.LevelStats` (nested objects
    nested), the percent change from the previous period to this one, rounded to 0.1; None where the
    previous value is 0 or missing (never a division by zero). ``empty``: the previous period holds no
    text and no discussion. ``notes`` say how the previous period's numbers are to be read.
    """

    period: Period
    stats: ImpactStats
    change: dict[str, Any]
    empty: bool
    notes: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        """What a reader must know about the comparison (the previous period holds no data)."""
        if self.empty:
            return (
                f"the previous period ({self.period.describe()}) holds no data: "
                "there is nothing to compare with, so no change is given"
            )
        return None

    def to_json(self) -> dict[str, Any]:
        """``previous_period``, ``previous`` (same keys as ``overall``) and ``change``."""
        return {
            "previous_period": period_json(self.period),
            "previous": self.stats.overall.to_json(),
            "change": self.change,
        }


def change_text(value: float | None) -> str:
    """``+12.5 %``, ``−3.0 %``; an en dash when there is no change to give (previous 0 or missing)."""
    if value is None:
        return "–"
    return f"{value:+,.1f} %".replace("-", "−")


def comparison_rows(current: ImpactStats, comparison: Comparison) -> list[tuple[str, Any, Any, str]]:
    """(label, this period, previous period, change) for each of :data:`COMPARISON_ROWS`."""
    previous = comparison.stats.overall
    return [
        (label, current.overall[key], previous[key], change_text(comparison.change.get(key)))
        for key, label in COMPARISON_ROWS
    ]


def percent_change(current: Any, previous: Any) -> Any:
    """Percent change per numeric value, recursing into objects; None when previous is 0 or missing."""
    if isinstance(current, Mapping):
        previous = previous if isinstance(previous, Mapping) else {}
        return {
            key: percent_change(value, previous.get(key))
            for key, value in current.items()
            if _numeric(value) or isinstance(value, Mapping)
        }
    if not _numeric(current) or not _numeric(previous) or previous == 0:
        return None
    return round((current - previous) / previous * 100, 1)


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class AwardColumn:
    """One column of the award-year table: "Year 1" … or "Since award start", with its numbers."""

    label: str
    period: Period
    stats: ImpactStats
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            **period_json(self.period),
            "overall": self.stats.overall.to_json(),
            "notes": list(self.notes),
        }


def award_rows(columns: Sequence[AwardColumn]) -> list[tuple[str, list[Any]]]:
    """(label, one value per column) for each of :data:`COMPARISON_ROWS`."""
    return [(label, [column.stats.overall[key] for column in columns]) for key, label in COMPARISON_ROWS]
