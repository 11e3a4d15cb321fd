"""The one pipeline: load → restrict (projects, period) → statistics → analyses → figures.

Why one module: ``summary``, ``figures`` and the report used to each wire these steps themselves, with
their own defaults, team handling and period filter, and so could disagree on the same data. Every
caller now builds one :class:`Request` (defaults and checks from :mod:`impactreport.settings`) and calls
the steps here; the report calls :func:`impactreport.report.prepare_report`, which uses the same steps.

The steps are pure functions of data, except :func:`load` (reads files). Writing the figures is
:func:`impactreport.figures.write.write_figures`; the report's assembly and sentences are
:mod:`impactreport.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from impactreport import settings
from impactreport.comparison import AwardColumn, Comparison, percent_change
from impactreport.counting import Store, check_period, count_numbers, count_period
from impactreport.identities import Identities, team_with
from impactreport.people import Team
from impactreport.schema import Dataset
from impactreport.settings import AwardPeriod, Period, award_periods
from impactreport.stats import ImpactStats

if TYPE_CHECKING:  # analyses and figures import altair, which `summary` need not pay for
    from impactreport.analyses import AnalysisParams, AnalysisScope
    from impactreport.history.edits import EditHistory
    from impactreport.history.versions import Versions

Stage = Callable[[str], None]
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
    #: this run's reading of the store (what :func:`history` reads the versioned tables through)
    store: Store | None = field(default=None, repr=False, compare=False)

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
    counted: AnalysisScope,
    request: Request,
    views: pl.DataFrame | None,
    versions: Versions | None = None,
) -> dict[str, pl.DataFrame]:
    """The frame behind every figure (views over time only from two snapshot dates on), and ``scope``:
    the period the figures show and the fingerprint of the data read (the dataset's files and, when
    given, every snapshot of ``versions``), which every figure states
    (:mod:`impactreport.figures.provenance`).

    ``counted`` is the period's scope as :func:`impactreport.counting.count_period` counted it (the
    dataset before the period restriction gives first contributions of all time and the titles of
    discussions not active in the period). With a period, the frames over time are clipped to it. The
    figures read the same history as the statistics, the posts known by the period's end, so a first
    response posted after a closed period counts in neither (like compared with like).
    """
    from impactreport.figures.provenance import Scope
    from impactreport.figures.registry import frames_of

    full = counted.unrestricted
    several = views is not None and views.height > 0 and views["retrieved"].dt.date().n_unique() > 1
    inputs = replace(counted, period=request.period, views_series=views if several else None)
    frames = frames_of(inputs, request.analysis_params())
    # the files read: as the report's manifest lists them (impactreport.citation.manifest_of)
    read = [full.snapshots, *([versions.snapshots] if versions is not None else [])]
    scope = Scope.of(counted.dataset.snapshots, request.period, request.paths, request.text_basis, read)
    return frames | {"scope": scope.to_frame()}


def charts(
    frames: dict[str, pl.DataFrame], request: Request, only: Sequence[str] | None = None
) -> dict[str, Any]:
    """One altair chart per figure (``only``: just these)."""
    from impactreport.figures import build_all

    return build_all(frames, request.analysis_params(), only=only)


def run(
    request: Request,
    *,
    figures: bool = False,
    on_file: Callable[[Any], None] | None = None,
    stage: Stage | None = None,
    read_history: bool = False,
) -> Result:
    """List the store once → count the period (:func:`impactreport.counting.count_period`), the previous
    period and the award years the same way → (``figures``) analyses → charts. ``read_history``: the caller
    reads the history of this run (:func:`history` with :attr:`Result.store`), so the rows read here
    are kept for it."""

    def say(text: str) -> None:
        if stage is not None:
            stage(text)

    if request.compare_previous:  # before any slow work: the period must have both ends
        request.previous()
    awards = request.awards()
    say("Reading exports")
    store = Store.open(request, keep_reads=figures or read_history)
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
    views_from = "none"
    if figures:
        say("Reading every snapshot")
        versions = store.read_versions(view_warnings.append)
        views, views_from = views_series(versions, view_warnings), "series"
    elif closed and store.several():
        say("Reading the snapshots that bracket the period")
        views, views_from = store.bracket_views(closed), "brackets"
        view_warnings.extend(line for line in store.version_notices if line not in view_warnings)
    say("Computing statistics")
    counted = count_period(store, request, request.period, views, on_file, views_from=views_from)
    notes = list(counted.notes)
    comparison = None
    if request.compare_previous:
        previous = count_numbers(store, request, request.previous(), views, views_from=views_from)
        empty = previous.empty
        change = percent_change(
            counted.stats.overall.to_json(), {} if empty else previous.stats.overall.to_json()
        )
        comparison = Comparison(previous.period, previous.stats, change, empty, previous.notes)
        notes += [f"previous period: {note}" for note in previous.notes]
        notes += [comparison.note] if comparison.note else []
    columns = tuple(award_column(store, request, award, views, views_from, counted.notes) for award in awards)
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
        store=store,
    )
    if not figures:
        return result
    from impactreport.figures.registry import FIGURE_NAMES

    say("Computing the data behind each figure")
    full = counted.full
    # revisions are measured (an LCS per revision, in C, outside the GIL) while the other figures are drawn
    with ThreadPoolExecutor(1) as pool:
        measuring = None
        if versions is not None and has_history(versions):
            measuring = pool.submit(edit_history, versions, request, full)
        frames = analyses(counted.scope, request, views, versions)
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
    store: Store,
    request: Request,
    award: AwardPeriod,
    views: pl.DataFrame | None,
    views_from: str,
    said: Sequence[str] = (),
) -> AwardColumn:
    """One award-year column, counted as a direct run of its period would count it; its notes less
    those ``said`` already (the period's own, when a year is the period asked for)."""
    one = count_numbers(store, request, award.period, views, views_from=views_from)
    return AwardColumn(award.label, award.period, one.stats, tuple(n for n in one.notes if n not in said))


def views_series(versions: Versions, warnings: list[str] | None = None) -> pl.DataFrame:
    """Views of every snapshot of the request's projects (views over time, views gained in a period):
    the versioned tables' views (:func:`impactreport.history.views.views_series`). The readers' warnings
    (a counter that is not a whole number) are appended to ``warnings``."""
    from impactreport.history.views import views_series as series_of

    if warnings is not None:
        warnings.extend(line for line in dict.fromkeys(versions.warnings) if line not in warnings)
    return series_of(versions)  # the versions hold only the request's projects


def history(request: Request, notice: Callable[[str], None], store: Store | None = None) -> dict[str, Any]:
    """``summary --history``: revisions, re-renders and deletions from every snapshot under the
    request's paths (``{"overall": {...}, "projects": {...}}``, :data:`~impactreport.history.HISTORY_KEYS`
    in each), read through the versioned tables' cache; ``notice`` gets what the cache says.
    ``store``: the reading of a :func:`run` of the same request (:attr:`Result.store`; its files are not
    read again: pass ``read_history=True`` to that run)."""
    from impactreport.history import summarise

    versions = (store or Store.open(request)).read_versions(notice)
    return summarise(versions, request.period)
