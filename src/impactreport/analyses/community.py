"""Community health frames: time to first response per discussion, new and returning contributors per month.

The definitions are :mod:`impactreport.community` (the same ones ``summary`` counts with), so the figures'
CSVs restate ``summary``'s numbers: ``first-response`` has one row per discussion opened (its answered rows
are ``first_response.answered``), ``contributors-over-time`` one row per month (its ``new`` column adds up
to ``new_contributors``). ``history`` is every post before the period restriction; first contributions and
first responses are of all time.
"""

from __future__ import annotations

import polars as pl

from impactreport import community
from impactreport.schema import Dataset
from impactreport.settings import Period

from .params import AnalysisParams


def _history(dataset: Dataset, history: pl.DataFrame | None) -> pl.LazyFrame:
    """All posts of the dataset's projects (the dataset's own posts when no history is given)."""
    if history is None:
        return dataset.posts.lazy()
    return history.lazy().filter(pl.col("project").is_in(dataset.projects))


def first_response(
    dataset: Dataset,
    params: AnalysisParams,
    history: pl.DataFrame | None = None,
    period: Period | None = None,
) -> pl.DataFrame:
    """One row per discussion opened: project, thread_id, subject, opened, responded, hours, answered.

    ``hours`` is null for an unanswered discussion. Sorted by project, then opening time. Bots never
    respond (the definition), whatever ``params.exclude_bots`` says.
    """
    subjects = dataset.threads.lazy().select(*community.THREAD_KEYS, "subject")
    return (
        community.first_responses(
            dataset.threads.lazy(), dataset.posts.lazy(), _history(dataset, history), period
        )
        .join(subjects, on=community.THREAD_KEYS, how="left", nulls_equal=True)
        .select("project", "thread_id", "subject", "opened", "responded", "hours", "answered")
        .sort("project", "opened", "thread_id")
        .collect()
    )


def contributors_over_time(
    dataset: Dataset, params: AnalysisParams, history: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per month: month, new, returning, active, cumulative (all projects; a person counts once)."""
    return community.contributors_by_month(
        dataset.posts.lazy(), _history(dataset, history), include_bots=not params.exclude_bots
    )
