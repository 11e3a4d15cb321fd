"""Per-user totals of comments and notes, and who is above the character thresholds.

A person is a ``profile_id`` (global across projects), so a user active in several projects is
counted once, with the projects listed. Documents are left out: Thinklab does not export their
authors. When a username is unknown (format B without a resolving snapshot) the profile id is the key.
"""

from __future__ import annotations

import polars as pl

from impactreport.schema import Dataset

from . import AnalysisParams

AUTHORED_KINDS = ("comment", "note")


def user_label() -> pl.Expr:
    """Display name: full name, else username, else ``user <id>``."""
    return pl.coalesce(
        pl.col("name").str.strip_chars().replace("", None),
        pl.col("username"),
        pl.concat_str(pl.lit("user "), pl.col("profile_id").cast(pl.String)),
        pl.lit("unknown user"),
    )


def authored(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """Comments and notes with a ``user_key`` (one per person) and ``user`` (display name)."""
    posts = dataset.posts.lazy().filter(pl.col("kind").is_in(AUTHORED_KINDS))
    if params.exclude_bots:
        posts = posts.filter(~pl.col("is_bot").fill_null(False))
    return (
        posts.with_columns(
            user_key=pl.coalesce(
                pl.concat_str(pl.lit("id:"), pl.col("profile_id").cast(pl.String)),
                pl.concat_str(pl.lit("u:"), pl.col("username")),
                pl.lit("unknown"),
            ),
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
    """Level names from the highest threshold down: ``≥ 4,000 characters`` … ``< 500 characters``."""
    ordered = sorted(set(thresholds), reverse=True)
    return [f"≥ {t:,} characters" for t in ordered] + [f"< {ordered[-1]:,} characters"]


def level_expr(column: str, thresholds: tuple[int, ...]) -> pl.Expr:
    ordered = sorted(set(thresholds), reverse=True)
    labels = level_labels(thresholds)
    expr = pl.when(pl.col(column) >= ordered[0]).then(pl.lit(labels[0]))
    for threshold, label in zip(ordered[1:], labels[1:], strict=False):
        expr = expr.when(pl.col(column) >= threshold).then(pl.lit(label))
    return expr.otherwise(pl.lit(labels[-1]))


def contributors(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """One row per person: posts, characters, words, first and last date, level, team, rank.

    Sorted by characters (most first). ``level`` names the highest threshold the person reaches;
    ``above_<t>`` is True for each threshold reached (characters of comments and notes ≥ t).
    """
    team = {name.lower() for name in params.team}
    totals = (
        authored(dataset, params)
        .lazy()
        .group_by("user_key")
        .agg(
            user=pl.col("user").first(),
            profile_id=pl.col("profile_id").drop_nulls().first(),
            username=pl.col("username").drop_nulls().first(),
            projects=pl.col("project").unique().sort().str.join(", "),
            comments=(pl.col("kind") == "comment").sum().cast(pl.Int64),
            notes=(pl.col("kind") == "note").sum().cast(pl.Int64),
            posts=pl.len().cast(pl.Int64),
            characters=pl.col("characters").sum().cast(pl.Int64),
            words=pl.col("words").sum().cast(pl.Int64),
            first=pl.col("published").min(),
            last=pl.col("published").max(),
        )
        .with_columns(
            level=level_expr("characters", params.thresholds),
            team=pl.col("username").str.to_lowercase().is_in(sorted(team)).fill_null(False),
            **{f"above_{t}": pl.col("characters") >= t for t in sorted(set(params.thresholds))},
        )
        .sort(["characters", "first", "user_key"], descending=[True, False, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1))
        .collect()
    )
    return totals.select(
        "rank", "user", "username", "profile_id", "projects", "posts", "comments", "notes",
        "characters", "words", "first", "last", "level", "team",
        *[f"above_{t}" for t in sorted(set(params.thresholds))], "user_key",
    )  # fmt: skip


def threshold_counts(frame: pl.DataFrame, thresholds: tuple[int, ...]) -> dict[int, int]:
    """How many users reach each threshold (from a contributors frame)."""
    return {t: int((frame["characters"] >= t).sum()) for t in sorted(set(thresholds))}
