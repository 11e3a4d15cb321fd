"""Views charts: the most viewed discussions and documents, and views over time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.settings import DAY_FORMAT_D3, day_text

from . import theme

TOP = 25


def chart(
    frame: pl.DataFrame, params: AnalysisParams, colors: Mapping[str, str] | None = None
) -> alt.TopLevelMixin:
    """Horizontal bars: views of the most viewed discussions and documents, coloured by project."""
    title = "Most viewed discussions and documents"
    if frame.is_empty():
        return theme.apply(
            theme.placeholder("No views in these exports"), title=title, description="No data."
        )
    shown = frame.head(TOP).with_columns(
        item=pl.col("title")
        + pl.when(pl.col("kind") == "document").then(pl.lit(" (document)")).otherwise(pl.lit(""))
    )
    # one bar per item even when two discussions share a title
    shown = shown.with_columns(
        item=pl.when(pl.len().over("item") > 1)
        .then(pl.col("item") + " #" + pl.col("id").cast(pl.String))
        .otherwise(pl.col("item"))
    )
    colors = colors if colors is not None else theme.project_colors(frame["project"].unique().to_list())
    names = theme.shown_projects(shown, colors)  # the legend: projects with a bar
    axis_title, basis = "Page views (newest snapshot)", "newest snapshot"
    if "views_from" in frame.columns:  # views gained in a period (analyses.views.views_gained)
        basis = "gained " + _between(frame)
        axis_title = f"Page views {basis}"
    order = shown["item"].to_list()
    base = alt.Chart(theme.values(shown, ["item", "project", "kind", "views", "link"])).encode(
        y=alt.Y("item:N", sort=order, title=None, axis=alt.Axis(labelFontSize=11, labelLimit=0)),
        # room right of the longest bar for its number, clear of the legend
        x=alt.X(
            "views:Q",
            title=axis_title,
            scale=alt.Scale(domainMax=theme.largest(shown["views"], 1.0) * 1.18),
            axis=alt.Axis(format=theme.COUNT_FORMAT),
        ),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("project:N", scale=theme.project_scale(names, colors), title="Project"),
        tooltip=["item:N", "project:N", alt.Tooltip("views:Q", format=theme.COUNT_FORMAT), "link:N"],
    )  # fmt: skip
    numbers = base.mark_text(align="left", dx=3, fontSize=10, color=theme.MUTED).encode(
        text=alt.Text("views:Q", format=theme.COUNT_FORMAT)
    )
    layered = alt.layer(bars, numbers).properties(width=theme.WIDTH - 200, height=max(120, 16 * shown.height))
    total = int(frame["views"].sum())
    top = shown.row(0, named=True)
    description = (
        f"Bar chart of page views of the {shown.height} most viewed of {frame.height} discussions and "
        f"documents ({basis}), coloured by project. {total:,} views in all; the most viewed is "
        f"“{top['title']}” ({top['project']}) with {top['views']:,} views."
    )
    subtitle = f"Top {shown.height} of {frame.height:,}; {total:,} views in all"
    return theme.apply(layered, title=title, subtitle=subtitle, description=description)


def growth(rate: float | None) -> str:
    """``+1,222/month``; ``seen on one day`` for a series without growth (never ``+nan/month``)."""
    if rate is None or rate != rate:  # null or NaN
        return "seen on one day"
    return f"{rate:+,.0f}/month"


def _between(frame: pl.DataFrame) -> str:
    """``from the snapshot of 1 Sep 2016 to that of 2 Aug 2017``: the snapshots the views are measured
    by; when the projects drawn are measured from different days (a store keeps a snapshot only when
    the export changed), ``from each project's last snapshot on or before 1 Sep 2016 to …``, never one
    project's day standing for all."""

    def day(value: object) -> str:
        return day_text(value) if isinstance(value, date) else str(value)

    starts = frame["views_from"].drop_nulls().unique()
    ends = frame["views_to"].drop_nulls().unique()
    each = starts.len() > 1 or ends.len() > 1

    def named(days: pl.Series, none: str, one: str, several: str) -> str:
        return none if days.len() == 0 else (several if each else one) + f" {day(days.max())}"

    since = named(starts, "the first view", "the snapshot of", "each project's last snapshot on or before")
    until = named(ends, "the newest snapshot", "that of", "its last on or before")
    return f"from {since} to {until}"


def over_time(frame: pl.DataFrame, params: AnalysisParams) -> alt.TopLevelMixin:
    """Two panels: total views per snapshot day, and the most viewed threads; growth per month in legends."""
    title = "Views over time"
    if frame.is_empty():
        message = "Views over time need two or more snapshots with views (one or none found)"
        return theme.apply(theme.placeholder(message), title=title, description=message + ".")
    legend_of = {
        series: f"{series} ({growth(rate)})"
        for series, rate in frame.unique("series").select("series", "growth_per_month").iter_rows()
    }
    frame = frame.with_columns(legend=pl.col("series").replace_strict(legend_of, return_dtype=pl.String))
    start, end = theme.first_last(frame["date"])
    total = frame.filter(pl.col("kind") == "total")
    threads = frame.filter(pl.col("kind") != "total")
    total_chart = (
        alt.Chart(theme.values(total, ["date", "views", "legend"]))
        .mark_line(point=alt.OverlayMarkDef(size=18, color=theme.TOTAL_COLOR), color=theme.TOTAL_COLOR)
        .encode(
            x=theme.time_x("date", start, end, title=None),
            y=alt.Y("views:Q", title="Total page views", axis=alt.Axis(format=theme.COUNT_FORMAT)),
            tooltip=[alt.Tooltip("date:T", format=DAY_FORMAT_D3, timeUnit="utcyearmonthdate"),
                     alt.Tooltip("views:Q", format=theme.COUNT_FORMAT)],
        )
        .properties(width=theme.WIDTH, height=180, title=total["legend"][0])
    )  # fmt: skip
    legends = threads.unique("series").sort("order")["legend"].to_list()
    thread_chart = (
        alt.Chart(theme.values(threads, ["date", "views", "legend", "order"]))
        .mark_line(point=alt.OverlayMarkDef(size=14))
        .encode(
            x=theme.time_x("date", start, end, title=None),
            y=alt.Y("views:Q", title="Page views", axis=alt.Axis(format=theme.COUNT_FORMAT)),
            color=alt.Color("legend:N", sort=legends, title=None,
                            scale=alt.Scale(domain=legends,
                                            range=theme.cycle(theme.SERIES_COLORS, len(legends))),
                            legend=alt.Legend(orient="bottom", columns=1, labelLimit=0)),
            tooltip=["legend:N", alt.Tooltip("date:T", format=DAY_FORMAT_D3, timeUnit="utcyearmonthdate"),
                     alt.Tooltip("views:Q", format=theme.COUNT_FORMAT)],
        )
        .properties(width=theme.WIDTH, height=220, title=f"The {len(legends)} most viewed discussions")
    )  # fmt: skip
    days = total.height
    first, last = total["views"][0], total["views"][-1]
    rate = total["growth_per_month"][0]
    per_month = f" (about {rate:,.0f} per month)" if rate is not None else ""
    description = (
        f"Line charts of page views in {days} snapshots from {day_text(start)} to {day_text(end)}: "
        "total views "
        f"grew from {first:,} to {last:,}{per_month}; below, the {len(legends)} "
        f"most viewed "
        f"discussions: " + "; ".join(legends) + "."
    )
    subtitle = f"{days} snapshot days; growth per month = (last − first) / months between them"
    combined = alt.vconcat(total_chart, thread_chart, spacing=16).resolve_scale(color="independent")
    return theme.apply(combined, title=title, subtitle=subtitle, description=description)
