"""Activity over time: weighted posts per month (stacked by project) and kernel-smoothed densities.

Densities are on a daily grid covering the data plus 4 bandwidths (see :mod:`.smoothing`): the
value is weighted posts (or characters) per day, and its sum over the grid days equals the total.
Every project shares one grid so the curves stack.

With a period (:class:`impactreport.settings.Period`) every chart shows the period only:

- a discussion is counted once, when it enters the period: at its opening when it was opened in the
  period, else at its first comment in the period (an old discussion commented on in the period is
  not plotted at its opening years before). So the histogram's discussions add up to the
  ``discussions`` of ``summary`` for the same period;
- the grids start at the period's first day and end at its last (an open end keeps the data's
  margin). The curves are the same as on the unclipped grid inside the period (no post lies outside
  it); the kernel's spill past the period's ends is cut, so near the ends a curve's sum is below the
  total.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from impactreport.schema import Dataset
from impactreport.settings import Period

from .contributors import authored
from .imbalance import events
from .params import AnalysisParams
from .smoothing import EPOCH, Grid, grid_for, smooth_groups, thinning_step, to_days


def period_grid(days: np.ndarray, bandwidth: float, period: Period | None) -> Grid:
    """The daily grid of :func:`grid_for`, cut to the period's given ends."""
    grid = grid_for(days, bandwidth)
    if period is None or period.is_open:
        return grid
    start, stop = grid.start, grid.start + grid.days
    if period.since is not None:
        start = (period.since - EPOCH).days
    if period.until is not None:
        stop = (period.until - EPOCH).days + 1
    return Grid(start, max(1, stop - start))


def period_events(dataset: Dataset, params: AnalysisParams, period: Period | None) -> pl.LazyFrame:
    """:func:`.imbalance.events` with each discussion dated when it enters the period (see module doc)."""
    rows = events(dataset, params)
    if period is None or period.is_open:
        return rows
    keys = ["source", "project", "thread_id"]
    first_comment = (
        dataset.posts.lazy()
        .filter(pl.col("kind") == "comment")
        .group_by(keys)
        .agg(first=pl.col("published").min())
    )
    threads = (
        dataset.threads.lazy()
        .join(first_comment, on=keys, how="left", nulls_equal=True)
        .select(
            "project",
            kind=pl.lit("threads"),
            published=pl.when(period.contains("published")).then("published").otherwise("first"),
            weight=pl.lit(params.weight("threads")),
        )
    )
    return pl.concat([threads, rows.filter(pl.col("kind") != "threads")], how="vertical_relaxed")


def histogram(dataset: Dataset, params: AnalysisParams, period: Period | None = None) -> pl.DataFrame:
    """Weighted posts per period (``histogram_bin``, default one month) and project.

    Columns: project, period (Date, start of the bin), posts, weighted, period_end. Only non-empty bins.
    """
    return (
        period_events(dataset, params, period)
        .drop_nulls("published")
        .with_columns(period=pl.col("published").dt.truncate(params.histogram_bin).dt.date())
        .group_by("project", "period")
        .agg(posts=pl.len().cast(pl.Int64), weighted=pl.col("weight").sum())
        .with_columns(period_end=pl.col("period").dt.offset_by(params.histogram_bin))
        .sort("period", "project")
        .collect()
    )


def density(
    frame: pl.DataFrame, *, weight: str, bandwidth: float, max_points: int, period: Period | None = None
) -> pl.DataFrame:
    """Smoothed ``weight`` per day and project on one shared grid, thinned to ≤ max_points per series."""
    rows = frame.drop_nulls("published")
    grid = period_grid(to_days(rows["published"]), bandwidth, period)
    curves, _ = smooth_groups(
        rows.sort("project"),
        group="project",
        time="published",
        weight=weight,
        bandwidth=bandwidth,
        grid=grid,
        step=thinning_step(grid, max_points),
    )
    return curves.rename({"value": "per_day"}).with_columns(bandwidth=pl.lit(float(bandwidth)))


def activity_density(dataset: Dataset, params: AnalysisParams, period: Period | None = None) -> pl.DataFrame:
    """Kernel-smoothed weighted posts per day per project (columns project, date, per_day, bandwidth)."""
    frame = period_events(dataset, params, period).collect()
    return density(
        frame, weight="weight", bandwidth=params.bandwidth, max_points=params.max_points, period=period
    )


def characters_density(
    dataset: Dataset, params: AnalysisParams, period: Period | None = None
) -> pl.DataFrame:
    """Character generation: kernel-smoothed characters of comments and notes per day per project."""
    frame = authored(dataset, params).select("project", "published", "characters")
    return density(
        frame,
        weight="characters",
        bandwidth=params.char_bandwidth,
        max_points=params.max_points,
        period=period,
    )
