"""Community charts: time to first response per project, new and returning contributors per month."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.community import WITHIN_7D, WITHIN_24H
from impactreport.labels import duration, printable

from . import theme

#: A response in the opening minute is drawn at one minute: a log axis has no zero.
FLOOR_HOURS = 1 / 60
#: Axis ticks (hours) and their labels: a minute, hours, a day, a week, a year, ten years.
TICKS = (FLOOR_HOURS, 1.0, 6.0, WITHIN_24H, WITHIN_7D, 8760.0, 87600.0)
TICK_LABELS = (
    "datum.value < 1 ? '1 min' : datum.value < 24 ? datum.value + ' h' : datum.value < 168 ? '1 day' "
    ": datum.value < 8760 ? '1 week' : datum.value < 87600 ? '1 year' : '10 years'"
)
#: With more answered discussions than ``max_points``, ticks are pooled in bins this wide (log10 hours).
BIN_DECADES = 0.02
NEW_COLOR = "#E69F00"  # Okabe-Ito orange
RETURNING_COLOR = "#0072B2"  # Okabe-Ito blue
UNANSWERED_COLOR = "#BBBBBB"


def first_response(
    frame: pl.DataFrame, params: AnalysisParams, colors: Mapping[str, str] | None = None
) -> alt.TopLevelMixin:
    """Per project: each answered discussion's hours to first response (log axis), the median as a tick,
    and beside it the unanswered discussions as a bar (kept apart: they have no time)."""
    title = "Time to first response"
    if frame.is_empty():
        return theme.apply(
            theme.placeholder("No discussions opened"), title=title, description="No discussions to show."
        )
    colors = colors if colors is not None else theme.project_colors(frame["project"].unique().to_list())
    names = theme.shown_projects(frame, colors)
    per_project = (
        frame.group_by("project", maintain_order=True)
        .agg(
            answered=pl.col("answered").sum().cast(pl.Int64),
            unanswered=(~pl.col("answered")).sum().cast(pl.Int64),
            median=pl.col("hours").median(),
        )
        .with_columns(label=printable(pl.col("project")))
        # a median of 0 hours (a response in the opening minute) is drawn at one minute, as its ticks
        .with_columns(drawn=pl.col("median").clip(lower_bound=FLOOR_HOURS))
    )
    labels = dict(zip(per_project["project"].to_list(), per_project["label"].to_list(), strict=True))
    order = [labels[name] for name in names]
    scale = theme.project_scale(order, {labels[name]: colors[name] for name in names if name in colors})
    answered = frame.filter(pl.col("answered")).with_columns(
        label=pl.col("project").replace_strict(labels, return_dtype=pl.String),
        drawn=pl.col("hours").clip(lower_bound=FLOOR_HOURS),
    )
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelFontSize=11))
    largest = max(theme.largest(answered["drawn"], 1.0), WITHIN_7D)
    x = alt.X(
        "drawn:Q",
        title="Time to first response (log scale)",
        scale=alt.Scale(type="log", domain=[FLOOR_HOURS, largest * 1.5], clamp=True),
        axis=alt.Axis(values=[t for t in TICKS if t <= largest * 1.5], labelExpr=TICK_LABELS),
    )
    binned = answered.height > params.max_points
    if binned:  # one tick per log bin and project, darker with more discussions: a bounded chart
        answered = (
            answered.with_columns(bin=(pl.col("drawn").log10() / BIN_DECADES).floor())
            .group_by("label", "bin")
            .agg(discussions=pl.len().cast(pl.Int64))
            .with_columns(drawn=10 ** ((pl.col("bin") + 0.5) * BIN_DECADES))
            .sort("label", "bin")
        )
        points = (
            alt.Chart(theme.values(answered, ["label", "drawn", "discussions"]))
            .mark_tick(thickness=2)
            .encode(x=x, y=y, color=alt.Color("label:N", scale=scale, legend=None),
                    opacity=alt.Opacity("discussions:Q", scale=alt.Scale(range=[0.15, 1]), legend=None),
                    tooltip=["label:N", alt.Tooltip("drawn:Q", format=",.2r", title="hours"),
                             alt.Tooltip("discussions:Q", format=theme.COUNT_FORMAT)])
        )  # fmt: skip
    else:
        points = (
            alt.Chart(theme.values(answered, ["label", "drawn", "hours"]))
            .mark_tick(thickness=1.5, opacity=0.6)
            .encode(x=x, y=y, color=alt.Color("label:N", scale=scale, legend=None),
                    tooltip=["label:N", alt.Tooltip("hours:Q", format=",.1f", title="hours")])
        )  # fmt: skip
    medians = (
        alt.Chart(theme.values(per_project.drop_nulls("median"), ["label", "median", "drawn"]))
        .mark_point(shape="diamond", filled=True, size=90, color=theme.TEXT)
        .encode(x=x, y=y,
                tooltip=["label:N", alt.Tooltip("median:Q", format=",.1f", title="median hours")])
    )  # fmt: skip
    rules = (
        alt.Chart(alt.Data(values=[{"at": WITHIN_24H}, {"at": WITHIN_7D}]))
        .mark_rule(strokeDash=[4, 3], color="#999999")
        .encode(x="at:Q")
    )
    height = max(90, 26 * len(order))
    left = alt.layer(rules, points, medians).properties(width=theme.WIDTH - 230, height=height)
    most = int(theme.largest(per_project["unanswered"]))
    missing = (
        alt.Chart(theme.values(per_project, ["label", "unanswered"]))
        .mark_bar(color=UNANSWERED_COLOR)
        .encode(
            x=alt.X(
                "unanswered:Q",
                title="Unanswered",
                axis=alt.Axis(values=whole_ticks(most), format=theme.COUNT_FORMAT),
            ),
            y=alt.Y("label:N", sort=order, axis=None),
            tooltip=["label:N", alt.Tooltip("unanswered:Q", format=theme.COUNT_FORMAT)],
        )
    )
    missing_numbers = missing.mark_text(align="left", dx=3, fontSize=10, color=theme.MUTED).encode(
        text=alt.Text("unanswered:Q", format=theme.COUNT_FORMAT)
    )
    right = alt.layer(missing, missing_numbers).properties(width=90, height=height)
    total_answered = int(per_project["answered"].sum())
    total_unanswered = int(per_project["unanswered"].sum())
    hours = frame["hours"].drop_nulls()
    median = hours.median()
    within_day = int((hours <= WITHIN_24H).sum())
    overall = (
        f"median {duration(float(median))}" if isinstance(median, int | float) else "no discussion answered"
    )
    counts = (
        f"{total_answered:,} answered ({overall}; {within_day:,} within a day), "
        f"{total_unanswered:,} unanswered; ◆ median per project; dashed: 1 day, 1 week"
    )
    subtitle = [counts, "Darker ticks: more discussions (pooled on a log grid)"] if binned else [counts]
    description = (
        f"Strip chart of the time from opening to first response of {total_answered:,} answered discussions "
        f"in {len(order)} projects, on a log time axis, with each project's median; beside it, the "
        f"{total_unanswered:,} discussions without a response per project. Overall {overall}; "
        f"{within_day:,} answered within 24 hours."
    )
    combined = alt.hconcat(left, right, spacing=8).resolve_scale(y="shared")
    return theme.apply(combined, title=title, subtitle=subtitle, description=description)


def contributors_over_time(frame: pl.DataFrame, params: AnalysisParams) -> alt.TopLevelMixin:
    """Stacked bars of new and returning contributors per month, cumulative contributors as a line."""
    title = "New and returning contributors"
    if frame.is_empty():
        return theme.apply(
            theme.placeholder("No contributions"), title=title, description="No contributors to show."
        )
    start, end = theme.first_last(frame["month"])
    end_month = theme.first_last(frame["month"].dt.offset_by("1mo"))[1]
    long = (
        frame.with_columns(month_end=pl.col("month").dt.offset_by("1mo"))
        .unpivot(index=["month", "month_end", "cumulative"], on=["new", "returning"], variable_name="kind")
        .with_columns(order=(pl.col("kind") == "returning").cast(pl.Int64))
        .sort("month", "order")
        .with_columns(top=pl.col("value").cum_sum().over("month"))
        .with_columns(bottom=pl.col("top") - pl.col("value"))
    )
    domain = [start.date().isoformat(), end_month.date().isoformat()]
    x = theme.time_x("month", start, end, domain=domain)
    bars = (
        alt.Chart(theme.values(long, ["month", "month_end", "kind", "value", "bottom", "top"]))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=x, x2="month_end:T",
            y=alt.Y("bottom:Q", title="Contributors active in the month",
                    axis=alt.Axis(format=theme.COUNT_FORMAT)), y2="top:Q",
            # the legend above the plot, in one row: inside it, it would cover the cumulative line
            color=alt.Color("kind:N", title=None,
                            scale=alt.Scale(domain=["new", "returning"], range=[NEW_COLOR, RETURNING_COLOR]),
                            legend=alt.Legend(orient="top", direction="horizontal", symbolType="square")),
            tooltip=[alt.Tooltip("month:T", format=theme.DATE_FORMAT, timeUnit="utcyearmonth"),
                     "kind:N", alt.Tooltip("value:Q", format=theme.COUNT_FORMAT, title="contributors")],
        )
    )  # fmt: skip
    middle = frame.with_columns(middle=pl.col("month").dt.offset_by("15d"))
    line = (
        alt.Chart(theme.values(middle, ["middle", "cumulative"]))
        .mark_line(color=theme.TEXT, strokeWidth=1.5, point=alt.OverlayMarkDef(size=12, color=theme.TEXT))
        .encode(
            x=alt.X("middle:T", scale=alt.Scale(type="utc", domain=domain)),
            y=alt.Y("cumulative:Q", title="Contributors so far (line)",
                    axis=alt.Axis(titleColor=theme.TEXT, format=theme.COUNT_FORMAT)),
            tooltip=[alt.Tooltip("middle:T", format=theme.DATE_FORMAT, timeUnit="utcyearmonth",
                                 title="month"),
                     alt.Tooltip("cumulative:Q", format=theme.COUNT_FORMAT)],
        )
    )  # fmt: skip
    layered = (
        alt.layer(bars, line)
        .resolve_scale(y="independent")
        .properties(width=theme.WIDTH, height=theme.HEIGHT)
    )
    new = int(frame["new"].sum())
    total = int(theme.largest(frame["cumulative"]))
    busiest = frame.sort("active", descending=True).row(0, named=True)
    subtitle = (
        f"{new:,} first-time contributors from {start:%b %Y} to {end:%b %Y}; {total:,} contributors in all; "
        "a first contribution is of all time"
    )
    description = (
        f"Stacked bar chart of contributors per month from {start:%b %Y} to {end:%b %Y}: new (first "
        f"contribution of all time in that month, {new:,} in all) and returning; a line shows the cumulative "
        f"number of contributors, {total:,} by the end. The busiest month is {busiest['month']:%b %Y} with "
        f"{busiest['active']:,} contributors, {busiest['new']:,} of them new."
    )
    return theme.apply(layered, title=title, subtitle=subtitle, description=description)


def whole_ticks(most: int, count: int = 4) -> list[int]:
    """Whole-number ticks from 0 to at least ``most``, about ``count`` of them (counts have no halves:
    Vega's own ticks for a maximum of 2 were 0, 0.5, 1, … printed as "0 1 1 2 2")."""
    step = max(1, -(-most // count))
    return list(range(0, max(most, 1) + step, step))
