"""Contributor absence factor (CHAOSS, formerly the bus factor): the definition and its numbers.

The smallest number of contributors, taken from the largest down, whose contributions together reach
at least half of all contributions (``>=``, as CHAOSS's 8Knot does); on characters and on posts; null
without any contribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class AbsenceFactor:
    """Fewest contributors holding at least half of the characters / posts; None without contributions."""

    characters: int | None = None
    posts: int | None = None


def absence_factor(value: str) -> pl.Expr:
    """Aggregation over one row per person: the fewest people, largest first, with >= half of ``value``.

    Null when the total is zero (no contributions). Integer arithmetic (``2 × cumulative >= total``),
    so the 50 % boundary is exact.
    """
    column = pl.col(value).fill_null(0)
    total = column.sum()
    short = (column.sort(descending=True).cum_sum() * 2 < total).sum()
    return pl.when(total > 0).then(short.cast(pl.Int64) + 1).otherwise(None)
