"""Edits over time and per person, from the versioned tables: what the figure, the report and the
per-person table show about revisions.

Why a module of its own: :mod:`.revisions` defines a revision, a re-render, written characters; this
module arranges those events by week, by re-render day and by person, clipped to a period, so the
``edits`` figure, its CSV, the report's "Revisions" section and ``summary --history`` all count the
same events (:func:`analyse` measures them once: the LCS of every revision is the slow part). The
report's sentences about them are written in :mod:`impactreport.report.sentences`.

Definitions (README, "History"):

- **Weeks** are ISO weeks: Monday 00:00 UTC to the next Monday. A project's weeks run from the week of
  its first snapshot to that of its last (clipped to the period); ``snapshots`` says how many snapshots
  of the project fall in the week (0: nothing could be seen that week).
- A **re-render day** is a UTC day on which at least one snapshot shows a re-render (a post whose HTML
  changed while its source text did not: the site re-rendered it, nobody edited it). The biggest are
  the days with the most re-renders.
- Per person: **revisions** they made (the revision's author: :mod:`.revisions`), **edited posts**
  (distinct posts they revised), **written** characters (their posts' characters when first seen + the
  characters they inserted) and **final** characters (what their posts hold at the end, less what they
  held at the start of the period: with no period, the characters of each post's last version), all
  source-text characters (:func:`.revisions.source_characters`), not the sentence's. The
  **extra** is written − final, as a percent of final. Posts of a source that names no author
  (Thinklab documents) are one row with no person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from impactreport.history.revisions import events, first_seen, post_versions, source_characters, summarise
from impactreport.history.versions import Versions
from impactreport.people import account_id, account_key, full_name, id_label, user_label
from impactreport.settings import Period

#: Re-render days the report and the figure name (the most re-renders first).
NAMED_RERENDER_DAYS = 3
#: People in the report's table (most revisions first).
TOP_PEOPLE = 10

WEEKLY_SCHEMA = pl.Schema(
    {
        "week": pl.Date(),
        "start": pl.Date(),
        "end": pl.Date(),
        "source": pl.String(),
        "project": pl.String(),
        "snapshots": pl.Int64(),
        "revisions": pl.Int64(),
        "inserted": pl.Int64(),
        "deleted": pl.Int64(),
        "rerenders": pl.Int64(),
        "rerender_days": pl.List(pl.Date()),
    }
)
RERENDER_SCHEMA = pl.Schema(
    {
        "day": pl.Date(),
        "rerenders": pl.Int64(),
        "revisions": pl.Int64(),
        "projects": pl.List(pl.String()),
        "rank": pl.Int64(),
    }
)
PEOPLE_SCHEMA = pl.Schema(
    {
        "person": pl.String(),
        "name": pl.String(),
        "revisions": pl.Int64(),
        "edited_posts": pl.Int64(),
        "written_characters": pl.Int64(),
        "final_characters": pl.Int64(),
        "extra_characters": pl.Int64(),
        "extra_percent": pl.Float64(),
    }
)
#: The ``name`` of the row of posts whose source names no author.
NO_AUTHOR = "Documents (author not in the exports)"
POST = ["source", "project", "kind", "key"]


def in_period(changes: pl.DataFrame, period: Period | None) -> pl.DataFrame:
    """The events (``at``) of ``period``."""
    return changes if period is None else changes.filter(period.contains("at"))


def _date_of(column: str) -> pl.Expr:
    return pl.col(column).dt.date()


def weekly(
    versions: Versions, period: Period | None = None, changes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Per ISO week and project (:data:`WEEKLY_SCHEMA`): snapshots, revisions, inserted and deleted
    characters, re-renders and the re-render days of the week. Every week from the project's first
    snapshot to its last is a row (zeros included: 0 snapshots means nothing could be seen that week),
    clipped to the period; ``start``/``end`` (end exclusive) are the week's days inside the period."""
    period = period or Period()
    snapshots = versions.snapshots.filter(period.contains("retrieved"))
    if snapshots.height == 0:
        return pl.DataFrame(schema=WEEKLY_SCHEMA)
    found = in_period(events(versions) if changes is None else changes, period)
    week = _date_of("at").dt.truncate("1w")
    counts = found.group_by("source", "project", week.alias("week")).agg(
        revisions=pl.col("revision").sum().cast(pl.Int64),
        inserted=pl.col("inserted").filter("revision").sum().cast(pl.Int64),
        deleted=pl.col("deleted").filter("revision").sum().cast(pl.Int64),
        rerenders=pl.col("rerender").sum().cast(pl.Int64),
        rerender_days=_date_of("at").filter("rerender").unique().sort(),
    )
    of_week = _date_of("retrieved").dt.truncate("1w").alias("week")
    seen = snapshots.group_by("source", "project", of_week).agg(snapshots=pl.len().cast(pl.Int64))
    spans = versions.snapshots.group_by("source", "project").agg(first=of_week.min(), last=of_week.max())
    weeks = spans.select("source", "project", week=pl.date_ranges("first", "last", interval="1w")).explode(
        "week"
    )
    if period.since is not None:
        weeks = weeks.filter(pl.col("week") > period.since - timedelta(days=7))
    if period.until is not None:
        weeks = weeks.filter(pl.col("week") <= period.until)
    week_end = pl.col("week") + timedelta(days=7)
    start = pl.col("week") if period.since is None else pl.max_horizontal("week", pl.lit(period.since))
    end = (
        week_end
        if period.until is None
        else pl.min_horizontal(week_end, pl.lit(period.until + timedelta(days=1)))
    )
    frame = (
        weeks.join(seen, on=["source", "project", "week"], how="left")
        .join(counts, on=["source", "project", "week"], how="left")
        .with_columns(
            pl.col("snapshots", "revisions", "inserted", "deleted", "rerenders").fill_null(0),
            pl.col("rerender_days").fill_null([]),
            start=start,
            end=end,
        )
    )
    return frame.select(WEEKLY_SCHEMA.names()).cast(WEEKLY_SCHEMA).sort("week", "source", "project")


def rerender_days(
    versions: Versions, period: Period | None = None, changes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every re-render day (:data:`RERENDER_SCHEMA`), by date: its re-renders, the revisions seen the
    same day, the projects re-rendered, and ``rank`` (1 = the most re-renders; ties: the earlier day)."""
    found = in_period(events(versions) if changes is None else changes, period)
    days = (
        found.group_by(_date_of("at").alias("day"))
        .agg(
            rerenders=pl.col("rerender").sum().cast(pl.Int64),
            revisions=pl.col("revision").sum().cast(pl.Int64),
            projects=pl.col("project").filter("rerender").unique().sort(),
        )
        .filter(pl.col("rerenders") > 0)
        .sort(["rerenders", "day"], descending=[True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    )
    return days.select(RERENDER_SCHEMA.names()).cast(RERENDER_SCHEMA).sort("day")


def held(versions: Versions, before: datetime | None, posts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per post, its author and the characters of its latest version seen before ``before`` (every
    version when None): what the texts held then. Posts not seen yet are absent."""
    posts = post_versions(versions) if posts is None else posts
    if before is not None:
        posts = posts.filter(pl.col("valid_from") < before)
    return (
        posts.sort("first_seq")
        .group_by(POST)
        .agg(source_characters().last().cast(pl.Int64).alias("characters"), pl.col("profile_id").last())
    )


def final_characters(
    versions: Versions, period: Period | None = None, posts: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Per post: what its text holds at the end of the period less what it held at its start
    (with no period: its last version's characters), and its author."""
    period = period or Period()
    posts = post_versions(versions) if posts is None else posts
    end = held(versions, period.end, posts)
    if period.start is None:
        return end
    start = held(versions, period.start, posts).select(*POST, pl.col("characters").alias("_before"))
    return end.join(start, on=POST, how="left").select(
        *POST, (pl.col("characters") - pl.col("_before").fill_null(0)).alias("characters"), "profile_id"
    )


def _names(versions: Versions, people: pl.DataFrame | None) -> pl.DataFrame:
    """(source, profile_id) → person, name: ``people`` first (the pipeline's, identities applied),
    else the newest version of the profile in the versioned tables."""
    profiles = versions.tables.get("profiles", pl.DataFrame())
    columns = {"source", "profile_id", "username", "first_name", "last_name"}
    if profiles.height and columns <= set(profiles.columns):
        full = full_name()
        fallback = (
            profiles.filter(pl.col("profile_id").is_not_null())
            .sort("last_seq")
            .unique(["source", "profile_id"], keep="last")
            .select(
                "source",
                pl.col("profile_id").cast(pl.Int64),
                "username",
                pl.when(full == "").then(None).otherwise(full).alias("name"),
            )
            .with_columns(person=account_key())
        )
    else:
        fallback = pl.DataFrame(
            schema={
                "source": pl.String,
                "profile_id": pl.Int64,
                "username": pl.String,
                "name": pl.String,
                "person": pl.String,
            }
        )
    if people is None or people.height == 0:
        return fallback.select("source", "profile_id", "person", name=user_label())
    given = people.select("source", pl.col("profile_id").cast(pl.Int64), "person", "username", "name").unique(
        ["source", "profile_id"], keep="first"
    )
    rest = fallback.join(given, on=["source", "profile_id"], how="anti")
    return pl.concat([given, rest.select(given.columns)]).select(
        "source", "profile_id", "person", name=user_label()
    )


def per_person(
    versions: Versions,
    period: Period | None = None,
    people: pl.DataFrame | None = None,
    changes: pl.DataFrame | None = None,
    posts: pl.DataFrame | None = None,
    final: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per person who wrote or revised in the period (:data:`PEOPLE_SCHEMA`), most revisions
    first; posts whose source names no author are one row with a null ``person`` (last).

    ``people`` maps ``source``, ``profile_id`` to ``person``, ``username``, ``name`` (the pipeline's
    posts, identities applied); accounts it lacks are named from the versioned profiles. ``changes``,
    ``posts`` and ``final`` are :func:`.revisions.events`, :func:`.revisions.post_versions` and
    :func:`final_characters` when the caller has them.
    """
    period = period or Period()
    posts = post_versions(versions) if posts is None else posts
    found = in_period(events(versions, posts) if changes is None else changes, period).filter("revision")
    seen = first_seen(versions, posts).filter(period.contains("at"))
    final = final_characters(versions, period, posts) if final is None else final
    made = found.group_by("source", pl.col("author_id").alias("profile_id")).agg(
        revisions=pl.len().cast(pl.Int64),
        edited=pl.concat_str(POST, separator="\x1f").unique(),  # counted per person below
        inserted=pl.col("inserted").sum().cast(pl.Int64),
    )
    first = seen.group_by("source", "profile_id").agg(first=pl.col("characters").sum().cast(pl.Int64))
    last = final.group_by("source", "profile_id").agg(final=pl.col("characters").sum().cast(pl.Int64))
    key = ["source", "profile_id"]
    accounts = pl.concat([made.select(key), first.select(key), last.select(key)]).unique()
    rows = (
        accounts.join(made, on=key, how="left", nulls_equal=True)
        .join(first, on=key, how="left", nulls_equal=True)
        .join(last, on=key, how="left", nulls_equal=True)
        .join(_names(versions, people), on=key, how="left")
        .with_columns(pl.col("revisions", "inserted", "first", "final").fill_null(0))
        .with_columns(
            # an author without a profile in any snapshot (an editor of another project): by id
            name=pl.when(pl.col("profile_id").is_null())
            .then(pl.lit(NO_AUTHOR))
            .otherwise(pl.coalesce("name", id_label())),
            person=pl.when(pl.col("profile_id").is_null())
            .then(None)
            .otherwise(pl.coalesce("person", account_id())),
        )
    )
    merged = (
        rows.group_by("person", maintain_order=True)
        .agg(
            pl.col("name").first(),
            pl.col("revisions", "inserted", "first", "final").sum(),
            # a post two accounts of one person both revised is one edited post
            edited_posts=pl.col("edited")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .n_unique()
            .cast(pl.Int64),
        )
        .with_columns(written_characters=pl.col("first") + pl.col("inserted"))
        .filter((pl.col("written_characters") != 0) | (pl.col("revisions") > 0) | (pl.col("final") != 0))
        .with_columns(
            final_characters="final",
            extra_characters=pl.col("written_characters") - pl.col("final"),
        )
        .with_columns(
            extra_percent=pl.when(pl.col("final_characters") > 0)
            .then(pl.col("extra_characters") / pl.col("final_characters") * 100)
            .otherwise(None)
        )
    )
    return (
        merged.sort(
            [pl.col("person").is_null(), "revisions", "written_characters", "name"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .select(PEOPLE_SCHEMA.names())
        .cast(PEOPLE_SCHEMA)
    )


@dataclass(frozen=True)
class EditHistory:
    """What the versioned tables say about edits in one period, measured once for every layer.

    ``summary`` is :func:`.revisions.summarise` (``summary --history``'s object); ``final_characters``
    the characters the texts hold at the end of the period less at its start (all of it with no period);
    ``first_snapshot`` the earliest snapshot of the data (not only of the period): edits before it are
    unknown.
    """

    period: Period
    summary: dict[str, Any]
    weekly: pl.DataFrame
    rerender_days: pl.DataFrame
    people: pl.DataFrame
    final_characters: int
    first_snapshot: datetime | None = None

    @property
    def overall(self) -> dict[str, Any]:
        return self.summary["overall"]

    @property
    def extra_percent(self) -> float | None:
        """How much more was written than the final texts hold, in percent (None when they hold 0)."""
        written = self.overall["written_characters"]
        if self.final_characters <= 0:
            return None
        return (written - self.final_characters) / self.final_characters * 100

    def biggest_rerender_days(self, count: int = NAMED_RERENDER_DAYS) -> pl.DataFrame:
        """The ``count`` re-render days with the most re-renders, most first."""
        return self.rerender_days.filter(pl.col("rank") <= count).sort("rank")

    def top_people(self, count: int = TOP_PEOPLE) -> pl.DataFrame:
        """The ``count`` people with the most revisions (only people who revised), then the row of
        posts without an author when it has revisions."""
        revised = self.people.filter(pl.col("revisions") > 0)
        return pl.concat(
            [
                revised.filter(pl.col("person").is_not_null()).head(count),
                revised.filter(pl.col("person").is_null()),
            ]
        )


def analyse(
    versions: Versions, period: Period | None = None, people: pl.DataFrame | None = None
) -> EditHistory:
    """Every view of the edits of ``period`` (:class:`EditHistory`), the revisions measured once."""
    period = period or Period()
    posts = post_versions(versions)
    changes = events(versions, posts)
    final = final_characters(versions, period, posts)
    first = versions.snapshots["retrieved"].min() if versions.snapshots.height else None
    return EditHistory(
        period=period,
        summary=summarise(versions, period, changes=changes, posts=posts),
        weekly=weekly(versions, period, changes),
        rerender_days=rerender_days(versions, period, changes),
        people=per_person(versions, period, people, changes, posts, final),
        final_characters=int(final["characters"].sum() or 0),
        first_snapshot=first if isinstance(first, datetime) else None,
    )
