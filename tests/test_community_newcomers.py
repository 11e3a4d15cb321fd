"""New and returning (first-time) contributors (:mod:`impactreport.community.newcomers`).

New means a first contribution of all time in the period, never the earliest inside it; compared with
counts from the raw JSON (:mod:`tests.community_data`) on the real final Thinklab exports.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from impactreport import summarise
from impactreport.analyses import AnalysisParams
from impactreport.counting import restrict
from impactreport.figures.registry import compute_all
from impactreport.settings import Period
from tests.community_data import (
    PERIOD,
    raw_first_contributions,
    raw_texts,
    rules_dataset,
)


@pytest.mark.shared
def test_new_and_returning_contributors_in_a_period_match_raw_json(dataset, raws) -> None:
    """New = first contribution of all time in the period, never the earliest inside the period."""
    stats = summarise(restrict(dataset, PERIOD), history=dataset.posts)
    first_in_project, first_overall = raw_first_contributions(raws)
    start, end = PERIOD.start, PERIOD.end
    assert start is not None and end is not None
    active_overall: set[int] = set()
    for project, raw in raws.items():
        active = {t["author"] for t in raw_texts(raw) if start <= t["at"] < end}
        active_overall |= active
        new = {a for a in active if first_in_project[(project, a)] >= start}
        level = stats.projects[project]
        assert (level["new_contributors"], level["returning_contributors"]) == (
            len(new),
            len(active) - len(new),
        ), project
        assert level["contributors"] == len(active)
    new_overall = {a for a in active_overall if first_overall[a] >= start}
    assert stats.overall["new_contributors"] == len(new_overall) == 26
    assert stats.overall["returning_contributors"] == len(active_overall) - len(new_overall) == 12
    # without history, the earliest post inside the period would make every contributor "new"
    pitfall = summarise(restrict(dataset, PERIOD))
    assert pitfall.overall["new_contributors"] == pitfall.overall["contributors"] == len(active_overall)


@pytest.mark.shared
def test_new_contributors_add_up_over_disjoint_periods(dataset) -> None:
    whole = summarise(dataset).overall
    periods = [Period(date(y, 1, 1), date(y, 12, 31)) for y in range(2014, 2018)]
    years = [summarise(restrict(dataset, p), history=dataset.posts, period=p) for p in periods]
    assert sum(y.overall["new_contributors"] for y in years) == whole["new_contributors"] == 67


@pytest.mark.shared
def test_contributors_over_time_csv_matches_raw_json(dataset, raws) -> None:
    frames = compute_all(restrict(dataset, PERIOD), AnalysisParams(), history=dataset.posts, period=PERIOD)
    months = frames["contributors-over-time"]
    assert months["month"].to_list() == [date(2016, m, 1) for m in range(1, 13)]
    _, first = raw_first_contributions(raws)
    texts = [t for raw in raws.values() for t in raw_texts(raw)]
    for row in months.iter_rows(named=True):
        month = datetime(row["month"].year, row["month"].month, 1, tzinfo=UTC)
        following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        active = {t["author"] for t in texts if month <= t["at"] < following}
        new = {a for a in active if first[a] >= month}
        assert (row["new"], row["returning"], row["active"]) == (
            len(new),
            len(active) - len(new),
            len(active),
        )
        assert row["cumulative"] == sum(1 for at in first.values() if at < following)
    stats = summarise(restrict(dataset, PERIOD), history=dataset.posts, period=PERIOD)
    assert months["new"].sum() == stats.overall["new_contributors"]
    responses = frames["first-response"]
    assert responses["answered"].sum() == stats.overall.first_response.answered
    assert responses.height == stats.overall.first_response.answered + stats.overall.first_response.unanswered


def test_bots_are_not_contributors_of_new_counts(tmp_path: Path) -> None:
    stats = summarise(rules_dataset(tmp_path)).overall
    assert stats["contributors"] == 3  # alice, bob, carol; the two bots are left out
    assert (stats["new_contributors"], stats["returning_contributors"]) == (3, 0)
