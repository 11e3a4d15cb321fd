"""Time to first response (CHAOSS), answered and unanswered discussions: the definition and its numbers.

A discussion opens at its thread's publication time; its **opener** is the thread's author, or where the
export has none (Thinklab's document-review threads) the author of its earliest comment. The opener is a
person, as every post's author is (:func:`impactreport.people.account_people`): with an identities file,
a reply from any of the opener's accounts is the opener's. The first response is the earliest comment or
note in the thread, posted at or after the opening, by a known person other than the opener and not a
bot. Discussions without one are **unanswered**: counted, and kept out of the median.

Periods: the discussions *opened* in the period count (the thread's publication time in it, given
``period``); their first response is searched in ``history``, so it may come after the period ends.
Without ``period`` the restricted tables stand in for it: a thread counts when its earliest comment or
note of all time is one of the period's posts (a thread's opening post is its first comment), or when it
has none. Counts of discussions answered and unanswered thus add up over disjoint periods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from impactreport.people import account_id, account_people
from impactreport.settings import Period

from .threads import THREAD_KEYS, thread_texts

HOUR_US = 3_600_000_000
WITHIN_24H = 24.0
WITHIN_7D = 7 * 24.0


@dataclass(frozen=True)
class FirstResponse:
    """Time to first response of the discussions opened (:func:`first_responses`): ``summary``'s
    ``first_response`` object."""

    answered: int = 0
    unanswered: int = 0
    #: median hours to the first response of the answered discussions; None when none was answered
    median_hours: float | None = None
    within_24h: int = 0
    within_7d: int = 0


def first_responses(
    threads: pl.LazyFrame, posts: pl.LazyFrame, history: pl.LazyFrame, period: Period | None = None
) -> pl.LazyFrame:
    """One row per discussion opened in the period: its opener and first response.

    ``threads`` and ``posts`` are the (period-restricted) tables, ``history`` every post before the
    restriction (the same frame as ``posts`` without a period), ``period`` the restriction (None: the
    tables say which threads were opened in it, see the module). Columns: ``source``, ``project``,
    ``thread_id``, ``opened``, ``opener`` (person), ``responded``, ``responder`` (person), ``hours``
    (null when unanswered) and ``answered``.
    """
    texts = thread_texts(history)
    comment = pl.col("kind") == "comment"
    earliest = texts.group_by(THREAD_KEYS).agg(
        _first=pl.col("published").min(),
        _first_comment_author=pl.col("person")
        .filter(comment)
        .sort_by(pl.col("published").filter(comment), pl.col("post_id").filter(comment))
        .first(),
    )
    in_period = thread_texts(posts).group_by(THREAD_KEYS).agg(_period_first=pl.col("published").min())
    # the thread's author as the person their posts are (identities applied once, to the posts): an
    # account that wrote no post is its own person
    people = account_people(history).select("source", "profile_id", _person=pl.col("person"))
    opened = (
        threads.join(people, on=["source", "profile_id"], how="left")
        .select(
            *THREAD_KEYS,
            pl.col("published"),
            pl.when(pl.col("profile_id").is_not_null())
            .then(pl.coalesce("_person", account_id()))
            .alias("_author"),
        )
        .with_columns(pl.col("project").cast(pl.String))
        .join(earliest, on=THREAD_KEYS, how="left", nulls_equal=True)
        .join(in_period, on=THREAD_KEYS, how="left", nulls_equal=True)
        .filter(
            period.contains("published")
            if period is not None
            else pl.col("_first").is_null() | (pl.col("_first") == pl.col("_period_first"))
        )
        .select(
            *THREAD_KEYS,
            opened=pl.coalesce("published", "_first"),
            opener=pl.coalesce("_author", "_first_comment_author"),
        )
    )
    responses = (
        texts.filter(pl.col("person").is_not_null() & ~pl.col("is_bot").fill_null(False))
        .select(*THREAD_KEYS, "person", "published", "post_id")
        .join(opened, on=THREAD_KEYS, how="inner", nulls_equal=True)
        .filter((pl.col("published") >= pl.col("opened")) & pl.col("person").ne_missing(pl.col("opener")))
        .group_by(THREAD_KEYS)
        .agg(
            responded=pl.col("published").min(),
            responder=pl.col("person").sort_by("published", "post_id").first(),
        )
    )
    return (
        opened.join(responses, on=THREAD_KEYS, how="left", nulls_equal=True)
        .with_columns(
            hours=(pl.col("responded") - pl.col("opened")).dt.total_microseconds() / HOUR_US,
        )
        .with_columns(answered=pl.col("hours").is_not_null())
    )


def response_summary() -> list[pl.Expr]:
    """Aggregations of :func:`first_responses` rows: answered, unanswered, median, within 24 h / 7 d.

    The median of an even count is the mean of the two middle values (polars' ``median``).
    """
    hours = pl.col("hours")
    return [
        hours.is_not_null().sum().cast(pl.Int64).alias("answered"),
        hours.is_null().sum().cast(pl.Int64).alias("unanswered"),
        hours.median().alias("median_hours"),
        (hours <= WITHIN_24H).sum().cast(pl.Int64).alias("within_24h"),
        (hours <= WITHIN_7D).sum().cast(pl.Int64).alias("within_7d"),
    ]


def first_response_of(row: dict[str, Any], prefix: str = "_fr_") -> FirstResponse:
    """The first-response object of one level's row of :func:`response_summary` columns (named with
    ``prefix``); hours rounded to 2 decimals, as JSON shows them."""
    median = row.get(f"{prefix}median_hours")
    return FirstResponse(
        answered=int(row.get(f"{prefix}answered") or 0),
        unanswered=int(row.get(f"{prefix}unanswered") or 0),
        median_hours=None if median is None else round(float(median), 2),
        within_24h=int(row.get(f"{prefix}within_24h") or 0),
        within_7d=int(row.get(f"{prefix}within_7d") or 0),
    )
