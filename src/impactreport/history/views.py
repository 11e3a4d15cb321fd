"""Views of every thread and document in every snapshot, from the versioned tables.

Views are a column of each version of a thread or document (:mod:`impactreport.history.versions`), so
the series is each version repeated over the snapshots it was seen in (``first_seq`` … ``last_seq``),
at the snapshot's retrieval time. One reading of every snapshot (the versioned tables, cached beside a
snapshot tree) serves history, views over time and views gained in a period.

What the versioned tables hold follows the loader: format A has no views (its snapshots contribute
nothing); format B rows get the ids the loader recovers (:mod:`impactreport.load.resolve`); a ``views``
value that is not a whole number is null there (the loader's rule, with its warning naming the file and
field), and such rows are left out of the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from impactreport.schema import UTC_TIME

if TYPE_CHECKING:
    from impactreport.history.versions import Versions

SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "project": pl.String(),
        "retrieved": UTC_TIME,
        "kind": pl.String(),
        "id": pl.Int64(),
        "url": pl.String(),
        "views": pl.Int64(),
    }
)
#: Versioned table → (kind in the series, its id column).
VIEWED = (("threads", "thread", "thread_id"), ("documents", "document", "document_id"))


def views_series(versions: Versions) -> pl.DataFrame:
    """One row per thread or document per snapshot that holds it with views (:data:`SCHEMA`):
    source, project, retrieved, kind (``thread``/``document``), id, url, views."""
    snapshots = versions.snapshots.select("source", "project", "seq", "retrieved")
    parts: list[pl.DataFrame] = []
    for table, kind, id_column in VIEWED:
        frame = versions.tables.get(table)
        if frame is None or frame.height == 0 or "views" not in frame.columns:
            continue
        ident = pl.col(id_column).cast(pl.Int64) if id_column in frame.columns else pl.lit(None, pl.Int64)
        url = pl.col("url") if "url" in frame.columns else pl.lit(None, pl.String)
        parts.append(
            frame.filter(pl.col("views").is_not_null())
            .select(
                "source",
                "project",
                pl.int_ranges("first_seq", pl.col("last_seq") + 1, dtype=pl.Int32).alias("seq"),
                pl.lit(kind).alias("kind"),
                ident.alias("id"),
                url.alias("url"),
                pl.col("views").cast(pl.Int64),
            )
            .explode("seq")
        )
    if not parts:
        return pl.DataFrame(schema=SCHEMA)
    return (
        pl.concat(parts)
        .join(snapshots, on=["source", "project", "seq"])
        .select(SCHEMA.names())
        .cast(SCHEMA)
        .sort("retrieved", "project", "kind", "id", nulls_last=True)
    )


def load_views(paths: Sequence[str | Path], *, warnings: list[str] | None = None) -> pl.DataFrame:
    """:func:`views_series` of every snapshot under ``paths``, through the versioned tables' cache
    (:func:`impactreport.history.load_versions`).

    ``warnings``, when given, gets the readers' warnings (a views value that is not a whole number: one
    line per file and field) and what the cache says (rebuilt, not written); a line already in it is not
    repeated.
    """
    from impactreport.history.cache import load_versions

    said: list[str] = []
    versions = load_versions(list(paths), said.append)
    if warnings is not None:
        warnings.extend(line for line in dict.fromkeys([*versions.warnings, *said]) if line not in warnings)
    return views_series(versions)
