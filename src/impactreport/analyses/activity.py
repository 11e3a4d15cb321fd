"""Activity over time: weighted posts per month (stacked by project) and kernel-smoothed densities.

Densities are on a daily grid covering the data plus 4 bandwidths (see :mod:`.smoothing`): the
value is weighted posts (or characters) per day, and its sum over the grid days equals the total.
Every project shares one grid so the curves stack.
"""

from __future__ import annotations

import polars as pl

from impactreport.schema import Dataset

from . import AnalysisParams
from .contributors import authored
from .imbalance import events
from .smoothing import grid_for, smooth_groups, thinning_step, to_days


def histogram(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """Weighted posts per period (``histogram_bin``, default one month) and project.

    Columns: project, period (Date, start of the bin), posts, weighted, period_end. Only non-empty bins.
    """
    return (
        events(dataset, params)
        .drop_nulls("published")
        .with_columns(period=pl.col("published").dt.truncate(params.histogram_bin).dt.date())
        .group_by("project", "period")
        .agg(posts=pl.len().cast(pl.Int64), weighted=pl.col("weight").sum())
        .with_columns(period_end=pl.col("period").dt.offset_by(params.histogram_bin))
        .sort("period", "project")
        .collect()
    )


def density(frame: pl.DataFrame, *, weight: str, bandwidth: float, max_points: int) -> pl.DataFrame:
    """Smoothed ``weight`` per day and project on one shared grid, thinned to ≤ max_points per series."""
    rows = frame.drop_nulls("published")
    grid = grid_for(to_days(rows["published"]), bandwidth)
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


def activity_density(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """Kernel-smoothed weighted posts per day per project (columns project, date, per_day, bandwidth)."""
    frame = events(dataset, params).collect()
    return density(frame, weight="weight", bandwidth=params.bandwidth, max_points=params.max_points)


def characters_density(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """Character generation: kernel-smoothed characters of comments and notes per day per project."""
    frame = authored(dataset, params).select("project", "published", "characters")
    return density(frame, weight="characters", bandwidth=params.char_bandwidth, max_points=params.max_points)
