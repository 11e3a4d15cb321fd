"""Community health, one module per metric (as github/issue-metrics keeps them): time to first response
and unanswered discussions (:mod:`.first_response`), new and returning contributors (:mod:`.newcomers`),
the contributor absence factor (:mod:`.absence`); :mod:`.threads` holds what the thread metrics share.

Why here: ``summary`` (:mod:`impactreport.stats`), the figures' frames
(:mod:`impactreport.analyses.community`) and the report state these numbers; each definition lives in
its metric's module once, as polars queries over the ``posts`` hub, and every layer calls it. The names
below stay importable from ``impactreport.community`` as they were from the single module it replaces.

Periods: :func:`impactreport.pipeline.restrict` keeps the texts posted in the period and the threads
opened or commented on in it; first contributions and first responses are of all time (``history``:
every post before that restriction), see each metric's module.
"""

from __future__ import annotations

from .absence import AbsenceFactor, absence_factor
from .first_response import (
    HOUR_US,
    WITHIN_7D,
    WITHIN_24H,
    FirstResponse,
    first_response_of,
    first_responses,
    response_summary,
)
from .newcomers import contributor_status, contributors_by_month, first_contributions
from .threads import THREAD_KEYS, thread_texts

__all__ = [
    "HOUR_US",
    "THREAD_KEYS",
    "WITHIN_7D",
    "WITHIN_24H",
    "AbsenceFactor",
    "FirstResponse",
    "absence_factor",
    "contributor_status",
    "contributors_by_month",
    "first_contributions",
    "first_response_of",
    "first_responses",
    "response_summary",
    "thread_texts",
]
