"""Which projects were active: every project of the data with its discussions, comments, notes and
documents in the period.

Why: a project with no activity in the period has nothing to draw and nothing to count, so it leaves
the legends (:func:`impactreport.figures.theme.shown_projects`) and the report's project table, which
names it in one line instead (:func:`no_activity_line`). Its colour still comes from every project of
the data (:func:`impactreport.figures.theme.project_colors`), so a project keeps one colour whatever the
period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from impactreport.labels import counted
from impactreport.schema import Dataset
from impactreport.settings import Period

from .params import AnalysisParams

#: What a project must have (any of, more than zero) to count as active in a period: texts written in
#: it. Views alone are readers, not activity.
ACTIVITY_KEYS = ("discussions", "comments", "notes", "documents", "words", "characters")

SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "project": pl.String(),
        "discussions": pl.Int64(),
        "comments": pl.Int64(),
        "notes": pl.Int64(),
        "documents": pl.Int64(),
        "active": pl.Boolean(),
    }
)


def project_activity(dataset: Dataset, params: AnalysisParams, full: Dataset | None = None) -> pl.DataFrame:
    """One row per project of ``full`` (default: ``dataset``) and of ``dataset``, sorted by source and then
    name ignoring case: its discussions, comments, notes and documents in ``dataset`` (restricted to the
    period already; bots' comments and notes left out as in every figure) and whether any is non-zero."""
    full = full or dataset
    names = pl.concat(
        [
            frame.select(pl.col("source").cast(pl.String), pl.col("project").cast(pl.String))
            for frame in (full.snapshots, dataset.snapshots, dataset.threads, dataset.posts)
        ]
    ).unique()
    posts = dataset.posts
    if params.exclude_bots:
        posts = posts.filter(~pl.col("is_bot").fill_null(False) | (pl.col("kind") == "document"))
    kinds = (
        posts.group_by("source", "project")
        .agg(
            comments=(pl.col("kind") == "comment").sum().cast(pl.Int64),
            notes=(pl.col("kind") == "note").sum().cast(pl.Int64),
            documents=(pl.col("kind") == "document").sum().cast(pl.Int64),
        )
        .with_columns(pl.col("source", "project").cast(pl.String))
    )
    threads = (
        dataset.threads.group_by("source", "project")
        .agg(discussions=pl.len().cast(pl.Int64))
        .with_columns(pl.col("source", "project").cast(pl.String))
    )
    counts = ["discussions", "comments", "notes", "documents"]
    return (
        names.join(threads, on=["source", "project"], how="left", nulls_equal=True)
        .join(kinds, on=["source", "project"], how="left", nulls_equal=True)
        .with_columns(pl.col(counts).fill_null(0))
        .with_columns(active=pl.sum_horizontal(counts) > 0)
        .with_columns(
            _source=pl.col("source").fill_null("").str.to_lowercase(),
            _name=pl.col("project").str.to_lowercase(),
        )
        .sort("_source", "_name", "project")
        .drop("_source", "_name")
        .select(list(SCHEMA))
        .cast(pl.Schema(SCHEMA))
    )


def is_active(values: Mapping[str, Any] | Any) -> bool:
    """True when a project's statistics (a :class:`impactreport.stats.LevelStats` or its JSON object)
    hold any discussion, comment, note, document, word or character."""
    return any((values[key] or 0) > 0 for key in ACTIVITY_KEYS)


def inactive(projects: Mapping[str, Any]) -> list[str]:
    """The projects (name → statistics) without activity, in their order."""
    return [name for name, values in projects.items() if not is_active(values)]


def no_activity_line(names: Iterable[str], period: Period | None = None, views: int | None = None) -> str:
    """``No activity in the period: EdgeProject, meta.`` (``in the data`` without a period); with
    ``views``, the views those projects gained, which the total still counts. Empty without names."""
    names = list(names)
    if not names:
        return ""
    scope = "the data" if period is None or period.is_open else "the period"
    line = f"No activity in {scope}: {', '.join(names)}."
    if views:
        whose = "its" if len(names) == 1 else "their"
        line += f" The total row includes {whose} {counted(views, 'view')}."
    return line
