"""Figures: one altair chart per analysis frame, one theme, and writers for SVG/PNG/PDF and CSV.

``build_all`` turns the frames of :func:`impactreport.analyses.compute_all` into charts keyed by the
stable figure names; ``write_all`` computes, builds and writes ``<name>.svg|png|pdf`` plus
``<name>.csv`` (the data behind each chart). Charts carry their alt text in ``description``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import altair as alt
import polars as pl

from impactreport.analyses import FIGURE_NAMES, AnalysisParams, compute_all
from impactreport.files import write_atomic
from impactreport.schema import Dataset

from . import activity, contributors, cumulative, imbalance, streams, views
from .save import FORMATS, save_chart


def build_all(
    frames: dict[str, pl.DataFrame], params: AnalysisParams | None = None
) -> dict[str, alt.TopLevelMixin]:
    """One chart per figure name present in ``frames``."""
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
        "contributors": lambda: contributors.chart(frames["contributors"], params),
        "user-stream": lambda: streams.chart(frames["user-stream"], params),
        "cumulative-contribution": lambda: cumulative.chart(frames["cumulative-contribution"], params),
        "views": lambda: views.chart(frames["views"], params, projects),
        "views-over-time": lambda: views.over_time(frames["views-over-time"], params),
    }
    return {name: builders[name]() for name in FIGURE_NAMES if name in frames}


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as CSV; list columns joined with ``;`` (CSV has no lists)."""
    flat = frame.with_columns(
        [pl.col(name).list.join(";") for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    )
    return flat.write_csv().encode("utf-8")


def write_all(
    dataset: Dataset,
    out_dir: str | Path,
    params: AnalysisParams | None = None,
    *,
    formats: Sequence[str] = FORMATS,
    views_series: pl.DataFrame | None = None,
    scale: float = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[Path]]:
    """Compute, build and write every figure and its CSV; returns the files written per figure name."""
    params = params or AnalysisParams()
    out = Path(out_dir)
    frames = compute_all(dataset, params, views_series=views_series)
    charts = build_all(frames, params)
    written: dict[str, list[Path]] = {}
    for name, chart in charts.items():
        paths = save_chart(chart, out, name, formats=formats, scale=scale)
        csv_path = out / f"{name}.csv"
        write_atomic(csv_path, csv_bytes(frames[name]))
        written[name] = [*paths, csv_path]
        if progress:
            progress(name)
    return written


__all__ = ["FORMATS", "build_all", "save_chart", "write_all"]
