"""The figure registry: one entry per figure, in the report's order, that every layer reads.

Why: a figure used to be added by editing hand-kept lists in three layers (the figure names, the frame
and chart dicts, the "has data" special cases, the parameters its metadata lists). Now the command
(``impactreport figures``), :func:`impactreport.figures.build_all`, :mod:`.write`, the pipeline, the
report (``report/index.qmd``: tested against this list) and ``docs/figures.md`` (tested likewise) read
:data:`FIGURES`. A new figure is one chart module here in ``figures/``, its frame function in
``analyses/``, one :class:`Figure` below, its section in the report and its row in the docs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from impactreport.analyses import activity as activity_frames
from impactreport.analyses import community as community_frames
from impactreport.analyses import contributors as contributors_frames
from impactreport.analyses import cumulative as cumulative_frames
from impactreport.analyses import imbalance as imbalance_frames
from impactreport.analyses import projects as projects_frames
from impactreport.analyses import streams as streams_frames
from impactreport.analyses import views as views_frames
from impactreport.analyses.params import AnalysisParams
from impactreport.analyses.scope import AnalysisScope
from impactreport.schema import Dataset
from impactreport.settings import Period

from . import activity, community, contributors, cumulative, edits, imbalance, streams, views

#: A frame function: the scope of the run and the parameters → the data the chart draws.
FrameFunction = Callable[[AnalysisScope, AnalysisParams], pl.DataFrame]
#: A chart function: every frame of the run (a chart may draw a companion frame, as ``edits`` draws
#: ``rerender-days``), the parameters and the projects' colours → an altair chart.
ChartFunction = Callable[[Mapping[str, pl.DataFrame], AnalysisParams, Mapping[str, str]], Any]


def has_rows(frame: pl.DataFrame) -> bool:
    """A frame with rows shows something."""
    return frame.height > 0


def edits_shown(frame: pl.DataFrame) -> bool:
    """The edits figure shows something with a week holding a revision or a re-render."""
    return frame.height > 0 and bool(frame["revisions"].sum() or frame["rerenders"].sum())


@dataclass(frozen=True)
class Figure:
    """One figure: its stable ``name`` (its files are ``<name>.svg|png|pdf|csv``, its report label
    ``fig-<name>``), the ``frame`` function (None: the pipeline adds the frame, as it does for
    ``edits`` from the snapshot series), the ``chart`` function, ``has_data`` (the report leaves a
    figure out without), the ``caption`` the report prints under it, and the ``parameters`` that shape
    it (its metadata lists those: :func:`impactreport.figures.provenance.figure_metadata`)."""

    name: str
    frame: FrameFunction | None
    chart: ChartFunction
    caption: str
    parameters: tuple[str, ...] = ()
    has_data: Callable[[pl.DataFrame], bool] = has_rows


FIGURES: tuple[Figure, ...] = (
    Figure(
        "imbalance",
        lambda s, p: imbalance_frames.imbalance(s.dataset, p),
        lambda f, p, c: imbalance.chart(f["imbalance"], p),
        "Project imbalance: discussions, comments and notes per project, and weighted activity "
        "(discussion × 3, comment × 2, note × 1).",
        ("weights", "bots"),
    ),
    Figure(
        "activity-histogram",
        lambda s, p: activity_frames.histogram(s.dataset, p, s.clip),
        lambda f, p, c: activity.histogram(f["activity-histogram"], p, c),
        "Weighted posts per month, stacked by project (discussion × 3, comment × 2, note × 1).",
        ("weights", "histogram_bin", "bots"),
    ),
    Figure(
        "activity-density",
        lambda s, p: activity_frames.activity_density(s.dataset, p, s.clip),
        lambda f, p, c: activity.activity_density(f["activity-density"], p, c),
        "Activity over time: weighted posts per day, smoothed with a Gaussian kernel and stacked by project.",
        ("weights", "bandwidth", "bots"),
    ),
    Figure(
        "characters-density",
        lambda s, p: activity_frames.characters_density(s.dataset, p, s.clip),
        lambda f, p, c: activity.characters_density(f["characters-density"], p, c),
        "Character generation: characters of comments and notes written per day, smoothed and stacked "
        "by project.",
        ("char_bandwidth", "text_basis", "bots"),
    ),
    Figure(
        "edits",
        None,  # from the snapshot series: impactreport.pipeline.edit_frames
        lambda f, p, c: edits.chart(f["edits"], f.get("rerender-days"), p, c),
        "Revisions per week, and characters inserted (up) and deleted (down), stacked by project; dashed "
        "lines mark days the site re-rendered posts without any edit, grey weeks have no snapshot.",
        (),
        edits_shown,
    ),
    Figure(
        "contributors",
        lambda s, p: contributors_frames.contributors(s.dataset, p),
        lambda f, p, c: contributors.chart(f["contributors"], p),
        "Contributors by the characters they wrote in comments and notes, grouped by threshold.",
        ("thresholds", "team_size", "text_basis", "bots"),
    ),
    Figure(
        "user-stream",
        lambda s, p: streams_frames.user_streams(s.dataset, p, period=s.clip),
        lambda f, p, c: streams.chart(f["user-stream"], p),
        "User streams: smoothed characters per day of the main contributors (others pooled), stacked "
        "around a centred baseline.",
        ("stream_bandwidth", "stream_threshold", "exclude_users", "text_basis", "bots"),
    ),
    Figure(
        "cumulative-contribution",
        lambda s, p: cumulative_frames.cumulative_contribution(s.dataset, p, period=s.clip),
        lambda f, p, c: cumulative.chart(f["cumulative-contribution"], p),
        "Cumulative contribution: characters written so far by each contributor (band height is the "
        "square root), in order of first contribution.",
        ("cumulative_bandwidth", "label_threshold", "sqrt", "text_basis", "bots"),
    ),
    Figure(
        "first-response",
        lambda s, p: community_frames.first_response(s.dataset, p, s.past, s.period),
        lambda f, p, c: community.first_response(f["first-response"], p, c),
        "Time to first response: hours from a discussion's opening to the first comment or note by "
        "someone else (log scale); unanswered discussions shown apart.",
        ("bots",),
    ),
    Figure(
        "contributors-over-time",
        lambda s, p: community_frames.contributors_over_time(s.dataset, p, s.past),
        lambda f, p, c: community.contributors_over_time(f["contributors-over-time"], p),
        "New and returning contributors per month (stacked; a contributor is new in the month of their "
        "first comment or note of all time), and the cumulative number of contributors.",
        ("bots",),
    ),
    Figure(
        "views",
        lambda s, p: s.views,
        lambda f, p, c: views.chart(f["views"], p, c),
        "Page views of the most viewed discussions and documents: in the newest export, or gained in the "
        "period when snapshots bracket it (see the text).",
    ),
    Figure(
        "views-over-time",
        lambda s, p: views_frames.views_over_time(s.views_series, s.titles, p, s.clip),
        lambda f, p, c: views.over_time(f["views-over-time"], p),
        "Views over time: total page views and those of the most viewed discussions at each snapshot (in "
        "the period, when one is given).",
        ("top_threads",),
    ),
)

#: The figure names, in the order the report shows them.
FIGURE_NAMES: tuple[str, ...] = tuple(figure.name for figure in FIGURES)
BY_NAME: Mapping[str, Figure] = {figure.name: figure for figure in FIGURES}

#: Frames that are tables, not figures: the report's top discussions, and ``projects`` (every project of
#: the data with its activity in the period, which gives each project its colour and the legends their
#: projects).
TABLES: Mapping[str, FrameFunction] = {
    "top-discussions": lambda s, p: views_frames.top_discussions(s.views, p),
    "projects": lambda s, p: projects_frames.project_activity(s.dataset, p, s.unrestricted),
}


def has_data(name: str, frame: pl.DataFrame) -> bool:
    """Whether figure ``name`` shows anything beyond a placeholder (the report leaves the others out)."""
    return BY_NAME[name].has_data(frame) if name in BY_NAME else has_rows(frame)


def frames_of(scope: AnalysisScope, params: AnalysisParams | None = None) -> dict[str, pl.DataFrame]:
    """Every registered figure's frame that the analyses compute (not ``edits``), then :data:`TABLES`,
    keyed by name. ``views-over-time`` is an empty frame unless ``scope.views_series`` holds more than
    one snapshot date."""
    params = params or AnalysisParams()
    computed = {figure.name: figure.frame(scope, params) for figure in FIGURES if figure.frame is not None}
    return computed | {name: frame(scope, params) for name, frame in TABLES.items()}


def compute_all(
    dataset: Dataset,
    params: AnalysisParams | None = None,
    *,
    views_series: pl.DataFrame | None = None,
    history: pl.DataFrame | None = None,
    period: Period | None = None,
    full: Dataset | None = None,
) -> dict[str, pl.DataFrame]:
    """:func:`frames_of` a scope made of these arguments (see :class:`AnalysisScope`): every figure's
    frame keyed by figure name, plus ``top-discussions`` and ``projects``."""
    return frames_of(AnalysisScope(dataset, full, history, period, views_series), params)


#: The lines of ``docs/figures.md`` between which :func:`docs_table` stands (a test compares them).
DOCS_BEGIN = "<!-- figures: generated from impactreport.figures.registry.docs_table() -->"
DOCS_END = "<!-- end of figures -->"


def docs_table() -> str:
    """The docs' list of figures (``docs/figures.md``): one row per registered figure, its caption."""
    rows = [f"| [`{figure.name}`](#{figure.name}) | {figure.caption} |" for figure in FIGURES]
    return "\n".join(["| figure | what it shows |", "|---|---|", *rows])
