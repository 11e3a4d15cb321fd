"""Figures: one altair chart per analysis frame, one theme, and writers for SVG/PNG/PDF and CSV.

``build_all`` turns the frames of :func:`impactreport.analyses.compute_all` into charts keyed by the
stable figure names; :func:`impactreport.pipeline.write_figures` writes ``<name>.svg|png|pdf`` plus
``<name>.csv`` (the data behind each chart). Charts carry their alt text in ``description``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import altair as alt
import polars as pl

from impactreport.analyses import FIGURE_NAMES, AnalysisParams

from . import activity, community, contributors, cumulative, edits, imbalance, streams, views
from .save import FORMATS, save_chart


def build_all(
    frames: dict[str, pl.DataFrame],
    params: AnalysisParams | None = None,
    *,
    only: Collection[str] | None = None,
) -> dict[str, alt.TopLevelMixin]:
    """One chart per figure name present in ``frames`` (``edits`` also draws ``rerender-days``);
    ``only``: just those figures (colours still come from every project of ``frames``)."""
    params = params or AnalysisParams()
    projects = (
        sorted(
            set(frames["imbalance"]["project"].to_list()) if "imbalance" in frames else set(), key=str.lower
        )
        or None
    )
    builders: dict[str, Callable[[], alt.TopLevelMixin]] = {
        "imbalance": lambda: imbalance.chart(frames["imbalance"], params),
        "activity-histogram": lambda: activity.histogram(frames["activity-histogram"], params, projects),
        "activity-density": lambda: activity.activity_density(frames["activity-density"], params, projects),
        "characters-density": lambda: activity.characters_density(
            frames["characters-density"], params, projects
        ),
        "edits": lambda: edits.chart(frames["edits"], frames.get("rerender-days"), params, projects),
        "contributors": lambda: contributors.chart(frames["contributors"], params),
        "user-stream": lambda: streams.chart(frames["user-stream"], params),
        "cumulative-contribution": lambda: cumulative.chart(frames["cumulative-contribution"], params),
        "views": lambda: views.chart(frames["views"], params, projects),
        "views-over-time": lambda: views.over_time(frames["views-over-time"], params),
        "first-response": lambda: community.first_response(frames["first-response"], params, projects),
        "contributors-over-time": lambda: community.contributors_over_time(
            frames["contributors-over-time"], params
        ),
    }
    wanted = FIGURE_NAMES if only is None else [name for name in FIGURE_NAMES if name in only]
    return {name: builders[name]() for name in wanted if name in frames}


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as CSV; list columns joined with ``;`` (CSV has no lists; dates as ISO days)."""
    flat = frame.with_columns(
        [
            pl.col(name).list.eval(pl.element().cast(pl.String)).list.join(";")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.List)
        ]
    )
    return flat.write_csv().encode("utf-8")


__all__ = ["FORMATS", "build_all", "csv_bytes", "save_chart"]
