"""Figures: one altair chart per analysis frame, one theme, and writers for SVG/PNG/PDF and CSV.

:mod:`.registry` lists the figures (name, frame, chart, has-data, caption); ``compute_all`` computes
their frames and ``build_all`` turns the frames into charts keyed by the stable figure names;
:func:`.write.write_figures` writes ``<name>.svg|png|pdf`` plus ``<name>.csv`` (the data behind each
chart). Charts carry their alt text in ``description`` and their
metadata (period, data fingerprint, parameters, citation: :mod:`.provenance`) in ``usermeta``, which
:func:`save_chart` writes into every file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams

from . import theme
from .provenance import USERMETA, Scope, data_fingerprint, figure_metadata
from .registry import FIGURE_NAMES, FIGURES, compute_all, frames_of
from .save import FORMATS, save_chart


def build_all(
    frames: dict[str, pl.DataFrame],
    params: AnalysisParams | None = None,
    *,
    only: Collection[str] | None = None,
    scope: Scope | None = None,
) -> dict[str, alt.TopLevelMixin]:
    """One chart per registered figure (:data:`.registry.FIGURES`) present in ``frames`` (``edits`` also
    draws ``rerender-days``), in the report's order; ``only``: just those figures (colours still come
    from every project of ``frames``).

    ``scope`` (default: ``frames["scope"]``, which :func:`impactreport.pipeline.analyses` adds) is the
    period and data the figures show: its line opens every subtitle and ends every alt text, and each
    chart carries its metadata (:func:`.provenance.figure_metadata`) in ``usermeta`` for the files.
    """
    params = params or AnalysisParams()
    scope = scope if scope is not None else Scope.from_frame(frames.get("scope"))
    colors = theme.project_colors(catalogue(frames))
    wanted = [figure for figure in FIGURES if figure.name in frames and (only is None or figure.name in only)]
    return {
        figure.name: described(figure.name, figure.chart(frames, params, colors), scope, params)
        for figure in wanted
    }


def catalogue(frames: Mapping[str, pl.DataFrame]) -> list[tuple[str, str]] | list[str]:
    """Every project of the data, as ``(source, project)`` when ``frames`` has ``projects``, else the
    projects of ``imbalance`` (and of the other frames): what :func:`theme.project_colors` keys on."""
    if "projects" in frames:
        return [
            (source or "", name)
            for source, name in frames["projects"].select("source", "project").iter_rows()
        ]
    names: set[str] = set()
    for frame in frames.values():
        if "project" in frame.columns and frame.schema["project"] == pl.String:
            names.update(frame["project"].drop_nulls().unique().to_list())
    return sorted(names, key=str.lower)


def described(name: str, chart: alt.TopLevelMixin, scope: Scope, params: AnalysisParams) -> alt.TopLevelMixin:
    """``chart`` with the scope's line in its subtitle and alt text, and its metadata in ``usermeta``."""
    chart = theme.scoped(chart, scope.line)
    title, _ = theme.heading_of(chart)
    entries = figure_metadata(name, title, str(getattr(chart, "description", "")), scope, params)
    return chart.properties(usermeta={USERMETA: entries})


#: What a spreadsheet reads as the start of a formula (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str | None) -> str | None:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula (OWASP)."""
    if text is None or not text.startswith(FORMULA_STARTS):
        return text
    return "'" + text


def _neutralised(column: str) -> pl.Expr:
    starts = "^[" + "".join("\\" + c if c in "-\\" else c for c in FORMULA_STARTS) + "]"
    text = pl.col(column)
    return pl.when(text.str.contains(starts)).then(pl.lit("'") + text).otherwise(text).alias(column)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as CSV; list columns joined with ``;`` (CSV has no lists; dates as ISO days); every
    text cell and header that a spreadsheet would run as a formula (``=HYPERLINK(…)``, ``+1+cmd…``,
    a name someone chose) prefixed with ``'``, the one writer of every CSV the project writes."""
    flat = frame.with_columns(
        [
            pl.col(name).list.eval(pl.element().cast(pl.String)).list.join(";")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.List)
        ]
    )
    flat = flat.with_columns(
        [_neutralised(name) for name, dtype in flat.schema.items() if dtype == pl.String]
    )
    flat = flat.rename({name: neutralise(name) or name for name in flat.columns})
    return flat.write_csv().encode("utf-8")


__all__ = [
    "FIGURES",
    "FIGURE_NAMES",
    "FORMATS",
    "Scope",
    "build_all",
    "compute_all",
    "csv_bytes",
    "data_fingerprint",
    "frames_of",
    "neutralise",
    "save_chart",
]
