"""Cumulative contribution: each user's characters written so far, smoothed, stacked (Rephetio style).

The cumulative series is the running sum of the kernel-smoothed characters per day (bandwidth
``cumulative_bandwidth``, ≈ 11 days as in the Rephetio report), which equals the Gaussian-smoothed
step function of the user's cumulative characters; the grid extends 4 bandwidths past the last post,
so every series ends exactly at the user's total. Band height is √cumulative (``sqrt=False``: the
cumulative itself) so small contributors stay visible next to a dominant one. Bands are stacked in
order of first contribution, the earliest at the bottom. Users with more than ``label_threshold``
characters (default: the highest threshold) get a label "Name 512,345" (numbers in full, as the text
writes them).

With a period the grid runs over the period's days (:func:`.activity.period_grid`): every series starts
at 0 on the period's first day, and ends at the user's total in the period less the kernel's spill
past its last day (the label's total is exact).
"""

from __future__ import annotations

import polars as pl

from impactreport.schema import Dataset
from impactreport.settings import Period, above

from .activity import period_grid
from .contributors import authored
from .params import AnalysisParams
from .smoothing import smooth_groups, thinning_step, to_days
from .streams import OTHERS, pick_bands

#: Beyond this many users the smallest are pooled in one band (a 1M-post demo has thousands).
MAX_BANDS = 80
#: The cumulative curves are smooth: 250 points per band draw them exactly and keep the chart light.
MAX_POINTS = 250


def format_total(characters: float) -> str:
    """512,345 → ``512,345``: the total in full with thousands separators, as the text and the tables
    write it (never ``512.3K`` beside ``512,345``)."""
    return f"{round(characters):,}"


def cumulative_contribution(
    dataset: Dataset, params: AnalysisParams, *, max_bands: int = MAX_BANDS, period: Period | None = None
) -> pl.DataFrame:
    """Columns: user, order, date, cumulative, height, y0, y1, total, first, labelled, label, users."""
    posts = authored(dataset, params).drop_nulls("published")
    bands = pick_bands(posts, 0, max_bands)
    posts = posts.join(bands.select("user_key", "band", "order"), on="user_key")
    bandwidth = params.cumulative_bandwidth
    grid = period_grid(to_days(posts["published"]), bandwidth, period)
    step = thinning_step(grid, min(params.max_points, MAX_POINTS))
    daily, _ = smooth_groups(
        posts.sort("order"),
        group="band",
        time="published",
        weight="characters",
        bandwidth=bandwidth,
        grid=grid,
    )
    last_day = grid.dates[-1] if grid.days else None
    summary = bands.group_by("band").agg(
        order=pl.col("order").first(),
        total=pl.col("total").sum().cast(pl.Int64),
        first=pl.col("first").min(),
        users=pl.len().cast(pl.Int64),
    )
    summary = summary.with_columns(
        labelled=above("total", params.label_min) & (pl.col("band") != OTHERS),
        label=pl.Series(
            [f"{band} {format_total(total)}" for band, total in summary.select("band", "total").iter_rows()],
            dtype=pl.String,
        ),
    ).with_columns(label=pl.when("labelled").then("label"))
    transform = pl.col("cumulative").sqrt() if params.sqrt else pl.col("cumulative")
    return (
        daily.lazy()
        .sort("band", "date")
        .with_columns(cumulative=pl.col("value").cum_sum().over("band"))
        .filter(((pl.int_range(pl.len()).over("band") % step) == 0) | (pl.col("date") == last_day))
        .join(summary.lazy(), on="band")
        .with_columns(height=transform)
        .sort("date", "order")
        .with_columns(y1=pl.col("height").cum_sum().over("date"))
        .with_columns(y0=pl.col("y1") - pl.col("height"))
        .rename({"band": "user"})
        .select(
            "user", "order", "date", "cumulative", "height", "y0", "y1", "total", "first", "labelled",
            "label",
            "users",
        )
        .collect()
    )  # fmt: skip
