"""User activity streamgraph: smoothed characters per day per main contributor, centred on zero."""

from __future__ import annotations

import math

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.settings import threshold_phrase

from . import theme


def chart(frame: pl.DataFrame, params: AnalysisParams) -> alt.TopLevelMixin:
    """Bands from y0 to y1 (computed in the analysis), ordered by first contribution, bottom up."""
    title = "Who wrote when: characters per day by contributor"
    if frame.is_empty() or frame["value"].sum() == 0:
        return theme.apply(theme.placeholder("No contributions"), title=title, description="No data.")
    bands = frame.unique("user").sort("order")
    users = bands["user"].to_list()
    start, end = theme.first_last(frame["date"])
    low, high = float(frame["y0"].min() or 0.0), float(frame["y1"].max() or 0.0)  # type: ignore[arg-type]
    step = grid_step(high - low)
    grid = [step * k for k in range(math.floor(low / step), math.ceil(high / step) + 1)]
    chart = (
        alt.Chart(theme.values(frame, ["user", "order", "date", "value", "y0", "y1"], digits=4))
        .mark_area(interpolate="monotone", stroke="white", strokeWidth=0.3)
        .encode(
            x=theme.time_x("date", start, end),
            # a centred stack has no zero to read a height from: the grid is the ruler of band
            # thickness, and the axis has no numbers (they were −700 … 700, as if some were negative)
            y=alt.Y("y0:Q", title=f"Characters per day: grid lines {step:,} apart",
                    axis=alt.Axis(values=grid, labels=False, ticks=False, domain=False, grid=True),
                    scale=alt.Scale(domain=[grid[0], grid[-1]], nice=False)),
            y2="y1:Q",
            color=alt.Color(
                "user:N", scale=theme.user_scale(users), sort=users, title="Contributor (first to last)",
                legend=alt.Legend(columns=1 if len(users) <= 22 else 2, symbolType="square"),
            ),
            detail="order:Q",
            tooltip=["user:N", alt.Tooltip("value:Q", format=",.0f", title="Characters per day")],
        )
        .properties(width=theme.WIDTH, height=theme.HEIGHT + 60)
    )  # fmt: skip
    named = [u for u in users if not u.startswith("Other contributors")]
    subtitle: list[str] = [
        f"Contributors with > {params.stream_min:,} characters, ordered by first contribution "
        f"(earliest at the bottom); Gaussian kernel, bandwidth {params.stream_days:g} days",
        f"Band thickness = characters per day; the stack is centred (a band's height on the axis means "
        f"nothing); grid lines {step:,} apart",
    ]
    if params.exclude_users:
        subtitle.append(f"Left out: {', '.join(params.exclude_users)}")
    biggest = bands.sort("total", descending=True).row(0, named=True)
    description = (
        f"Streamgraph of characters written per day (smoothed, bandwidth {params.stream_days:g} days) by "
        f"{len(named)} contributors with {threshold_phrase(params.stream_min)}"
        + (", plus one band for all other contributors" if len(named) < len(users) else "")
        + f", stacked around a centred baseline from {start:%b %Y} to {end:%b %Y}. "
        f"The largest band is {biggest['user']} ({biggest['total']:,} characters). At its thickest the "
        f"whole stack is {high - low:,.0f} characters per day."
    )
    return theme.apply(chart, title=title, subtitle=subtitle, description=description)


def grid_step(span: float, lines: int = 6) -> int:
    """A round step (1, 2 or 5 × 10^k characters per day) giving about ``lines`` grid lines over ``span``."""
    if span <= 0:
        return 1
    raw = span / lines
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return max(1, int(factor * power))
    return max(1, int(10 * power))
