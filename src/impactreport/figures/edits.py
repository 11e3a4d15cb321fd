"""The ``edits`` chart: revisions and inserted/deleted characters per week, with re-render days marked.

Two panels share a weekly time axis: revisions per week stacked by project, and characters per week
(inserted above zero, deleted below) stacked by project. Days on which the site re-rendered posts
(:mod:`impactreport.history.edits`) are dashed rules across both panels, the biggest labelled: the HTML
of many posts changed those days without anyone editing, and a reader must not take them for activity.
Weeks in which no project has a snapshot are shaded grey: nothing could be seen in them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.history.edits import NAMED_RERENDER_DAYS, RERENDER_SCHEMA
from impactreport.settings import DAY_FORMAT_D3, day_text

from . import theme

TITLE = "Revisions and edited characters per week"
RERENDER_COLOR = "#D55E00"  # Okabe-Ito vermilion: apart from the project colours
GAP_COLOR = "#EEEEEE"
PANEL_HEIGHT = 180
LABEL_STEP = 15  # px between stacked re-render labels
#: The characters axis is diverging (inserted up, deleted down, as its title says): labels are sizes.
UNSIGNED = "replace(replace(datum.label, '\u2212', ''), '-', '')"


def _stacked(frame: pl.DataFrame, column: str, names: list[str], sign: int = 1) -> pl.DataFrame:
    """Rows with ``column`` > 0 as rectangles stacked by project in ``names`` order (``bottom``/``top``)."""
    rank = {name: index for index, name in enumerate(names)}
    return (
        frame.filter(pl.col(column) > 0)
        .with_columns(rank=pl.col("project").replace_strict(rank, default=len(rank)))
        .sort("week", "rank")
        .with_columns(top=(pl.col(column).cum_sum().over("week") * sign).cast(pl.Int64))
        .with_columns(bottom=pl.col("top") - pl.col(column) * sign, what=pl.lit(column))
    )


def _whole_ticks(most: float) -> list[int]:
    """At most about six whole-number ticks from 0 to ``most`` (revisions are counts)."""
    step = max(1, int(-(-most // 5)))
    return list(range(0, int(most) + step, step))


def _gaps(frame: pl.DataFrame) -> pl.DataFrame:
    """Weeks in which no project has a snapshot (edits there cannot be seen)."""
    weeks = frame.group_by("week").agg(pl.col("snapshots").sum(), pl.col("start").min(), pl.col("end").max())
    return weeks.filter(pl.col("snapshots") == 0).sort("week")


def _rules(days: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Re-render days inside the axis; the biggest get a label above the top panel.

    Every label starts at its day's rule and runs right (past the plot when it must: the canvas grows);
    the earliest day's label is on the highest row (``offset``, pixels above the panel), so no label
    crosses the leader of another.
    """
    shown = days.filter((pl.col("day") >= start) & (pl.col("day") < end)).sort("rank")
    named = shown.filter(pl.col("rank") <= NAMED_RERENDER_DAYS).sort("day")
    labels = [
        f"{day_text(day)}: {_times(count)}" for day, count in named.select("day", "rerenders").iter_rows()
    ]
    named = named.with_columns(
        label=pl.Series(labels, dtype=pl.String), offset=-(named.height - pl.int_range(pl.len())) * LABEL_STEP
    )
    return shown.join(named.select("day", "label", "offset"), on="day", how="left").with_columns(
        moment=pl.col("day").cast(pl.Datetime("us")) + timedelta(hours=12)
    )


def _times(count: int) -> str:
    return "1 re-render" if count == 1 else f"{count:,} re-renders"


def chart(
    frame: pl.DataFrame,
    rerender_days: pl.DataFrame | None = None,
    params: AnalysisParams | None = None,
    colors: Mapping[str, str] | None = None,
) -> alt.TopLevelMixin:
    """Two panels (revisions; characters inserted up, deleted down) stacked by project, per ISO week."""
    days = rerender_days if rerender_days is not None else pl.DataFrame(schema=RERENDER_SCHEMA)
    if frame.is_empty() or (frame["revisions"].sum() == 0 and days.is_empty()):
        message = "No revision or re-render seen between these snapshots"
        return theme.apply(theme.placeholder(message), title=TITLE, description=message + ".")
    colors = colors if colors is not None else theme.project_colors(frame["project"].unique().to_list())
    active = frame.filter((pl.col("revisions") > 0) | (pl.col("inserted") > 0) | (pl.col("deleted") > 0))
    # every project keeps its colour of the other charts; the legend lists those with edits
    names = theme.shown_projects(active, colors)
    first, last = theme.first_last(frame["start"], frame["end"])
    start, end = first.date(), last.date()
    domain = [f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"]
    x = theme.time_x("start", start, end, title=None, domain=domain)
    color = alt.Color("project:N", scale=theme.project_scale(names, colors), title="Project")
    tooltip = [
        "project:N",
        alt.Tooltip("week:T", format=DAY_FORMAT_D3, timeUnit="utcyearmonthdate", title="Week of"),
        alt.Tooltip("revisions:Q", format=theme.COUNT_FORMAT),
        alt.Tooltip("inserted:Q", format=theme.COUNT_FORMAT),
        alt.Tooltip("deleted:Q", format=theme.COUNT_FORMAT),
    ]
    columns = ["project", "week", "start", "end", "revisions", "inserted", "deleted", "bottom", "top"]
    stacked = _stacked(frame, "revisions", names)
    most = max(1.0, theme.largest(stacked["top"], 1.0))
    revisions = (
        alt.Chart(theme.values(stacked, columns))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(x=x, x2="end:T",
                y=alt.Y("bottom:Q", title="Revisions per week", scale=alt.Scale(domain=[0, most]),
                        axis=alt.Axis(format="d", values=_whole_ticks(most))),
                y2="top:Q", color=color, tooltip=tooltip)
    )  # fmt: skip
    characters = pl.concat([_stacked(frame, "inserted", names), _stacked(frame, "deleted", names, -1)])
    y = alt.Y(
        "bottom:Q",
        title=["Characters", "inserted ↑ deleted ↓"],
        axis=alt.Axis(format=",d", labelExpr=UNSIGNED),
    )
    edited = (
        alt.Chart(theme.values(characters, [*columns, "what"]))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(x=x, x2="end:T", y=y, y2="top:Q", color=color, tooltip=tooltip)
    )
    # the zero line on the same field as the bars, so the two layers share one axis
    zero = alt.Chart(alt.Data(values=[{"bottom": 0}])).mark_rule(color="#888888").encode(y=y)
    backdrop: list[alt.Chart] = []
    gaps = _gaps(frame)
    if gaps.height:
        backdrop.append(
            alt.Chart(theme.values(gaps, ["start", "end"]))
            .mark_rect(color=GAP_COLOR)
            .encode(x=alt.X("start:T"), x2="end:T")
        )
    rules = _rules(days, start, end)
    marks: list[alt.Chart] = []
    if rules.height:
        marks.append(
            alt.Chart(theme.values(rules, ["moment", "day", "rerenders", "revisions"]))
            .mark_rule(color=RERENDER_COLOR, strokeDash=[4, 3], strokeWidth=1.2)
            .encode(x=alt.X("moment:T"), tooltip=[
                alt.Tooltip("day:T", format=DAY_FORMAT_D3, timeUnit="utcyearmonthdate",
                            title="Re-render day"),
                alt.Tooltip("rerenders:Q", format=theme.COUNT_FORMAT, title="re-renders")])
        )  # fmt: skip
    labelled = rules.drop_nulls("label")
    labels: list[alt.Chart] = []
    if labelled.height:
        leaders = (
            alt.Chart(theme.values(labelled, ["moment", "offset"]))
            .mark_rule(color=RERENDER_COLOR, strokeDash=[4, 3], strokeWidth=1.2)
            .encode(x=alt.X("moment:T"), y=alt.Y("offset:Q", scale=None, axis=None), y2=alt.value(0))
        )
        labels.append(leaders)
        labels.append(
            alt.Chart(theme.values(labelled, ["moment", "label", "offset"]))
            .mark_text(align="left", baseline="middle", dx=4, fontSize=11, color=RERENDER_COLOR)
            .encode(x=alt.X("moment:T"), y=alt.Y("offset:Q", scale=None, axis=None), text="label:N")
        )
    top = alt.layer(*backdrop, revisions, *marks, *labels).properties(width=theme.WIDTH, height=PANEL_HEIGHT)
    bottom = alt.layer(*backdrop, edited, zero, *marks).properties(width=theme.WIDTH, height=PANEL_HEIGHT)
    # room right of the legend: vl-convert measures its labels a little short
    combined = (
        alt.vconcat(top, bottom, spacing=12)
        .resolve_scale(y="independent")
        .properties(padding={"left": 8, "top": 8, "bottom": 8, "right": 24})
    )
    total = int(frame["revisions"].sum())
    inserted, deleted = int(frame["inserted"].sum()), int(frame["deleted"].sum())
    subtitle = [
        f"{total:,} revisions; {inserted:,} characters inserted, {deleted:,} deleted; stacked by project",
        "Dashed: days the site re-rendered posts (their HTML changed, their text did not): not edits",
    ]
    if gaps.height:
        subtitle.append("Grey: weeks without any snapshot (edits there cannot be seen)")
    return theme.apply(combined, title=TITLE, subtitle=subtitle, description=_description(frame, days, gaps))


def _description(frame: pl.DataFrame, days: pl.DataFrame, gaps: pl.DataFrame) -> str:
    """The alt text: what is drawn, the busiest week, the biggest re-render days."""
    first, last = theme.first_last(frame["start"], frame["end"])
    per_week = frame.group_by("week").agg(pl.col("revisions", "inserted").sum())
    busiest = per_week.sort(["revisions", "week"], descending=[True, False]).row(0, named=True)
    text = (
        f"Two stacked bar charts per week from {day_text(first.date())} to {day_text(last.date())}, "
        "coloured by "
        f"project: {int(frame['revisions'].sum()):,} revisions, and {int(frame['inserted'].sum()):,} "
        f"characters inserted (above zero) and {int(frame['deleted'].sum()):,} deleted (below zero)."
    )
    if busiest["revisions"]:
        text += (
            f" The week of {day_text(busiest['week'])} has the most revisions ({busiest['revisions']:,}, "
            f"{busiest['inserted']:,} characters inserted)."
        )
    if days.height:
        named = days.sort("rank").head(NAMED_RERENDER_DAYS)
        listed = "; ".join(
            f"{day_text(d)}, {_times(n)}" for d, n in named.select("day", "rerenders").iter_rows()
        )
        text += (
            f" {days.height:,} re-render days (the site re-rendered posts without any edit) are marked with "
            f"dashed lines; the biggest: {listed}."
        )
    if gaps.height:
        text += f" {gaps.height:,} weeks without any snapshot are shaded grey."
    return text
