"""Per-person totals of comments and notes, and who is above the character thresholds.

A person is the ``person`` column (:func:`impactreport.people.account_key`: ``<source>:<profile id>``),
so a user active in several projects of one source is counted once, with the projects listed, and
accounts of different sources stay apart. Documents are left out: Thinklab does not export their
authors. Totals come from :func:`impactreport.people.person_totals` and thresholds from
:func:`impactreport.settings.above` (more than), exactly as ``summary`` counts them.
"""

from __future__ import annotations

import polars as pl

from impactreport.people import authored as authored_posts
from impactreport.people import person_totals, user_label
from impactreport.schema import Dataset
from impactreport.settings import above, normal_thresholds

from .params import AnalysisParams

__all__ = ["authored", "contributors", "level_expr", "level_labels", "threshold_counts", "user_label"]


def authored(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """Comments and notes with a ``user_key`` (one per person) and ``user`` (display name)."""
    return (
        authored_posts(dataset.posts.lazy(), include_bots=not params.exclude_bots)
        .with_columns(
            user_key=pl.col("person"),
            characters=pl.col("characters").fill_null(0),
            words=pl.col("words").fill_null(0),
        )
        # one display name per person, even if a profile's name differs between projects
        .with_columns(user=user_label().first().over("user_key", order_by="published"))
        # two people with one name stay two: "Name (username)" for each of them
        .with_columns(
            user=pl.when(pl.col("user_key").n_unique().over("user") > 1)
            .then(
                pl.col("user")
                + " ("
                + pl.coalesce(pl.col("username"), pl.col("profile_id").cast(pl.String), pl.col("user_key"))
                .first()
                .over("user_key")
                + ")"
            )
            .otherwise(pl.col("user"))
        )
        .collect()
    )


def level_labels(thresholds: tuple[int, ...]) -> list[str]:
    """Level names from the highest threshold down: ``> 4,000 characters`` … ``≤ 500 characters``."""
    ordered = normal_thresholds(thresholds)[::-1]
    return [f"> {t:,} characters" for t in ordered] + [f"≤ {ordered[-1]:,} characters"]


def level_expr(column: str, thresholds: tuple[int, ...]) -> pl.Expr:
    """The highest threshold a value is above (the one rule), as a level label."""
    ordered = normal_thresholds(thresholds)[::-1]
    labels = level_labels(thresholds)
    expr: pl.Expr = pl.lit(labels[-1])
    # from the lowest threshold up: each higher threshold the value is above overrides the level
    for threshold, label in zip(ordered[::-1], labels[-2::-1], strict=True):
        expr = pl.when(above(column, threshold)).then(pl.lit(label)).otherwise(expr)
    return expr


def contributors(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """One row per person: posts, characters, words, first and last date, level, team, rank.

    Sorted by characters (most first). ``level`` names the highest threshold the person is above;
    ``above_<t>`` is True for each threshold the person's comment and note characters are more than.
    """
    thresholds = normal_thresholds(params.thresholds)
    frame = authored(dataset, params)
    names = (
        frame.lazy()
        .group_by("user_key")
        .agg(
            pl.col("user").first(),
            pl.col("source").drop_nulls().first(),
            pl.col("profile_id").drop_nulls().first(),
            pl.col("username").drop_nulls().first(),
            projects=pl.col("project").unique().sort().str.join(", "),
            team=params.team.member().any(),
        )
    )
    totals = (
        person_totals(frame.lazy(), include_bots=True)  # bots were already dropped (or kept) above
        .rename({"person": "user_key"})
        .join(names, on="user_key", how="left")
        .with_columns(
            level=level_expr("characters", params.thresholds),
            **{f"above_{t}": above("characters", t) for t in thresholds},
        )
        .sort(["characters", "first", "user_key"], descending=[True, False, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1))
        .collect()
    )
    return totals.select(
        "rank", "user", "username", "source", "profile_id", "projects", "posts", "comments", "notes",
        "characters", "words", "first", "last", "level", "team",
        *[f"above_{t}" for t in thresholds], "user_key",
    )  # fmt: skip


def threshold_counts(frame: pl.DataFrame, thresholds: tuple[int, ...]) -> dict[int, int]:
    """How many users are above each threshold (from a contributors frame)."""
    return {t: int(frame.select(above("characters", t).sum()).item()) for t in normal_thresholds(thresholds)}
