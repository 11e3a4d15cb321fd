"""What every thread metric shares: a thread's key and the texts that belong to a thread.

Why a module of its own: time to first response and the figures' subjects join on the same thread key,
and the first-response rule reads the same texts; defined once here, below each metric's module.
"""

from __future__ import annotations

import polars as pl

from impactreport.people import AUTHORED_KINDS

#: A thread is one (source, project, thread id): ids are global per source, projects kept apart anyway.
THREAD_KEYS = ("source", "project", "thread_id")


def thread_texts(posts: pl.LazyFrame) -> pl.LazyFrame:
    """Comments and notes that belong to a thread (bots included: they may open a thread)."""
    return posts.filter(pl.col("kind").is_in(AUTHORED_KINDS) & pl.col("thread_id").is_not_null())
