"""New and returning contributors (first-time contributors): the definition and the months' counts.

A person's **first contribution** is their earliest comment or note of all time (``history``: the posts
before any period restriction), never the earliest inside a period (Augur's pitfall, which makes a
veteran "new" in every window). Within a period a contributor is **new** when that first contribution is
one of the period's posts, else **returning**; the counts of new contributors add up over disjoint
periods.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from impactreport.people import authored


def first_contributions(
    history: pl.LazyFrame, by: Sequence[str] = (), *, include_bots: bool = False
) -> pl.LazyFrame:
    """One row per person (per ``by`` group): ``first``, their earliest comment or note in ``history``."""
    return (
        authored(history, include_bots=include_bots)
        .group_by(*by, "person")
        .agg(first=pl.col("published").min())
    )


def contributor_status(
    posts: pl.LazyFrame, history: pl.LazyFrame, by: Sequence[str] = (), *, include_bots: bool = False
) -> pl.LazyFrame:
    """One row per person active in ``posts`` (per ``by`` group), with ``new`` (bool).

    ``new``: the person's first contribution of all time (in ``history``, same group) is one of the
    period's posts, i.e. no earlier than their first post in the period. Columns: ``by``…, ``person``,
    ``period_first``, ``first``, ``new``.
    """
    active = (
        authored(posts, include_bots=include_bots)
        .group_by(*by, "person")
        .agg(period_first=pl.col("published").min())
    )
    return active.join(
        first_contributions(history, by, include_bots=include_bots),
        on=[*by, "person"],
        how="left",
        nulls_equal=True,
    ).with_columns(new=pl.col("first").is_null() | (pl.col("first") >= pl.col("period_first")))


def contributors_by_month(
    posts: pl.LazyFrame, history: pl.LazyFrame, *, include_bots: bool = False
) -> pl.DataFrame:
    """One row per month from the period's first to last contribution (all projects, a person once).

    Columns: ``month`` (first day), ``new`` (first contribution of all time in this month's posts),
    ``returning`` (active in the month, first contribution earlier), ``active`` and ``cumulative``
    (contributors of all time up to the month's end: everyone before the period plus the new ones so far).
    The months' ``new`` add up to ``summary``'s ``new_contributors``.
    """
    period = authored(posts, include_bots=include_bots).with_columns(
        month=pl.col("published").dt.truncate("1mo").dt.date()
    )
    status = contributor_status(posts, history, include_bots=include_bots)
    per_month = (
        period.group_by("month", "person")
        .agg(month_first=pl.col("published").min())
        .join(status.select("person", "period_first", "new"), on="person", how="left")
        # a new person is new in the month of their first post in the period, returning afterwards
        .with_columns(new_here=pl.col("new") & (pl.col("month_first") == pl.col("period_first")))
        .group_by("month")
        .agg(
            new=pl.col("new_here").sum().cast(pl.Int64),
            active=pl.len().cast(pl.Int64),
        )
        .with_columns(returning=pl.col("active") - pl.col("new"))
    )
    frame = per_month.collect()
    schema = {"month": pl.Date, "new": pl.Int64, "returning": pl.Int64, "active": pl.Int64}
    if frame.is_empty():
        return pl.DataFrame(schema={**schema, "cumulative": pl.Int64})
    start = period.select(pl.col("published").min()).collect().item()
    before = (
        first_contributions(history, include_bots=include_bots)
        .filter(pl.col("first") < start)
        .select(pl.len())
        .collect()
        .item()
    )
    months = frame.select(month=pl.date_range(pl.col("month").min(), pl.col("month").max(), "1mo"))
    return (
        months.join(frame, on="month", how="left")
        .with_columns(pl.col("new", "returning", "active").fill_null(0))
        .with_columns(cumulative=pl.col("new").cum_sum() + before)
        .select("month", "new", "returning", "active", "cumulative")
        .sort("month")
    )
