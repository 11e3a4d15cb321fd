"""Activity over time: weighted posts per month (stacked bars), smoothed activity and characters per day."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.labels import counted
from impactreport.settings import day_text

from . import theme

BIN_NAMES = {"1mo": "month", "3mo": "quarter", "1w": "week", "1y": "year", "1d": "day"}


def bin_name(duration: str) -> str:
    return BIN_NAMES.get(duration, duration)


def histogram(
    frame: pl.DataFrame, params: AnalysisParams, colors: Mapping[str, str] | None = None
) -> alt.TopLevelMixin:
    """Stacked bars: weighted posts per bin (default month) and project (``colors``: every project's
    colour, :func:`theme.project_colors`; the legend lists the projects drawn)."""
    title = f"Weighted activity per {bin_name(params.histogram_bin)}"
    if frame.is_empty() or frame["weighted"].sum() == 0:
        return theme.apply(theme.placeholder("No posts"), title=title, description="No posts to show.")
    colors = colors if colors is not None else theme.project_colors(frame["project"].unique().to_list())
    names = theme.shown_projects(frame, colors, value="weighted")
    frame = frame.filter(pl.col("project").is_in(names))
    start, end = theme.first_last(frame["period"], frame["period_end"])
    rank = {name: index for index, name in enumerate(names)}
    stacked = (
        frame.with_columns(rank=pl.col("project").replace_strict(rank, default=len(rank)))
        .sort("period", "rank")
        .with_columns(top=pl.col("weighted").cum_sum().over("period"))
        .with_columns(bottom=pl.col("top") - pl.col("weighted"))
    )
    chart = (
        alt.Chart(
            theme.values(stacked, ["project", "period", "period_end", "posts", "weighted", "bottom", "top"])
        )
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=theme.time_x("period", start, end),
            x2="period_end:T",
            y=alt.Y(
                "bottom:Q",
                title=f"Weighted posts per {bin_name(params.histogram_bin)}",
                axis=alt.Axis(format=theme.COUNT_FORMAT),
            ),
            y2="top:Q",
            color=alt.Color("project:N", scale=theme.project_scale(names, colors), title="Project"),
            tooltip=[
                "project:N",
                alt.Tooltip("period:T", format=theme.DATE_FORMAT, timeUnit="utcyearmonth", title="From"),
                alt.Tooltip("posts:Q", format=theme.COUNT_FORMAT),
                alt.Tooltip("weighted:Q", format=theme.COUNT_FORMAT),
            ],
        )
        .properties(width=theme.WIDTH, height=theme.HEIGHT)
    )
    per_bin = frame.group_by("period").agg(pl.col("weighted").sum()).sort("weighted", descending=True)
    peak = per_bin.row(0, named=True)
    w = params.weights
    description = (
        f"Stacked bar chart of weighted posts (threads ×{w.get('threads', 3):g}, comments ×"
        f"{w.get('comments', 2):g}, notes ×{w.get('notes', 1):g}) per {bin_name(params.histogram_bin)} "
        f"from {start:%b %Y} to {end:%b %Y}, coloured by project ({counted(len(names), 'project')}). "
        "The busiest "
        f"{bin_name(params.histogram_bin)} starts {peak['period']:%b %Y} with "
        f"{peak['weighted']:,.0f} weighted posts."
    )
    return theme.apply(
        chart,
        title=title,
        subtitle=f"Threads ×{w.get('threads', 3):g}, comments ×{w.get('comments', 2):g}, "
        f"notes ×{w.get('notes', 1):g}, stacked by project",
        description=description,
    )


def _density(
    frame: pl.DataFrame, colors: Mapping[str, str] | None, *, title: str, y_title: str, what: str
) -> alt.TopLevelMixin:
    if frame.is_empty() or frame["per_day"].sum() == 0:
        return theme.apply(theme.placeholder("No posts"), title=title, description="No posts to show.")
    colors = colors if colors is not None else theme.project_colors(frame["project"].unique().to_list())
    names = theme.shown_projects(frame, colors, value="per_day")
    frame = frame.filter(pl.col("project").is_in(names))
    rank = {name: index for index, name in enumerate(names)}
    frame = frame.with_columns(rank=pl.col("project").replace_strict(rank, return_dtype=pl.Int64))
    bandwidth = frame["bandwidth"][0]
    start, end = theme.first_last(frame["date"])
    chart = (
        alt.Chart(theme.values(frame, ["project", "rank", "date", "per_day"], digits=4))
        .mark_area(opacity=1, stroke="white", strokeWidth=0.6, interpolate="monotone")
        .encode(
            x=theme.time_x("date", start, end),
            y=alt.Y("per_day:Q", stack="zero", title=y_title, axis=alt.Axis(format=theme.COUNT_FORMAT)),
            color=alt.Color(
                "project:N",
                scale=theme.project_scale(names, colors),
                title="Project",
                legend=alt.Legend(symbolType="square"),
            ),
            order=alt.Order("rank:Q"),
        )
        .properties(width=theme.WIDTH, height=theme.HEIGHT)
    )
    daily = (
        frame.group_by("date")
        .agg(pl.col("per_day").sum())
        .sort("per_day", descending=True)
        .row(0, named=True)
    )
    description = (
        f"Stacked area chart of {what} per day, smoothed with a Gaussian kernel of bandwidth "
        f"{bandwidth:g} days, "
        f"for {counted(len(names), 'project')} from {start:%b %Y} to {end:%b %Y}. "
        f"The peak is {daily['per_day']:,.1f} "
        f"per day around {day_text(daily['date'])}."
    )
    subtitle = f"Gaussian kernel smoothing, bandwidth {bandwidth:g} days; stacked by project"
    return theme.apply(chart, title=title, subtitle=subtitle, description=description)


def activity_density(
    frame: pl.DataFrame, params: AnalysisParams, colors: Mapping[str, str] | None = None
) -> alt.TopLevelMixin:
    """Stacked areas: smoothed weighted posts per day per project."""
    return _density(
        frame, colors, title="Activity over time", y_title="Weighted posts per day", what="weighted posts"
    )


def characters_density(
    frame: pl.DataFrame, params: AnalysisParams, colors: Mapping[str, str] | None = None
) -> alt.TopLevelMixin:
    """Stacked areas: smoothed characters of comments and notes per day per project."""
    return _density(
        frame,
        colors,
        title="Character generation: characters written per day",
        y_title="Characters per day",
        what="characters written in comments and notes",
    )
