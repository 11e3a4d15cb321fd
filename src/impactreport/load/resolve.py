"""Recover the keys a format-B file lacks, from another snapshot of the same project that has them.

Format B rows carry no ids of their own. Comments keep their thread and author ids as foreign keys, notes
their comment id; what is lost is the profile id behind each username, the comment ids, and the ids of
review threads and documents. A later snapshot (formats B′ or C) holds every row of an earlier one
(Thinklab never deleted rows), so its rows give those ids back: profiles by username, comments by
(thread, publication time, to the microsecond), threads and documents by url.
"""

from __future__ import annotations

import polars as pl


def has_missing_keys(tables: dict[str, pl.DataFrame]) -> bool:
    """Whether any row lacks an id this module could recover."""
    return any(
        tables[name][key].null_count() > 0
        for name, key in (
            ("profiles", "profile_id"),
            ("comments", "comment_id"),
            ("threads", "thread_id"),
            ("documents", "document_id"),
        )
    )


def _fill(frame: pl.DataFrame, reference: pl.DataFrame, key: str, on: list[str]) -> pl.DataFrame:
    lookup = reference.select([*on, pl.col(key).alias("_found")]).drop_nulls().unique(on, keep="first")
    return (
        frame.join(lookup, on=on, how="left", nulls_equal=False)
        .with_columns(pl.coalesce(pl.col(key), pl.col("_found")).alias(key))
        .drop("_found")
    )


def resolve_keys(
    tables: dict[str, pl.DataFrame], reference: dict[str, pl.DataFrame] | None
) -> dict[str, pl.DataFrame]:
    """Fill missing ids of ``tables`` from ``reference`` (a snapshot with ids), where rows match."""
    out = dict(tables)
    if reference is not None:
        out["profiles"] = _fill(out["profiles"], reference["profiles"], "profile_id", ["username"])
        out["comments"] = _fill(
            out["comments"], reference["comments"], "comment_id", ["thread_id", "published"]
        )
        out["threads"] = _fill(out["threads"], reference["threads"], "thread_id", ["url"])
        out["documents"] = _fill(out["documents"], reference["documents"], "document_id", ["url"])
    documents = out["documents"]
    if documents.height == 1 and documents["document_id"].null_count() == 1:
        # One document and one document id named by the threads: they are the same document.
        named = out["threads"]["document_id"].drop_nulls().unique()
        if named.len() == 1:
            out["documents"] = documents.with_columns(pl.lit(named[0], dtype=pl.Int64).alias("document_id"))
    return out
