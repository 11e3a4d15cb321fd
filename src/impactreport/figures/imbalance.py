"""Project imbalance chart: threads, comments and notes per project (linear and log), weighted activity."""

from __future__ import annotations

import altair as alt
import polars as pl

from impactreport.analyses import AnalysisParams

from . import theme

KINDS = ["threads", "comments", "notes"]


def chart(frame: pl.DataFrame, params: AnalysisParams) -> alt.TopLevelMixin:
    """Three panels sharing the project axis (ordered by weighted activity, largest on top)."""
    projects = frame.unique("project", maintain_order=True)["project"].to_list()
    if not projects:
        return theme.apply(
            theme.placeholder("No projects"), title="Project imbalance", description="No data."
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
        alt.Tooltip("count:Q", format=","),
        alt.Tooltip("weighted:Q", format=","),
    ]
    base = alt.Chart(data).properties(width=220, height=height)
    linear = (
        base.mark_bar()
        .encode(
            y=y,
            x=alt.X("count:Q", title="Posts (linear scale)"),
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
                axis=alt.Axis(format="~s", values=[1, 10, 100, 1000, 10000, 100000, 1000000]),
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
            x=alt.X("weighted:Q", stack="zero", title="Weighted activity (weighted posts)"),
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
    description = (
        f"Bar charts of threads, comments and notes in each of {len(projects)} projects, on a linear and a "
        f"log scale, and weighted activity (threads ×{w.get('threads', 3):g}, comments ×"
        f"{w.get('comments', 2):g}, notes ×{w.get('notes', 1):g}). In total {counts.get('threads', 0):,} "
        f"threads, {counts.get('comments', 0):,} comments and {counts.get('notes', 0):,} notes; "
        f"{top['project']} has the most weighted activity ({top['project_weighted']:,.0f})."
    )
    subtitle = (
        f"Weights: threads {w.get('threads', 3):g}, comments {w.get('comments', 2):g}, "
        f"notes {w.get('notes', 1):g}; projects ordered by weighted activity"
    )
    combined = alt.hconcat(linear, log, weighted, spacing=12).resolve_scale(y="shared")
    return theme.apply(
        combined, title="Project imbalance: posts per project", subtitle=subtitle, description=description
    )
