"""Project imbalance: how many threads, comments and notes each project has, and weighted activity.

Weighted activity = threads × 3 + comments × 2 + notes × 1 by default (opening a discussion counts
most, a note least); the weights are :attr:`AnalysisParams.weights`.
"""

from __future__ import annotations

import polars as pl

from impactreport.schema import Dataset

from .params import AnalysisParams

KINDS = ("threads", "comments", "notes")


def events(dataset: Dataset, params: AnalysisParams) -> pl.LazyFrame:
    """Every thread, comment and note as one row: project, kind (plural), published, weight.

    Every thread is a discussion (as ``summary`` counts them, whoever opened it); bots' comments and
    notes are left out when ``exclude_bots``.
    """
    threads = dataset.threads.lazy().select("project", "published")
    posts = dataset.posts.lazy().filter(pl.col("kind").is_in(["comment", "note"]))
    if params.exclude_bots:
        posts = posts.filter(~pl.col("is_bot").fill_null(False))
    return pl.concat(
        [
            threads.select("project", kind=pl.lit("threads"), published="published"),
            posts.select("project", kind=pl.col("kind") + "s", published="published"),
        ]
    ).with_columns(weight=pl.col("kind").replace_strict({k: params.weight(k) for k in KINDS}))


def imbalance(dataset: Dataset, params: AnalysisParams) -> pl.DataFrame:
    """Counts per project and kind (every project × kind, zeros included) with weighted activity.

    Columns: project, kind, count, weight, weighted, project_weighted (the project's total, for
    ordering). Sorted by project_weighted (largest first), then kind in threads, comments, notes.
    """
    projects = pl.LazyFrame({"project": dataset.projects}, schema={"project": pl.String})
    kinds = pl.LazyFrame({"kind": list(KINDS), "kind_order": list(range(len(KINDS)))})
    counts = events(dataset, params).group_by("project", "kind").agg(count=pl.len().cast(pl.Int64))
    return (
        projects.join(kinds, how="cross")
        .join(counts, on=["project", "kind"], how="left")
        .with_columns(
            count=pl.col("count").fill_null(0),
            weight=pl.col("kind").replace_strict({k: params.weight(k) for k in KINDS}),
        )
        .with_columns(weighted=pl.col("count") * pl.col("weight"))
        .with_columns(project_weighted=pl.col("weighted").sum().over("project"))
        .sort(["project_weighted", "project", "kind_order"], descending=[True, False, False])
        .drop("kind_order")
        .collect()
    )
