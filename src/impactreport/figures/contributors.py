"""Contributors chart: characters per user (log scale) for users above the lowest threshold, named."""

from __future__ import annotations

import json

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.analyses.contributors import level_labels, threshold_counts
from impactreport.settings import above, threshold_phrase

from . import theme

#: More bars than this do not fit a page: the chart shows the top ones and says so.
MAX_BARS = 60


def chart(frame: pl.DataFrame, params: AnalysisParams) -> alt.TopLevelMixin:
    """Horizontal bars, one per named user, coloured by level, with a rule at each threshold."""
    title = "Contributors: characters written in comments and notes"
    lowest = min(params.thresholds)
    shown = frame.filter(above("characters", lowest)).head(MAX_BARS)
    if shown.is_empty():
        return theme.apply(
            theme.placeholder(f"No contributor wrote {threshold_phrase(lowest)}"),
            title=title,
            description="No data.",
        )
    labels = level_labels(params.thresholds)
    counts = threshold_counts(frame, params.thresholds)
    order = shown["user"].to_list()
    data = theme.values(shown, ["user", "characters", "posts", "words", "level", "projects", "team"])
    floor = max(1.0, lowest / 2)
    ticks = theme.powers_of_ten(floor, 10 * theme.largest(shown["characters"]))
    # only levels that have bars: users at or below the lowest threshold are not drawn
    level_scale = alt.Scale(domain=labels[:-1], range=list(theme.LEVEL_COLORS[: len(labels) - 1]))
    bars = (
        alt.Chart(data)
        .transform_calculate(base=str(floor))
        .mark_bar()
        .encode(
            y=alt.Y("user:N", sort=order, title=None, axis=alt.Axis(labelFontSize=11)),
            x=alt.X("characters:Q", scale=alt.Scale(type="log", domainMin=floor),
                    title="Characters (log scale)",
                    axis=alt.Axis(format=theme.COUNT_FORMAT, values=ticks)),
            x2="base:Q",
            color=alt.Color("level:N", scale=level_scale, title="Level", legend=alt.Legend(orient="bottom")),
            tooltip=["user:N", alt.Tooltip("characters:Q", format=theme.COUNT_FORMAT),
                     alt.Tooltip("posts:Q", format=theme.COUNT_FORMAT),
                     alt.Tooltip("words:Q", format=theme.COUNT_FORMAT), "projects:N"],
        )
    )  # fmt: skip
    # the number sits inside the end of its bar (a bar is at least a factor 2 long on the log scale,
    # room for four digits), so no threshold line runs through it; white on the darkest level
    values = bars.mark_text(align="right", dx=-3, fontSize=10).encode(
        text=alt.Text("characters:Q", format=theme.COUNT_FORMAT),
        color=alt.condition(
            f"datum.level == {json.dumps(labels[0])}", alt.value("white"), alt.value("#111111")
        ),
    )
    rules = (
        alt.Chart(alt.Data(values=[{"threshold": t, "label": f"{t:,}"} for t in params.thresholds]))
        .mark_rule(strokeDash=[4, 3], color="#999999")
        .encode(x="threshold:Q")
    )
    rule_labels = (
        alt.Chart(alt.Data(values=[{"threshold": t, "label": f"{t:,}"} for t in params.thresholds]))
        .mark_text(dy=-8, fontSize=11, color=theme.MUTED, baseline="bottom")
        .encode(x="threshold:Q", y=alt.value(0), text="label:N")
    )
    height = max(120, 15 * len(order))
    layered = alt.layer(rules, bars, values, rule_labels).properties(width=theme.WIDTH - 140, height=height)
    summary = "; ".join(f"{n} wrote > {t:,}" for t, n in sorted(counts.items(), reverse=True))
    subtitle = f"{frame.height} contributors; {summary} characters (dashed lines)"
    if counts[lowest] > MAX_BARS:
        subtitle += f"; top {MAX_BARS} shown"
    top = shown.row(0, named=True)
    description = (
        f"Bar chart of characters written in comments and notes by each of the {shown.height} contributors "
        f"with {threshold_phrase(lowest)}, on a log scale. {summary} characters out of {frame.height} "
        f"contributors. The largest contributor is {top['user']} with {top['characters']:,} characters."
    )
    return theme.apply(layered, title=title, subtitle=subtitle, description=description)
