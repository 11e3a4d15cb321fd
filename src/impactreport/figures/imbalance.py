"""Project imbalance chart: threads, comments and notes per project (linear and log), weighted activity."""

from __future__ import annotations

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams
from impactreport.labels import counted

from . import theme

KINDS = ["threads", "comments", "notes"]


def chart(frame: pl.DataFrame, params: AnalysisParams) -> alt.TopLevelMixin:
    """Three panels sharing the project axis (ordered by weighted activity, largest on top). Projects
    without any thread, comment or note are left out and named in the subtitle."""
    idle = frame.filter(pl.col("project_weighted") == 0).unique("project", maintain_order=True)
    idle_names = sorted(idle["project"].to_list(), key=str.lower)
    frame = frame.filter(pl.col("project_weighted") > 0)
    projects = frame.unique("project", maintain_order=True)["project"].to_list()
    if not projects:
        return theme.apply(
            theme.placeholder("No threads, comments or notes"),
            title="Project imbalance",
            description="No threads, comments or notes to compare.",
        )
    data = theme.values(frame)
    kind_scale = alt.Scale(domain=KINDS, range=[theme.KIND_COLORS[k] for k in KINDS])
    height = max(120, 16 * 3 * len(projects) // 2 + 40)
    y = alt.Y("project:N", sort=projects, title=None)
    color = alt.Color(
        "kind:N", scale=kind_scale, sort=KINDS, title="Kind", legend=alt.Legend(orient="bottom")
    )
    tooltip = [
        "project:N",
        "kind:N",
        alt.Tooltip("count:Q", format=theme.COUNT_FORMAT),
        alt.Tooltip("weighted:Q", format=theme.COUNT_FORMAT),
    ]
    base = alt.Chart(data).properties(width=220, height=height)
    linear = (
        base.mark_bar()
        .encode(
            y=y,
            x=alt.X("count:Q", title="Posts (linear scale)", axis=alt.Axis(format=theme.COUNT_FORMAT)),
            yOffset=alt.YOffset("kind:N", sort=KINDS),
            color=color,
            tooltip=tooltip,
        )
        .properties(title="Posts")
    )
    log = (
        base.transform_filter("datum.count > 0")
        .transform_calculate(base="0.5")
        .mark_bar()
        .encode(
            y=alt.Y("project:N", sort=projects, title=None, axis=alt.Axis(labels=False, ticks=False)),
            x=alt.X(
                "count:Q",
                title="Posts (log scale)",
                scale=alt.Scale(type="log", domainMin=0.5),
                axis=alt.Axis(
                    format=theme.COUNT_FORMAT,
                    values=theme.powers_of_ten(1, max(10.0, theme.largest(frame["count"], 1.0))),
                ),
            ),
            x2="base:Q",
            yOffset=alt.YOffset("kind:N", sort=KINDS),
            color=color,
            tooltip=tooltip,
        )
        .properties(title="Posts, log scale")
    )
    w = params.weights
    weighted = (
        base.mark_bar()
        .encode(
            y=alt.Y("project:N", sort=projects, title=None, axis=alt.Axis(labels=False, ticks=False)),
            x=alt.X(
                "weighted:Q",
                stack="zero",
                title="Weighted activity (weighted posts)",
                axis=alt.Axis(format=theme.COUNT_FORMAT),
            ),
            color=color,
            order=alt.Order("kind_order:Q"),
            tooltip=tooltip,
        )
        .transform_calculate(kind_order="indexof(['threads','comments','notes'], datum.kind)")
        .properties(title="Weighted activity")
    )
    totals = frame.group_by("kind").agg(pl.col("count").sum())
    counts = {row["kind"]: row["count"] for row in totals.to_dicts()}
    top = frame.row(0, named=True)
    left_out = (
        f" No thread, comment or note in {', '.join(idle_names)}, which the chart leaves out."
        if idle_names
        else ""
    )
    description = (
        f"Bar charts of threads, comments and notes in each of {counted(len(projects), 'project')}, "
        "on a linear and a "
        f"log scale, and weighted activity (threads ×{w.get('threads', 3):g}, comments ×"
        f"{w.get('comments', 2):g}, notes ×{w.get('notes', 1):g}). In total {counts.get('threads', 0):,} "
        f"threads, {counts.get('comments', 0):,} comments and {counts.get('notes', 0):,} notes; "
        f"{top['project']} has the most weighted activity ({top['project_weighted']:,.0f})." + left_out
    )
    subtitle = [
        f"Weights: threads {w.get('threads', 3):g}, comments {w.get('comments', 2):g}, "
        f"notes {w.get('notes', 1):g}; projects ordered by weighted activity"
    ]
    if idle_names:
        subtitle.append(f"Left out, without threads, comments or notes: {shortlist(idle_names)}")
    combined = alt.hconcat(linear, log, weighted, spacing=12).resolve_scale(y="shared")
    return theme.apply(
        combined, title="Project imbalance: posts per project", subtitle=subtitle, description=description
    )


def shortlist(names: list[str], limit: int = 6) -> str:
    """``a, b, c`` or ``a, b, c, d, e, f and 3 more``: names that fit one subtitle line."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit:,} more"
