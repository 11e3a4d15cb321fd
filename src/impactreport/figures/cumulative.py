"""Cumulative contribution chart (after the Rephetio report): stacked √ cumulative characters per user.

Labels ("Daniel Himmelstein 512,345") sit right of the plot at their band's height at the last day;
where bands are too thin for their labels, the labels are spread apart vertically (at least one
line apart) and a leader line in the band's colour joins each label to its band.
"""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.settings import threshold_phrase

from . import theme

HEIGHT = 440
LABEL_FONT = 12
LINE_PX = 15
MAX_HEIGHT = 720


def spread(mids: list[float], gap: float, low: float, high: float) -> list[float]:
    """Label positions near ``mids`` (sorted ascending), at least ``gap`` apart, within [low, high].

    Pushes labels up from the bottom, then back down from the top; if they cannot all fit, the
    gap shrinks to spread them evenly over the range.
    """
    if not mids:
        return []
    if gap * (len(mids) - 1) > high - low:
        gap = (high - low) / max(1, len(mids) - 1)
    positions: list[float] = []
    floor = low
    for mid in mids:
        position = max(mid, floor)
        positions.append(position)
        floor = position + gap
    ceiling = high
    for index in range(len(positions) - 1, -1, -1):
        positions[index] = min(positions[index], ceiling)
        ceiling = positions[index] - gap
    return [max(low, position) for position in positions]


def label_frame(frame: pl.DataFrame, height_px: int = HEIGHT, max_labels: int | None = None) -> pl.DataFrame:
    """Per labelled user: band middle at the last day and the label's spread-out position.

    At most ``max_labels`` (default: as many lines as fit in ``height_px``) are kept, the largest
    totals first, so labels never have to overlap.
    """
    _, last = theme.first_last(frame["date"])
    end = frame.filter(pl.col("date") == last)
    top = theme.largest(end["y1"])
    limit = max_labels if max_labels is not None else fitting_labels(height_px)
    labels = (
        end.filter("labelled")
        .sort("total", descending=True)
        .head(limit)
        .with_columns(mid=(pl.col("y0") + pl.col("y1")) / 2)
        .sort("mid")
    )
    gap = top * LINE_PX / height_px
    positions = spread(labels["mid"].to_list(), gap, gap * 0.4, top - gap * 0.1)
    return labels.with_columns(position=pl.Series(positions, dtype=pl.Float64)).select(
        "user", "order", "date", "mid", "position", "label", "total"
    )


def fitting_labels(height_px: int) -> int:
    """How many label lines fit the plot height."""
    return max(1, int(height_px // LINE_PX) - 1)


def chart_height(labelled: int) -> int:
    """Taller than the default when many users are labelled, up to MAX_HEIGHT."""
    return int(min(MAX_HEIGHT, max(HEIGHT, (labelled + 2) * LINE_PX)))


def chart(frame: pl.DataFrame, params: AnalysisParams) -> alt.TopLevelMixin:
    """Stacked bands (earliest contributor at the bottom), labels with leader lines at the right edge."""
    title = "Cumulative contribution: characters written over time"
    if frame.is_empty() or frame["total"].sum() == 0:
        return theme.apply(theme.placeholder("No contributions"), title=title, description="No data.")
    users = frame.unique("user").sort("order")["user"].to_list()
    start, last = theme.first_last(frame["date"])
    label_day = last + timedelta(days=max(7, round((last - start).days * 0.05)))
    scale = theme.user_scale(users)
    labelled = frame.filter(pl.col("labelled"))["user"].n_unique()
    height = chart_height(labelled)
    labels = label_frame(frame, height)
    x = theme.time_x("date", start, last, domain=[start.isoformat(), label_day.isoformat()])
    y_axis = (
        alt.Axis(labels=False, ticks=False, grid=False, title="√ cumulative characters (bands stacked)")
        if params.sqrt
        else alt.Axis(format=theme.COUNT_FORMAT, title="Cumulative characters (stacked)")
    )
    bands = (
        alt.Chart(theme.values(frame, ["user", "order", "date", "y0", "y1", "total"], digits=5))
        .mark_area(stroke="white", strokeWidth=0.5, interpolate="monotone")
        .encode(
            x=x,
            y=alt.Y("y0:Q", axis=y_axis, scale=alt.Scale(nice=False)),
            y2="y1:Q",
            color=alt.Color("user:N", scale=scale, sort=users, legend=None),
            detail="order:Q",
            tooltip=["user:N", alt.Tooltip("total:Q", format=theme.COUNT_FORMAT, title="Total characters")],
        )
    )
    leader_rows = []
    for row in labels.iter_rows(named=True):
        leader_rows.append({"user": row["user"], "step": 0, "date": last.isoformat(), "y": row["mid"]})
        leader_rows.append(
            {"user": row["user"], "step": 1, "date": (last + timedelta(days=1)).isoformat(), "y": row["mid"]}
        )
        leader_rows.append(
            {"user": row["user"], "step": 2, "date": label_day.isoformat(), "y": row["position"]}
        )
    leaders = (
        alt.Chart(alt.Data(values=leader_rows))
        .mark_line(strokeWidth=1.5)
        .encode(
            x=alt.X("date:T", scale=alt.Scale(type="utc")),
            y="y:Q",
            order="step:Q",
            detail="user:N",
            color=alt.Color("user:N", scale=scale, legend=None),
        )
    )
    label_data = alt.Data(
        values=[
            {"user": r["user"], "date": label_day.isoformat(), "position": r["position"], "label": r["label"]}
            for r in labels.iter_rows(named=True)
        ]
    )
    swatches = (
        alt.Chart(label_data)
        .mark_point(shape="square", filled=True, size=70, opacity=1)
        .encode(
            x=alt.X("date:T", scale=alt.Scale(type="utc")),
            y="position:Q",
            color=alt.Color("user:N", scale=scale, legend=None),
        )
    )
    texts = (
        alt.Chart(label_data)
        .mark_text(align="left", baseline="middle", dx=8, fontSize=LABEL_FONT, color=theme.TEXT)
        .encode(x=alt.X("date:T", scale=alt.Scale(type="utc")), y="position:Q", text="label:N")
    )
    layered = alt.layer(bands, leaders, swatches, texts).properties(width=theme.WIDTH - 60, height=height)
    totals = frame.unique("user").sort("total", descending=True)
    transform = "square root of each person's" if params.sqrt else "each person's"
    subtitle = [
        f"Band height = {'√ ' if params.sqrt else ''}cumulative characters of comments and notes "
        f"(Gaussian kernel, {params.cumulative_bandwidth:g} days)",
        f"{len(users)} contributors stacked by first contribution (earliest at the bottom); "
        f"labelled: > {params.label_min:,} characters"
        + (f" (the {labels.height} largest of {labelled})" if labels.height < labelled else ""),
    ]
    top = totals.row(0, named=True)
    description = (
        f"Stacked area chart of the {transform} cumulative characters written in comments and notes, from "
        f"{start:%b %Y} to {last:%b %Y}, smoothed with a Gaussian kernel of "
        f"{params.cumulative_bandwidth:g} days; "
        f"{len(users)} bands ordered by first contribution. {labels.height} contributors with "
        f"{threshold_phrase(params.label_min)} are labelled with name and total: "
        + ", ".join(labels.sort("total", descending=True)["label"].to_list())
        + f". The largest is {top['user']} with {top['total']:,} characters."
    )
    return theme.apply(layered, title=title, subtitle=subtitle, description=description)
