"""The one pipeline: load → restrict (projects, period) → statistics → analyses → figures.

Why one module: ``summary``, ``figures`` and the report used to each wire these steps themselves, with
their own defaults, team handling and period filter, and so could disagree on the same data. Every
caller now builds one :class:`Request` (defaults and checks from :mod:`impactreport.settings`) and calls
the steps here; the report calls :func:`prepare_report`, which uses the same steps.

The steps are pure functions of data, except :func:`load` (reads files) and :func:`write_figures`
(writes files).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from impactreport import layout, settings
from impactreport.comparison import (
    AwardColumn,
    Comparison,
    comparison_rows,
    percent_change,
)
from impactreport.counting import Store, check_period, count_period
from impactreport.errors import InputError
from impactreport.identities import Identities, describe_team, resolve_identities, team_with
from impactreport.labels import duration
from impactreport.people import Team
from impactreport.schema import Dataset
from impactreport.settings import AwardPeriod, Period, ReportParams, award_periods
from impactreport.stats import ImpactStats

if TYPE_CHECKING:  # analyses and figures import altair, which `summary` need not pay for
    from impactreport.analyses import AnalysisParams
    from impactreport.citation import Citation, Manifest, Terms
    from impactreport.history.edits import EditHistory
    from impactreport.history.versions import Versions

Stage = Callable[[str], None]
#: Data folder of the project (relative to the project root) and where fetch stores exports in it.
DATA_DIR = Path("data")
EXPORTS = DATA_DIR / layout.EXPORTS_DIR
DEMO = DATA_DIR / layout.DEMO_DIR
OUTPUT_DIR_ENV = "IMPACTREPORT_OUTPUT_DIR"
ENGINE_ENV = "IMPACTREPORT_ENGINE"
REPORT_FORMATS = ("svg", "png", "pdf")
#: How each option is named in errors: on the command line, and as a report parameter.
CLI_NAMES: Mapping[str, str] = {
    "projects": "--project",
    "since": "--since",
    "until": "--until",
    "compare_previous": "--compare-previous",
    "identities": "--identities",
    "previous_since": "--previous-since",
    "previous_until": "--previous-until",
    "as_of": "--as-of",
    "award_start": "--award-start",
    "years": "--years",
}
REPORT_NAMES: Mapping[str, str] = {key: f"parameter {key}" for key in CLI_NAMES}


@dataclass(frozen=True)
class Request:
    """What one run reads and how it counts; the only parameter object of the pipeline.

    ``names`` says how the user typed each option, so errors name it as typed (``--project`` on the
    command line, ``parameter projects`` in the report).
    """

    paths: tuple[Path, ...]
    projects: tuple[str, ...] = ()
    team: Team = field(default_factory=Team)
    period: Period = field(default_factory=Period)
    text_basis: str = settings.TEXT_BASIS
    all_snapshots: bool = False
    include_bots: bool = False
    thresholds: tuple[int, ...] = settings.THRESHOLDS
    words_per_publication: float = settings.WORDS_PER_PUBLICATION
    #: analysis knobs beyond the ones above (bandwidths, label threshold, ...); None = defaults
    analysis: AnalysisParams | None = None
    #: also the statistics of the previous period (the same span of the calendar just before, or
    #: ``previous_period`` when given; needs both ends of the period)
    compare_previous: bool = False
    #: the previous period chosen by hand (``--previous-since/--previous-until``); None: the one before
    previous_period: Period | None = None
    #: count the store as it stood at the end of this day (``--as-of``): later snapshots are hidden
    as_of: date | None = None
    #: award years: ``Year 1`` … ``Year N`` from ``award_start``, then the whole span (``--years``)
    award_start: date | None = None
    years: int | None = None
    #: which accounts are one person (:mod:`impactreport.identities`); empty: every account is one
    identities: Identities = field(default_factory=Identities)
    names: Mapping[str, str] = field(default_factory=lambda: dict(CLI_NAMES))

    def name(self, key: str) -> str:
        """The option ``key`` as the user typed it (``--since``, ``parameter since``)."""
        return self.names.get(key, CLI_NAMES.get(key, key))

    def previous(self) -> Period:
        """The period to compare with: the one chosen by hand, else the same span just before."""
        if self.previous_period is not None:
            return self.previous_period
        return self.period.previous(self.name("compare_previous"))

    @property
    def as_of_instant(self) -> datetime | None:
        """The first instant after the ``as_of`` day (UTC): snapshots retrieved from then on are hidden."""
        return Period(until=self.as_of).end if self.as_of is not None else None

    def awards(self) -> list[AwardPeriod]:
        """Year 1 … Year N and "Since award start" (empty without ``award_start``)."""
        if self.award_start is None:
            return []
        return award_periods(self.award_start, self.years or 1, self.name("years"))

    def analysis_params(self) -> AnalysisParams:
        """The analyses' parameters, agreeing with this request on thresholds, team and bots."""
        from impactreport.analyses import AnalysisParams

        base = self.analysis or AnalysisParams()
        return replace(base, thresholds=self.thresholds, team=self.team, exclude_bots=not self.include_bots)


def community_sentences(stats: ImpactStats, period: Period) -> tuple[str, str]:
    """The report's two community sentences: first responses, and people new in the period (or data)."""
    response = stats.overall.first_response
    none = f"{response.unanswered:,} got none" if response.unanswered != 1 else "1 got none"
    if response.answered and response.median_hours is not None:
        within = duration(response.median_hours)
        first = (
            f"Half of the {response.answered:,} answered discussions got a first response within "
            f"{within}; {none}."
        )
        if response.answered == 1:
            first = f"The one answered discussion got a first response within {within}; {none}."
    elif response.unanswered == 1:
        first = "The one discussion got no response from anyone but its opener."
    elif response.unanswered:
        first = f"None of the {response.unanswered:,} discussions got a response from anyone but its opener."
    else:
        first = "No discussion was opened, so there is no first response to measure."
    new = stats.overall.new_contributors
    people = "1 person" if new == 1 else f"{new:,} people"
    scope = "the data" if period.is_open else "the period"
    return first, f"{people} contributed for the first time in {scope}."


@dataclass(frozen=True)
class Result:
    """Everything a run computed (``frames``/``charts`` only when analyses were asked for).

    ``notes`` say how a number is to be read (views gained in the period, or all-time views);
    ``comparison`` is the previous period's statistics when asked for.
    """

    request: Request
    dataset: Dataset
    stats: ImpactStats
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
    views: pl.DataFrame | None = None
    comparison: Comparison | None = None
    notes: tuple[str, ...] = ()
    #: warnings met reading every snapshot (e.g. a counter that is not a whole number; a history cache
    #: that could not be trusted and was rebuilt)
    view_warnings: tuple[str, ...] = ()
    #: edits from the snapshot series (figures, with two or more snapshots of a project); else None
    history: EditHistory | None = None
    #: the versioned tables, when this run read them (figures; views gained in a period)
    versions: Versions | None = None
    #: award years (``--award-start``/``--years``): Year 1 … Year N, then since the award start
    awards: tuple[AwardColumn, ...] = ()
    #: the data as it stood at the period's end, before the period restriction
    full: Dataset | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.stats.warnings + tuple(w for w in self.view_warnings if w not in self.stats.warnings)

    @property
    def snapshot_dates(self) -> int:
        """Distinct snapshot dates the views over time are drawn from (in the period, when one is given)."""
        if self.views is None or self.views.height == 0:
            return 0
        views = self.views.filter(self.request.period.contains("retrieved"))
        return int(views["retrieved"].dt.date().n_unique())


# -- steps ------------------------------------------------------------------------------------------
def check_projects(request: Request) -> None:
    """Each asked-for project is in the data; the error names the option as the user typed it."""
    if not request.projects:
        return
    from impactreport.load.dataset import discover_files

    discover_files(
        list(request.paths),
        all_snapshots=request.all_snapshots,
        projects=request.projects,
        option=request.name("projects"),
    )


def load(request: Request, on_file: Callable[[Any], None] | None = None) -> Dataset:
    """Read the exports of the request's projects (the newest snapshot of each, or every one; with
    ``--as-of``, as the store stood then), with the request's identities applied: from here on,
    ``person`` is a person, not an account."""
    store = Store.open(request)
    return store.dataset(store.counted(Period()), on_file)


def with_identity_team(request: Request, dataset: Dataset) -> Request:
    """The request whose team also holds the accounts (present in the data) of ``team: true`` people."""
    return replace(request, team=team_with(request.team, request.identities, dataset.posts))


def has_history(versions: Versions) -> bool:
    """True when some project has two or more snapshots: revisions can be counted."""
    counts = versions.snapshots.group_by("source", "project").len()
    return bool(counts.height) and int(counts["len"].max()) > 1  # type: ignore[arg-type]


def people_of(dataset: Dataset, identities: Identities | None = None) -> pl.DataFrame:
    """Each account's person and name as the pipeline counts them (identities applied): what the
    per-person edits table names its rows by. Accounts that wrote no post (an editor who only edits)
    come from the profiles, with ``identities`` applied to them when given
    (:func:`impactreport.identities.account_persons`)."""
    from impactreport.identities import account_persons

    return account_persons(dataset, identities)


def edit_history(versions: Versions, request: Request, full: Dataset) -> EditHistory:
    """Revisions, re-renders and the per-person table of the request's period
    (:mod:`impactreport.history.edits`), people named as the rest of the pipeline names them."""
    from impactreport.history.edits import analyse

    return analyse(versions, request.period, people_of(full, request.identities))


def edit_frames(history: EditHistory) -> dict[str, pl.DataFrame]:
    """The frames behind the ``edits`` figure (weekly), its re-render days and the per-person table."""
    return {"edits": history.weekly, "rerender-days": history.rerender_days, "edits-people": history.people}


def analyses(
    dataset: Dataset,
    request: Request,
    views: pl.DataFrame | None,
    full: Dataset | None = None,
    versions: Versions | None = None,
) -> dict[str, pl.DataFrame]:
    """The frame behind every figure (views over time only from two snapshot dates on), and ``scope``:
    the period the figures show and the fingerprint of the data read (the dataset's files and, when
    given, every snapshot of ``versions``), which every figure states
    (:mod:`impactreport.figures.provenance`).

    ``full`` is the dataset before the period restriction (first contributions are of all time; titles
    of discussions not active in the period). With a period, the frames over time are clipped to it.
    """
    from impactreport.analyses import compute_all
    from impactreport.figures.provenance import Scope

    full = full or dataset
    several = views is not None and views.height > 0 and views["retrieved"].dt.date().n_unique() > 1
    frames = compute_all(
        dataset,
        request.analysis_params(),
        views_series=views if several else None,
        history=full.posts,
        period=request.period,
        full=full,
    )
    # the files read: as the report's manifest lists them (impactreport.citation.manifest_of)
    read = [full.snapshots, *([versions.snapshots] if versions is not None else [])]
    scope = Scope.of(dataset.snapshots, request.period, request.paths, request.text_basis, read)
    return frames | {"scope": scope.to_frame()}


def charts(
    frames: dict[str, pl.DataFrame], request: Request, only: Sequence[str] | None = None
) -> dict[str, Any]:
    """One altair chart per figure (``only``: just these)."""
    from impactreport.figures import build_all

    return build_all(frames, request.analysis_params(), only=only)


#: Figures drawn at once: vl-convert renders outside the GIL, so threads overlap the rendering.
FIGURE_THREADS = max(1, min(4, os.cpu_count() or 1))
#: The comment closing a written SVG: the key of what was drawn (see :func:`write_figures`).
FIGURE_KEY = "<!-- impactreport figure {key} -->\n"


def has_data(name: str, frame: pl.DataFrame) -> bool:
    """Whether a figure shows anything beyond a placeholder (the report leaves the others out): a frame
    with rows; for ``edits``, a week with a revision or a re-render."""
    if name == "edits":
        return frame.height > 0 and bool(frame["revisions"].sum() or frame["rerenders"].sum())
    return frame.height > 0


def figure_key(spec: Mapping[str, Any], formats: Sequence[str], scale: float) -> str:
    """What a figure's files are a function of: its Vega-Lite spec (data included, and its metadata in
    ``usermeta``: period, version, data fingerprint, parameters, citation), the formats, the PNG scale,
    the renderer's version and how the metadata is written into the files."""
    import hashlib
    import json

    from impactreport.figures.provenance import EMBEDDING

    what = json.dumps(
        [spec, list(formats), scale, version("vl-convert-python"), EMBEDDING], sort_keys=True, default=str
    )
    return hashlib.sha256(what.encode("utf-8")).hexdigest()


def _current(out: Path, name: str, formats: Sequence[str], key: str) -> bool:
    """True when ``out`` holds this figure drawn from the same key in every format (the SVG ends with
    the key, written after the other formats)."""
    svg = out / f"{name}.svg"
    if "svg" not in formats or not all((out / f"{name}.{fmt}").is_file() for fmt in formats):
        return False
    with open(svg, "rb") as handle:
        handle.seek(max(0, svg.stat().st_size - 200))
        return handle.read().endswith(FIGURE_KEY.format(key=key).encode())


def write_figures(
    result: Result,
    out: Path,
    *,
    formats: Sequence[str] = REPORT_FORMATS,
    scale: float = 2,
    skip_empty: bool = False,
    progress: Stage | None = None,
) -> dict[str, list[Path]]:
    """Write each chart as ``out/<name>.<format>`` and its frame as ``out/<name>.csv`` (``skip_empty``:
    only figures :func:`has_data`), a few charts at a time; ``progress`` gets each name as it is done.

    A figure whose files in ``out`` were drawn from the same spec, formats and scale (:func:`figure_key`,
    kept as a comment closing the SVG) is not drawn again: the report executes twice (HTML, then PDF)
    and a new snapshot leaves most figures as they were.
    """
    from impactreport.figures import csv_bytes, save_chart
    from impactreport.files import write_atomic

    def one(name: str) -> list[Path]:
        chart = result.charts[name]
        key = figure_key(chart.to_dict(validate=False), formats, scale)  # validated when drawn
        paths = [out / f"{name}.{fmt}" for fmt in formats]
        if not _current(out, name, formats, key):
            paths = save_chart(chart, out, name, formats=formats, scale=scale)
            if "svg" in formats:
                svg = out / f"{name}.svg"
                write_atomic(
                    svg, svg.read_bytes().rstrip(b"\n") + b"\n" + FIGURE_KEY.format(key=key).encode()
                )
        csv_path = out / f"{name}.csv"
        write_atomic(csv_path, csv_bytes(result.frames[name]))
        return [*paths, csv_path]

    names = [name for name in result.charts if not skip_empty or has_data(name, result.frames[name])]
    done: dict[str, list[Path]] = {}
    with ThreadPoolExecutor(FIGURE_THREADS) as pool:
        futures = {pool.submit(one, name): name for name in names}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if progress is not None:
                progress(futures[future])
    return {name: done[name] for name in names}


def run(
    request: Request,
    *,
    figures: bool = False,
    on_file: Callable[[Any], None] | None = None,
    stage: Stage | None = None,
) -> Result:
    """List the store once → count the period (:func:`impactreport.counting.count_period`), the previous
    period and the award years the same way → (``figures``) analyses → charts."""

    def say(text: str) -> None:
        if stage is not None:
            stage(text)

    if request.compare_previous:  # before any slow work: the period must have both ends
        request.previous()
    awards = request.awards()
    say("Reading exports")
    store = Store.open(request)
    full = store.dataset(store.counted(request.period), on_file)
    request = with_identity_team(request, full)
    check_period(full, request.period, request.name)
    views = None
    view_warnings: list[str] = []
    versions = None
    # views over time, views gained in a period and edits come from every snapshot: the versioned
    # tables, read through their cache (without figures, only when a period is counted and some project
    # has several snapshots: a single one gains nothing)
    periods = [request.period, *([request.previous()] if request.compare_previous else [])]
    periods += [award.period for award in awards]
    closed = [period for period in periods if not period.is_open]
    if figures:
        say("Reading every snapshot")
        versions = store.read_versions(view_warnings.append)
        views = views_series(versions, view_warnings)
    elif closed and store.several():
        say("Reading the snapshots that bracket the period")
        views = store.bracket_views(closed)
        view_warnings.extend(line for line in store.version_notices if line not in view_warnings)
    say("Computing statistics")
    counted = count_period(store, request, request.period, views, on_file)
    notes = list(counted.notes)
    comparison = None
    if request.compare_previous:
        previous = count_period(store, request, request.previous(), views)
        empty = previous.empty
        change = percent_change(
            counted.stats.overall.to_json(), {} if empty else previous.stats.overall.to_json()
        )
        comparison = Comparison(previous.period, previous.stats, change, empty, previous.notes)
        notes += [f"previous period: {note}" for note in previous.notes]
        notes += [comparison.note] if comparison.note else []
    columns = tuple(award_column(store, request, award, views, counted.notes) for award in awards)
    result = Result(
        request,
        counted.dataset,
        counted.stats,
        views=views,
        comparison=comparison,
        notes=tuple(dict.fromkeys(notes)),
        view_warnings=tuple(view_warnings),
        versions=versions,
        awards=columns,
        full=counted.full,
    )
    if not figures:
        return result
    from impactreport.analyses import FIGURE_NAMES

    say("Computing the data behind each figure")
    dataset, full = counted.dataset, counted.full
    # revisions are measured (an LCS per revision, in C, outside the GIL) while the other figures are drawn
    with ThreadPoolExecutor(1) as pool:
        measuring = None
        if versions is not None and has_history(versions):
            measuring = pool.submit(edit_history, versions, request, full)
        frames = analyses(dataset, request, views, full, versions)
        say("Drawing figures")
        drawn = charts(frames, request)
        history = None
        if measuring is not None:
            say("Measuring revisions")
            history = measuring.result()
            frames |= edit_frames(history)
            drawn |= charts(frames, request, only=("edits",))
    drawn = {name: drawn[name] for name in FIGURE_NAMES if name in drawn}
    return replace(result, frames=frames, charts=drawn, history=history)


def award_column(
    store: Store, request: Request, award: AwardPeriod, views: pl.DataFrame | None, said: Sequence[str] = ()
) -> AwardColumn:
    """One award-year column, counted as a direct run of its period would count it; its notes less
    those ``said`` already (the period's own, when a year is the period asked for)."""
    one = count_period(store, request, award.period, views)
    return AwardColumn(award.label, award.period, one.stats, tuple(n for n in one.notes if n not in said))


def views_series(versions: Versions, warnings: list[str] | None = None) -> pl.DataFrame:
    """Views of every snapshot of the request's projects (views over time, views gained in a period):
    the versioned tables' views (:func:`impactreport.history.views.views_series`). The readers' warnings
    (a counter that is not a whole number) are appended to ``warnings``."""
    from impactreport.history.views import views_series as series_of

    if warnings is not None:
        warnings.extend(line for line in dict.fromkeys(versions.warnings) if line not in warnings)
    return series_of(versions)  # the versions hold only the request's projects


def history(
    request: Request, notice: Callable[[str], None], versions: Versions | None = None
) -> dict[str, Any]:
    """``summary --history``: revisions, re-renders and deletions from every snapshot under the
    request's paths (``{"overall": {...}, "projects": {...}}``, :data:`~impactreport.history.HISTORY_KEYS`
    in each), read through the versioned tables' cache; ``notice`` gets what the cache says.
    ``versions``: the tables a :func:`run` of the same request already read (:attr:`Result.versions`)."""
    from impactreport.history import summarise

    if versions is None:
        versions = Store.open(request).read_versions(notice)
    return summarise(versions, request.period)


# -- the report ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """What the report shows; ``figures`` maps a figure name to its saved SVG (only figures with data)."""

    params: ReportParams
    data_paths: tuple[Path, ...]
    demo: bool
    result: Result
    figures: dict[str, Path]
    versions: dict[str, str]
    #: how to cite the report (:mod:`impactreport.citation`)
    citation: Citation | None = None
    #: every snapshot file read, and their fingerprint
    manifest: Manifest | None = None
    #: ``git rev-parse HEAD`` of the project folder when it is a git checkout
    git_commit: str | None = None
    #: ``provenance.json`` as written
    provenance: bytes | None = None
    #: the copy-ready files written beside the report (:mod:`impactreport.outputs`), by name
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def stats(self) -> ImpactStats:
        return self.result.stats

    @property
    def dataset(self) -> Dataset:
        return self.result.dataset

    @property
    def frames(self) -> dict[str, pl.DataFrame]:
        return self.result.frames

    @property
    def team(self) -> Team:
        return self.result.request.team

    @property
    def snapshot_dates(self) -> int:
        return self.result.snapshot_dates

    @property
    def comparison(self) -> Comparison | None:
        return self.result.comparison

    @property
    def notes(self) -> tuple[str, ...]:
        """How to read some numbers (views gained or all-time; an empty previous period)."""
        return self.result.notes

    @property
    def views_gained(self) -> bool:
        """True when the views figure shows views gained in the period (not all-time views)."""
        frame = self.frames.get("views")
        return frame is not None and "views_from" in frame.columns

    @property
    def history(self) -> EditHistory | None:
        """Revisions from the snapshot series (None when no project has two or more snapshots)."""
        return self.result.history

    def community(self) -> tuple[str, str]:
        """The Community section's sentences (:func:`community_sentences`)."""
        return community_sentences(self.stats, self.params.period)

    def comparison_rows(self) -> list[tuple[str, Any, Any, str]]:
        """The "this period / previous period / change" rows; empty without ``compare_previous``."""
        return [] if self.comparison is None else comparison_rows(self.stats, self.comparison)

    def team_line(self) -> str:
        """``team (2 people, 4 accounts): …``: the team as people (:func:`describe_team`)."""
        posts = (self.result.full or self.result.dataset).posts
        return describe_team(self.team, self.result.request.identities, posts)

    @property
    def awards(self) -> tuple[AwardColumn, ...]:
        """Award-year columns (``award_start``): Year 1 … Year N, then since the award start."""
        return self.result.awards

    def byline(self) -> str:
        """The authors as the title block names them (``authors``, else ``author``; "" for none)."""
        from impactreport.citation import authors_of, byline

        return byline(authors_of(self.params.authors, self.params.author))

    def licenses(self) -> list[Terms]:
        """The licence or terms of each source in the data (:func:`impactreport.citation.source_licenses`)."""
        from impactreport.citation import source_licenses

        full = self.result.full or self.result.dataset
        forums = full.threads.filter(pl.col("source") == "discourse")["url"].drop_nulls().to_list()
        return source_licenses(full.snapshots["source"].to_list(), forums)


def project_root(start: Path | None = None) -> Path:
    """The folder with ``_quarto.yml`` (Quarto runs the report's code in ``report/``)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    return here


def has_exports(folder: Path) -> bool:
    """True when ``folder`` holds at least one export file (hidden files do not count)."""
    if not folder.is_dir():
        return False
    return any(
        not any(part.startswith(".") for part in path.relative_to(folder).parts)
        for suffix in ("*.json", "*.json.gz")
        for path in folder.rglob(suffix)
    )


def resolve_data(params: ReportParams, root: Path, *, generate: bool = True) -> tuple[tuple[Path, ...], bool]:
    """The export paths to read and whether they are the demo data.

    Relative paths are taken from the project root (not from ``report/``, where the code runs). With no
    ``data`` parameter: ``data/exports`` when it holds exports, else the demo data (generated once, only
    in this case: a real data folder is never touched).
    """
    if params.data:
        paths = tuple(Path(p) if Path(p).is_absolute() else root / p for p in params.data)
        for path in paths:
            if not path.exists():
                raise InputError(f"parameter data: {path}: no such file or folder")
        return paths, False
    if has_exports(root / EXPORTS):
        return (root / EXPORTS,), False
    demo = root / DEMO
    if generate and not has_exports(demo):
        from impactreport.demo import write_demo

        write_demo(demo)
    return (demo,), True


def report_request(params: ReportParams, root: Path) -> tuple[Request, bool]:
    """The pipeline request a report's parameters describe, and whether it reads the demo data."""
    from impactreport.analyses import AnalysisParams

    paths, demo = resolve_data(params, root)
    team_file = Path(params.team_file) if params.team_file else None
    if team_file is not None and not team_file.is_absolute():
        team_file = root / team_file
    team = Team.of(params.team, team_file)
    identities = resolve_identities(params.identities, root, name=REPORT_NAMES["identities"])
    if demo and not team and not identities.team_accounts():
        from impactreport.demo import DEMO_TEAM

        team = Team.of(DEMO_TEAM)
    analysis = AnalysisParams(
        bandwidth=params.bandwidth,
        char_bandwidth=params.char_bandwidth,
        label_threshold=params.label_threshold,
    )
    request = Request(
        paths=paths,
        projects=params.projects,
        team=team,
        period=params.period,
        text_basis=params.text_basis,
        thresholds=params.thresholds,
        analysis=analysis,
        compare_previous=params.compare_previous,
        previous_period=params.previous_period,
        as_of=params.day("as_of"),
        award_start=params.day("award_start"),
        years=params.years if params.award_start else None,
        identities=identities,
        names=REPORT_NAMES,
    )
    return request, demo


def preflight(params: ReportParams, root: Path) -> None:
    """Every check that needs no slow work: data paths, projects, team file (before a kernel starts)."""
    request, _ = report_request(params, root)
    check_projects(request)


def versions() -> dict[str, str]:
    """Software that made the report (for the provenance section)."""
    found = {"Python": platform.python_version()}
    for package in (
        "impactreport",
        "polars",
        "altair",
        "vl-convert-python",
        "nbclient",
        "pypandoc-binary",
        "typst",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    found["renderer"] = os.environ.get(ENGINE_ENV) or "Quarto"  # unset: quarto render run directly
    return found


def prepare_report(
    params: Mapping[str, Any] | ReportParams, *, root: Path | None = None, output_dir: Path | None = None
) -> Report:
    """Run the pipeline for the report; save every figure with data under ``<output>/figures`` (PNG at
    300 dpi, :data:`impactreport.outputs.PNG_SCALE`), and beside them the copy-ready tables, summaries
    and ``provenance.json``, with the report's citation (:func:`impactreport.outputs.complete`)."""
    from impactreport import citation, outputs

    checked = params if isinstance(params, ReportParams) else ReportParams.from_mapping(params)
    root = root or project_root()
    output = output_dir or Path(os.environ.get(OUTPUT_DIR_ENV) or root / "_output")
    prepared = citation.prepared_on()  # a bad SOURCE_DATE_EPOCH fails before the slow work
    request, demo = report_request(checked, root)
    software = versions()
    with ThreadPoolExecutor(1) as pool:  # git, quarto and pandoc are asked while the pipeline runs
        asking = pool.submit(citation.tool_versions, root, software["renderer"])
        result = run(request, figures=True)
        written = write_figures(result, output / "figures", skip_empty=True, scale=outputs.PNG_SCALE)
        tools = asking.result()
    report = Report(
        params=checked,
        data_paths=request.paths,
        demo=demo,
        result=result,
        figures={name: paths[0] for name, paths in written.items()},
        versions=software | tools.versions(),
        git_commit=tools.git_commit,
    )
    return outputs.complete(report, root=root, output=output, prepared=prepared, tools=tools)
