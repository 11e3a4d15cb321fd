"""The views figure names the snapshots its views are measured between, for every project drawn.

On the award-year report of the imported archive, eight projects were measured from 1 Sep 2016 and two
from 31 Aug and 30 Aug 2016; the axis said "from the snapshot of 30 Aug 2016", one project's day for all.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from impactreport.figures.views import _between


def _gained(starts: list[date], ends: list[date]) -> pl.DataFrame:
    return pl.DataFrame(
        {"views_from": starts, "views_to": ends}, schema={"views_from": pl.Date, "views_to": pl.Date}
    )


def test_one_day_for_every_project_is_named() -> None:
    frame = _gained([date(2016, 9, 1)] * 3, [date(2017, 8, 31)] * 3)
    assert _between(frame) == "from the snapshot of 1 Sep 2016 to that of 31 Aug 2017"


def test_projects_measured_from_different_days_are_not_given_one_day() -> None:
    frame = _gained([date(2016, 9, 1), date(2016, 8, 30)], [date(2017, 8, 31)] * 2)
    text = _between(frame)
    assert (
        text
        == "from each project's last snapshot on or before 1 Sep 2016 to its last on or before 31 Aug 2017"
    )
    assert "30 Aug" not in text


def test_without_a_start_every_view_counts() -> None:
    frame = _gained([None], [date(2017, 8, 31)])  # type: ignore[list-item]
    assert _between(frame) == "from the first view to that of 31 Aug 2017"
