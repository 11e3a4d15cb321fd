"""User activity streams: smoothed characters per day of the main contributors, as a streamgraph.

Each user above the stream threshold is one band; everyone else (and anyone beyond ``max_bands``)
is pooled in one "Other contributors" band on top. Bands are stacked in order of first contribution
(earliest at the bottom) around a centred baseline: at every day the stack runs from −total/2 to
+total/2, so the chart is symmetric around zero and a band's thickness is that user's characters per day.
"""

from __future__ import annotations

import polars as pl

from impactreport.schema import Dataset
from impactreport.settings import Period, above

from .activity import period_grid
from .contributors import authored
from .params import AnalysisParams
from .smoothing import smooth_groups, thinning_step, to_days

OTHERS = "Other contributors"
#: More bands than this are not readable: the rest joins the "Other contributors" band.
MAX_BANDS = 40
#: Streams are smoothed over weeks (bandwidth 30 days): 300 points per band draw them exactly.
MAX_POINTS = 300


def excluded(frame: pl.DataFrame, names: tuple[str, ...]) -> pl.Expr:
    """Rows whose username or display name is one of ``names`` (case-insensitive)."""
    lowered = sorted({name.strip().lower() for name in names})
    return pl.col("username").str.to_lowercase().is_in(lowered).fill_null(False) | pl.col(
        "user"
    ).str.to_lowercase().is_in(lowered)


def pick_bands(posts: pl.DataFrame, minimum: int, max_bands: int) -> pl.DataFrame:
    """Per user: total, first contribution, band name (the user, or OTHERS) and band order."""
    users = (
        posts.group_by("user_key")
        .agg(user=pl.col("user").first(), total=pl.col("characters").sum(), first=pl.col("published").min())
        .with_columns(size_rank=pl.col("total").rank("ordinal", descending=True))
        .with_columns(own=above("total", minimum) & (pl.col("size_rank") <= max_bands))
        .with_columns(band=pl.when("own").then("user").otherwise(pl.lit(OTHERS)))
    )
    own = users.filter("own").sort("first", "user_key").with_columns(order=pl.int_range(pl.len()))
    return users.join(own.select("user_key", "order"), on="user_key", how="left").with_columns(
        order=pl.col("order").fill_null(own.height)
    )


def stack_centred(curves: pl.DataFrame) -> pl.DataFrame:
    """y0/y1 of each band, stacked by ``order`` around −total/2 at every date."""
    return (
        curves.sort("date", "order")
        .with_columns(_top=pl.col("value").cum_sum().over("date"), _sum=pl.col("value").sum().over("date"))
        .with_columns(y1=pl.col("_top") - pl.col("_sum") / 2)
        .with_columns(y0=pl.col("y1") - pl.col("value"))
        .drop("_top", "_sum")
    )


def user_streams(
    dataset: Dataset, params: AnalysisParams, *, max_bands: int = MAX_BANDS, period: Period | None = None
) -> pl.DataFrame:
    """Columns: user (band), order, date, value (characters/day), y0, y1, total, first, users.

    With a period the grid runs over the period's days only (:func:`.activity.period_grid`).
    """
    posts = authored(dataset, params).drop_nulls("published")
    if params.exclude_users:
        posts = posts.filter(~excluded(posts, params.exclude_users))
    bands = pick_bands(posts, params.stream_min, max_bands)
    posts = posts.join(bands.select("user_key", "band", "order"), on="user_key")
    grid = period_grid(to_days(posts["published"]), params.stream_days, period)
    curves, _ = smooth_groups(
        posts.sort("order"),
        group="band",
        time="published",
        weight="characters",
        bandwidth=params.stream_days,
        grid=grid,
        step=thinning_step(grid, min(params.max_points, MAX_POINTS)),
    )
    summary = bands.group_by("band").agg(
        order=pl.col("order").first(),
        total=pl.col("total").sum().cast(pl.Int64),
        first=pl.col("first").min(),
        users=pl.len().cast(pl.Int64),
    )
    return (
        stack_centred(curves.join(summary, on="band"))
        .rename({"band": "user"})
        .select("user", "order", "date", "value", "y0", "y1", "total", "first", "users")
    )
