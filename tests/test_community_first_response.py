"""Time to first response and unanswered discussions (:mod:`impactreport.community.first_response`).

On the real final Thinklab exports every number is compared with a count made from the raw JSON
(:mod:`tests.community_data`); the rules' edge cases (a thread answered only by its opener, a bot's
comment, the github/issue-metrics cases) are small export files read through the loader.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from impactreport import load_dataset, summarise
from impactreport.analyses import AnalysisParams
from impactreport.counting import restrict
from impactreport.figures.registry import compute_all
from impactreport.settings import Period
from tests.community_data import (
    PERIOD,
    export,
    first_response_numbers,
    moment,
    raw_response_hours,
    rules_dataset,
)


@pytest.mark.shared
def test_first_response_matches_raw_json(dataset, raws) -> None:
    stats = summarise(dataset)
    everything: list[float | None] = []
    for project, raw in raws.items():
        hours = raw_response_hours(raw)
        everything += hours
        assert stats.projects[project].to_json()["first_response"] == first_response_numbers(hours), project
    overall = stats.overall.to_json()["first_response"]
    assert overall == first_response_numbers(everything)
    # every discussion is either answered or not; and the data really has both, and review threads
    assert overall["answered"] + overall["unanswered"] == stats.overall["discussions"] == 171
    assert overall["answered"] == 133 and overall["unanswered"] == 38
    assert any(t["profile_id"] is None for raw in raws.values() for t in raw["threads"])


@pytest.mark.shared
def test_first_response_in_a_period_counts_discussions_opened_in_it(dataset, raws) -> None:
    """Discussions opened in the period; their first response whenever it came (here: all time)."""
    stats = summarise(restrict(dataset, PERIOD), history=dataset.posts, period=PERIOD)
    everything: list[float | None] = []
    for project, raw in raws.items():
        hours = raw_response_hours(raw, opened_in=PERIOD)
        everything += hours
        assert stats.projects[project].to_json()["first_response"] == first_response_numbers(hours), project
    assert stats.overall.to_json()["first_response"] == first_response_numbers(everything)
    assert stats.overall["discussions"] > len(everything)  # old threads commented on in 2016 are not counted


@pytest.mark.shared
def test_without_the_period_the_first_post_says_which_discussions_were_opened(dataset, raws) -> None:
    """The fallback (no ``period``): a thread counts when its earliest post is in the period's posts.

    It differs from the publication time only where a thread's posts predate it: rephetio threads 226
    and 231 were published (2017-03-10) after their first comments (Nov 2016, Jan 2017).
    """
    restricted = restrict(dataset, PERIOD)
    exact = summarise(restricted, history=dataset.posts, period=PERIOD)
    fallback = summarise(restricted, history=dataset.posts)
    everything: list[float | None] = []
    for project, raw in raws.items():
        hours = raw_response_hours(raw, opened_in=PERIOD, by_first_post=True)
        everything += hours
        got = fallback.projects[project].to_json()["first_response"]
        assert got == first_response_numbers(hours), project
    assert fallback.overall.to_json()["first_response"] == first_response_numbers(everything)
    moved = [t for t in raws["rephetio"]["threads"] if t["thread_id"] in (226, 231)]
    assert [moment(t["published"]).date() for t in moved] == [date(2017, 3, 10)] * 2
    # thread 226's first comment is of Nov 2016: the fallback counts it in 2016 (231's is of Jan 2017)
    assert fallback.overall.first_response.answered == exact.overall.first_response.answered + 1


@pytest.mark.shared
def test_first_response_counts_add_up_over_disjoint_periods(dataset) -> None:
    whole = summarise(dataset).overall
    periods = [Period(date(y, 1, 1), date(y, 12, 31)) for y in range(2014, 2018)]
    years = [summarise(restrict(dataset, p), history=dataset.posts, period=p) for p in periods]
    for key in ("answered", "unanswered", "within_24h", "within_7d"):
        assert sum(getattr(y.overall.first_response, key) for y in years) == getattr(
            whole.first_response, key
        ), key


def test_first_response_rules(tmp_path: Path) -> None:
    dataset = rules_dataset(tmp_path)
    frame = compute_all(dataset)["first-response"].sort("thread_id")
    assert frame["hours"].to_list() == [24.0, 72.0, None, None, 120.0, 240.0, 6.0]
    assert frame["answered"].to_list() == [True, True, False, False, True, True, True]
    stats = summarise(dataset).overall.to_json()["first_response"]
    # five answered: 6, 24, 72, 120, 240 hours → median 72; within a day: 6 and 24 (inclusive)
    assert stats == {"answered": 5, "unanswered": 2, "median_hours": 72.0, "within_24h": 2, "within_7d": 4}


def test_median_of_an_even_count_is_the_mean_of_the_middle_two(tmp_path: Path) -> None:
    threads = [(1, 1, [(1, 0), (2, 1)]), (2, 1, [(1, 0), (2, 2)]), (3, 1, [(1, 0), (2, 3)]),
               (4, 1, [(1, 0), (2, 10)])]  # fmt: skip
    path = tmp_path / "even.json"
    path.write_text(json.dumps(export(threads)), encoding="utf-8")
    stats = summarise(load_dataset(path)).overall.first_response
    assert stats.median_hours == (48 + 72) / 2
    assert (stats.within_24h, stats.within_7d) == (1, 3)


def test_many_discussions_are_pooled_on_a_log_grid(tmp_path: Path) -> None:
    """Above ``max_points`` answered discussions the chart draws one tick per log bin (bounded size)."""
    from impactreport.figures import build_all

    params = AnalysisParams(max_points=2)
    frames = compute_all(rules_dataset(tmp_path), params)
    spec = json.dumps(build_all(frames, params)["first-response"].to_dict())
    assert '"discussions"' in spec and "pooled on a log grid" in spec
    assert frames["first-response"].height == 7  # the CSV keeps one row per discussion
