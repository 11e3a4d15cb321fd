"""Analyses: the data behind each figure, as polars frames (pure functions of a Dataset and parameters).

``compute_all`` returns one frame per figure, keyed by the figure's stable name; the figures package
turns each into a chart and writes the frame as ``<name>.csv`` next to it.
"""

from __future__ import annotations

import polars as pl

from impactreport import settings
from impactreport.analyses.params import DEFAULT_WEIGHTS, FIGURE_NAMES, AnalysisParams
from impactreport.schema import Dataset


def compute_all(
    dataset: Dataset,
    params: AnalysisParams | None = None,
    *,
    views_series: pl.DataFrame | None = None,
    history: pl.DataFrame | None = None,
    period: settings.Period | None = None,
    full: Dataset | None = None,
) -> dict[str, pl.DataFrame]:
    """Every figure's frame, keyed by figure name (plus ``top-discussions``, the views table, and
    ``projects``: every project of the data with its activity in the period, which gives each project its
    colour and the legends their projects).

    ``dataset`` is restricted to ``period`` already (:func:`impactreport.pipeline.restrict`); ``full`` is
    the dataset before that (default: ``dataset``), ``history`` its posts: first contributions and first
    responses are of all time (:mod:`impactreport.community`), discussion titles come from it. With a
    period every frame over time is clipped to it and ``views`` are the views gained in it where two
    snapshots bracket it. ``views-over-time`` is an empty frame unless ``views_series`` (from
    :func:`impactreport.history.views.load_views`) holds more than one snapshot date.
    """
    from . import activity, community, contributors, cumulative, imbalance, projects, streams, views

    params = params or AnalysisParams()
    full = full or dataset
    history = history if history is not None else full.posts
    clip = period if period is not None and not period.is_open else None
    gained = views.views_gained(views_series, clip) if clip is not None else None
    views_frame = views.views_table(full if gained is not None else dataset, gained)
    titles = views.views_table(full) if clip is not None else views_frame
    return {
        "imbalance": imbalance.imbalance(dataset, params),
        "activity-histogram": activity.histogram(dataset, params, clip),
        "activity-density": activity.activity_density(dataset, params, clip),
        "characters-density": activity.characters_density(dataset, params, clip),
        "contributors": contributors.contributors(dataset, params),
        "user-stream": streams.user_streams(dataset, params, period=clip),
        "cumulative-contribution": cumulative.cumulative_contribution(dataset, params, period=clip),
        "first-response": community.first_response(dataset, params, history, period),
        "contributors-over-time": community.contributors_over_time(dataset, params, history),
        "views": views_frame,
        "views-over-time": views.views_over_time(views_series, titles, params, clip),
        "top-discussions": views.top_discussions(views_frame, params),
        "projects": projects.project_activity(dataset, params, full),
    }


__all__ = ["DEFAULT_WEIGHTS", "FIGURE_NAMES", "AnalysisParams", "compute_all"]
