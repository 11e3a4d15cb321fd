"""User activity streamgraph: smoothed characters per day per main contributor, centred on zero."""

from __future__ import annotations

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
    chart = (
        alt.Chart(theme.values(frame, ["user", "order", "date", "value", "y0", "y1"], digits=4))
        .mark_area(interpolate="monotone", stroke="white", strokeWidth=0.3)
        .encode(
            x=theme.time_x("date", start, end),
            y=alt.Y("y0:Q", title="Characters per day (centred stack)", axis=alt.Axis(format="~s")),
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
        f"(earliest at the bottom); Gaussian kernel, bandwidth {params.stream_days:g} days"
    ]
    if params.exclude_users:
        subtitle.append(f"Left out: {', '.join(params.exclude_users)}")
    biggest = bands.sort("total", descending=True).row(0, named=True)
    description = (
        f"Streamgraph of characters written per day (smoothed, bandwidth {params.stream_days:g} days) by "
        f"{len(named)} contributors with {threshold_phrase(params.stream_min)}"
        + (", plus one band for all other contributors" if len(named) < len(users) else "")
        + f", stacked around a centred baseline from {start:%b %Y} to {end:%b %Y}. "
        f"The largest band is {biggest['user']} ({biggest['total']:,} characters)."
    )
    return theme.apply(chart, title=title, subtitle=subtitle, description=description)
