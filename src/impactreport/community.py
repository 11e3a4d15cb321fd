"""Community health: time to first response, new and returning contributors, contributor absence factor.

Why one module: ``summary``, the figures and the report state these numbers; each definition lives here
once, as polars queries over the ``posts`` hub, and every layer calls it.

- **First response** (CHAOSS "Time to First Response"): a discussion opens at its thread's publication
  time; its **opener** is the thread's author, or where the export has none (Thinklab's document-review
  threads) the author of its earliest comment. The opener is a person, as every post's author is
  (:func:`impactreport.people.account_people`): with an identities file, a reply from any of the
  opener's accounts is the opener's. The first response is the earliest comment or note in the
  thread, posted at or after the opening, by a known person other than the opener and not a bot.
  Discussions without one are unanswered: counted, and kept out of the median.
- **First contribution**: a person's earliest comment or note of all time (``history``: the posts before
  any period restriction), never the earliest inside a period (Augur's pitfall, which makes a veteran
  "new" in every window). Within a period a contributor is **new** when that first contribution is one
  of the period's posts, else **returning**.
- **Absence factor** (CHAOSS "Contributor Absence Factor", formerly the bus factor): the smallest number
  of contributors, taken from the largest down, whose contributions together reach at least half of all
  contributions (``>=``, as CHAOSS's 8Knot does); on characters and on posts; null without any.

Periods: :func:`impactreport.pipeline.restrict` keeps the texts posted in the period and the threads
opened or commented on in it. Time to first response concerns the discussions *opened* in the period
(the thread's publication time in it, given ``period``); their first response is searched in
``history``, so it may come after the period ends. Without ``period`` the restricted tables stand in for
it: a thread counts when its earliest comment or note of all time is one of the period's posts (a
thread's opening post is its first comment), or when it has none. Counts of discussions answered and
unanswered, and of new contributors, thus add up over disjoint periods.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from impactreport.people import AUTHORED_KINDS, account_id, account_people, authored
from impactreport.settings import Period

#: A thread is one (source, project, thread id): ids are global per source, projects kept apart anyway.
THREAD_KEYS = ("source", "project", "thread_id")
HOUR_US = 3_600_000_000
WITHIN_24H = 24.0
WITHIN_7D = 7 * 24.0


def _texts(posts: pl.LazyFrame) -> pl.LazyFrame:
    """Comments and notes that belong to a thread (bots included: they may open a thread)."""
    return posts.filter(pl.col("kind").is_in(AUTHORED_KINDS) & pl.col("thread_id").is_not_null())


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
    texts = _texts(history)
    comment = pl.col("kind") == "comment"
    earliest = texts.group_by(THREAD_KEYS).agg(
        _first=pl.col("published").min(),
        _first_comment_author=pl.col("person")
        .filter(comment)
        .sort_by(pl.col("published").filter(comment), pl.col("post_id").filter(comment))
        .first(),
    )
    in_period = _texts(posts).group_by(THREAD_KEYS).agg(_period_first=pl.col("published").min())
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


def absence_factor(value: str) -> pl.Expr:
    """Aggregation over one row per person: the fewest people, largest first, with >= half of ``value``.

    Null when the total is zero (no contributions). Integer arithmetic (``2 × cumulative >= total``),
    so the 50 % boundary is exact.
    """
    column = pl.col(value).fill_null(0)
    total = column.sum()
    short = (column.sort(descending=True).cum_sum() * 2 < total).sum()
    return pl.when(total > 0).then(short.cast(pl.Int64) + 1).otherwise(None)


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
