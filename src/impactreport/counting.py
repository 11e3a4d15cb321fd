"""Counting one period: the one code path for the period asked for, the previous period and each award
year, over one reading of the snapshot store.

Why one path: a comparison column that is computed differently from a direct run of its period (views
all-time on one side and gained on the other, another snapshot, another first-response rule) silently
compares unlike with like. :func:`count_period` is the only function that turns a period into numbers;
the comparison and the award-year columns call it as the period itself does, so each column equals a
direct run of its period, key for key.

A closed period never moves (:mod:`impactreport.load.as_of`): its posts and their text are those of the
first snapshot retrieved after its end; views are those gained between the snapshots that bracket it
(:func:`impactreport.analyses.views.views_gained`); a first response posted after its end does not
count (the discussion was unanswered at the end). ``--as-of DATE`` hides later snapshots.

:class:`Store` lists the store once per run, loads each selection of snapshots once, and reads the
versioned tables (views over time, history) at most once.

What a period counts to (:class:`PeriodNumbers`) and the views of the snapshots that bracket it are
kept in the user's cache folder (:mod:`impactreport.memo`) under a key of every file of the store (path,
size, times, inode), the period and every counting parameter: the same store counted the same way again
(a re-render, a comparison, last year's report beside this year's) reads them instead of counting. Any
new, changed or removed snapshot, another parameter or other code makes another key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from impactreport import labels, memo
from impactreport.analyses.scope import AnalysisScope
from impactreport.errors import InputError
from impactreport.identities import apply_identities
from impactreport.load.as_of import Counted, bracket_files, counted_snapshots, selected_files
from impactreport.people import Team
from impactreport.schema import TABLES, Dataset
from impactreport.settings import Period, day_text
from impactreport.snapshots import Discovery, file_signature
from impactreport.stats import ImpactStats, LevelStats, summarise

if TYPE_CHECKING:
    from impactreport.history.versions import Versions
    from impactreport.load.rows import Loaded
    from impactreport.pipeline import Request

Notice = Callable[[str], None]
#: Numbers of more projects than this are not kept (their JSON would cost more than counting them).
MEMO_PROJECTS = 5_000


# -- the store, read once -----------------------------------------------------------------------------
@dataclass
class Store:
    """One run's reading of the data: every snapshot of the request's projects listed once; each
    selection of snapshots loaded once (identities applied); the versioned tables read at most once."""

    request: Request
    listing: Discovery
    datasets: dict[tuple[str, ...], Dataset] = field(default_factory=dict)
    versions: Versions | None = None
    version_notices: list[str] = field(default_factory=list)
    #: keep the rows of projects of one snapshot read for a dataset, for the versioned tables read later
    #: in the run (which then need not read them again); False when the run reads no history
    keep_reads: bool = False
    reads: list[Loaded] = field(default_factory=list)
    _signature: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def open(cls, request: Request, *, keep_reads: bool = False) -> Store:
        """List the store (an unknown ``--project`` is a one-line error naming the option as typed).

        ``keep_reads``: the run will read the versioned tables (:meth:`read_versions`)."""
        from impactreport.load.dataset import discover_files

        listing = discover_files(
            list(request.paths),
            all_snapshots=True,
            projects=list(request.projects) or None,
            option=request.name("projects"),
        )
        return cls(request, listing, keep_reads=keep_reads)

    def counted(self, period: Period) -> list[Counted]:
        """The snapshot each project is counted from for ``period`` (:mod:`impactreport.load.as_of`)."""
        return counted_snapshots(self.listing.files, period.end, self.request.as_of_instant)

    def dataset(self, counted: list[Counted], on_file: Callable[[Any], None] | None = None) -> Dataset:
        """The dataset of these snapshots (each selection loaded once per run), people resolved."""
        from impactreport.load import load_dataset

        files = selected_files(counted, all_snapshots=self.request.all_snapshots)
        if not files:
            when = day_text(self.request.as_of) if self.request.as_of else "now"
            raise InputError(f"{self.request.name('as_of')}: no snapshot was retrieved by {when}")
        key = tuple(str(file.path) for file in files)
        if key not in self.datasets:
            reads: list[Loaded] | None = [] if self.keep_reads and self.versions is None else None
            loaded = load_dataset(
                list(self.request.paths),
                text_basis=self.request.text_basis,
                on_file=on_file,
                found=Discovery(files, self.listing.notices),
                reads=reads,
            )
            self.datasets[key] = apply_identities(loaded, self.request.identities)
            self.reads.extend(self._singles(read) for read in reads or [])
        return self.datasets[key]

    def _singles(self, loaded: Loaded) -> Loaded:
        """The files of ``loaded`` (and their rows) whose project has one snapshot in the listing: those
        the versioned tables take from a dataset's reading (a project of several is read in series)."""
        per_project = Counter((file.source, file.project) for file in self.listing.files)
        return loaded.restricted(
            {i for i, read in loaded.files.items() if per_project[(read.file.source, read.file.project)] == 1}
        )

    def signature(self) -> str | None:
        """The sha256 of every file of the store as listed (path, source, project, order; size, times,
        inode), what the listing noted and the paths given: what any result counted from this store
        derives from (a format-B file's keys come from its project's other snapshots, so the whole
        listing, not only the files counted). Computed once per run; None when a file can no longer be
        looked at (then nothing is kept)."""
        if self._signature is None:
            try:
                files = [
                    [str(f.path), f.source, f.project, f.order, *file_signature(f.path)]
                    for f in self.listing.files
                ]
            except OSError:
                return None
            given = [str(Path(path).resolve()) for path in self.request.paths]
            self._signature = memo.key_of("store", [files, list(self.listing.notices), given])
        return self._signature

    def memo_key(self, kind: str, **parts: Any) -> str | None:
        """The key of a result of ``kind`` counted from this store (:mod:`impactreport.memo`), or None."""
        signature = self.signature()
        if signature is None:
            return None
        return memo.key_of(kind, {"store": signature, "as_of": self.request.as_of, **parts})

    def several(self) -> bool:
        """True when some project has more than one snapshot (visible at ``--as-of``)."""
        return any(entry.snapshots > 1 for entry in self.counted(Period()))

    def bracket_views(self, periods: list[Period]) -> pl.DataFrame:
        """The views series of only the snapshots that bracket ``periods`` (views gained in them), not
        the versioned tables' series: a summary of a period reads a few files per project, once; the
        same store and periods again take what was kept (:mod:`impactreport.memo`)."""
        spans = [(period.since, period.until) for period in periods]
        key = self.memo_key("views", spans=spans)
        kept = memo.load("views", key) if key else None
        if kept is not None:
            self.version_notices.extend(line for line in kept.meta if line not in self.version_notices)
            return kept.frames.get("views", pl.DataFrame())
        from impactreport.history.versions import snapshot_tables
        from impactreport.history.views import VIEWED, views_series

        files = bracket_files(self.listing.files, spans, self.request.as_of_instant)
        versions = snapshot_tables(files, list(self.request.paths), [table for table, _, _ in VIEWED])
        self.version_notices.extend(line for line in versions.warnings if line not in self.version_notices)
        views = views_series(versions)
        if key:
            frames = {"views": views} if views.width else {}
            memo.save("views", key, list(dict.fromkeys(versions.warnings)), frames)
        return views

    def read_versions(self, notice: Notice) -> Versions:
        """The versioned tables of every snapshot (through their cache), as the store stood at
        ``--as-of``; read once per run."""
        if self.versions is None:
            from impactreport.history import load_versions
            from impactreport.history.versions import as_of as versions_as_of

            versions = load_versions(
                list(self.request.paths),
                self.version_notices.append,
                projects=list(self.request.projects) or None,
                listing=self.listing.files,
                reads=self.reads,
            )
            self.versions = versions_as_of(versions, self.request.as_of_instant)
            self.reads = []  # read once: no longer needed
        for line in self.version_notices:
            notice(line)
        return self.versions


# -- the steps of one period ----------------------------------------------------------------------------
def check_period(dataset: Dataset, period: Period, name: Callable[[str], str]) -> None:
    """A period entirely outside the data is a one-line error naming the option as typed.

    The data runs from its first post to its last post or, when later, the retrieval of its newest
    export counted (a quiet stretch before a retrieval is data: nothing happened then)."""
    if period.is_open:
        return
    first, last = data_span(dataset)
    if first is None or last is None:
        return
    retrieved = dataset.snapshots["retrieved"].drop_nulls()
    newest = retrieved.max() if retrieved.len() else None
    if isinstance(newest, datetime) and newest > last:
        last = newest
    runs = f"the data runs from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    if period.start is not None and period.since is not None and period.start > last:
        raise InputError(f"{name('since')} {period.since.isoformat()}: {runs}")
    if period.end is not None and period.until is not None and period.end <= first:
        raise InputError(f"{name('until')} {period.until.isoformat()}: {runs}")


def data_span(dataset: Dataset) -> tuple[datetime | None, datetime | None]:
    """The first and last publication time of any post or discussion."""
    span = pl.concat([dataset.posts.select("published"), dataset.threads.select("published")]).select(
        first=pl.col("published").min(), last=pl.col("published").max()
    )
    first, last = span.row(0)
    return first, last


def restrict(dataset: Dataset, period: Period) -> Dataset:
    """Texts posted in the period, and the discussions opened in it or commented on in it."""
    if period.is_open:
        return dataset
    in_period = period.contains("published")
    frames = {name: getattr(dataset, name) for name in TABLES}
    for name in ("comments", "notes", "documents", "posts"):
        frames[name] = frames[name].filter(in_period)
    active = frames["comments"].select("source", "project", "thread_id").unique()
    opened = frames["threads"].filter(in_period).select("source", "project", "thread_id")
    keep = pl.concat([active, opened]).unique()
    frames["threads"] = frames["threads"].join(
        keep, on=["source", "project", "thread_id"], how="semi", nulls_equal=True
    )
    return Dataset(
        **frames,
        text_basis=dataset.text_basis,
        usernames_known=dataset.usernames_known,
        warnings=dataset.warnings,
    )


def known_by_end(posts: pl.DataFrame, period: Period) -> pl.DataFrame:
    """The posts published before the period's end: what was known when it closed (a first response
    after the end does not count; first contributions are of all time up to then)."""
    return posts if period.end is None else posts.filter(pl.col("published") < period.end)


def statistics(scope: AnalysisScope | Dataset, request: Request) -> ImpactStats:
    """The impact sentence's numbers, per project and overall.

    ``scope`` is the period's dataset with what it was restricted from (:class:`AnalysisScope`):
    ``history``, every post before the period restriction (first contributions are of all time), and
    the ``period`` the dataset was restricted to. A bare dataset is its own history, in the request's
    period.
    """
    if not isinstance(scope, AnalysisScope):
        scope = AnalysisScope(scope, period=request.period)
    return summarise(
        scope.dataset,
        team=request.team,
        thresholds=request.thresholds,
        words_per_publication=request.words_per_publication,
        exclude_bots=not request.include_bots,
        history=scope.history,
        period=scope.period,
    )


def with_views_gained(
    stats: ImpactStats, views: pl.DataFrame | None, period: Period
) -> tuple[ImpactStats, str | None]:
    """``views`` per project, per source and overall as the views gained in the period, and a note
    naming each project's baseline snapshot.

    Where no snapshots bracket the period (:func:`impactreport.analyses.views.views_gained`: one
    retrieved on or before its first day and one on or before its last, per project) views cannot be
    counted for it: null everywhere, and the note says why. Open period: all-time views, no note.
    """
    if period.is_open:
        return stats, None
    if stats.overall.views is None and (views is None or views.is_empty()):
        return stats, None  # the data has no views at all (format A)
    from impactreport.analyses.views import views_gained

    gained = views_gained(views, period)
    if gained is None:
        return _with_views(stats, None), (
            f"views are not counted for {period.describe()}: no snapshots bracket it (one retrieved on or "
            "before its first day and one on or before its last, for every project)"
        )
    # a project whose items carry no views (mailing lists, format A) has none gained either: null, not 0
    counted = pl.when(pl.col("views").is_not_null().any()).then(pl.col("views").sum())
    per_project = {
        name: None if views is None else int(views)
        for name, views in gained.group_by("project").agg(counted).iter_rows()
    }
    return _with_views(stats, per_project), _baseline_note(gained, period)


def _with_views(stats: ImpactStats, per_project: dict[str, int | None] | None) -> ImpactStats:
    """The statistics with ``views`` replaced at every level by sums of ``per_project`` (None: null);
    a level none of whose projects has views gained is null, as the data's own views are."""

    def views_of(names: list[str]) -> int | None:
        if per_project is None:
            return None
        known = [views for name in names if (views := per_project.get(name)) is not None]
        return sum(known) if known else None

    def level(value: LevelStats, names: list[str]) -> LevelStats:
        return replace(value, views=views_of(names))

    projects = {name: level(value, [name]) for name, value in stats.projects.items()}
    sources = {
        source: level(value, [n for n in stats.projects if stats.project_sources.get(n) == source])
        for source, value in stats.sources.items()
    }
    overall = level(stats.overall, list(stats.projects))
    return replace(stats, overall=overall, projects=projects, sources=sources)


def _baseline_note(gained: pl.DataFrame, period: Period) -> str:
    """Which snapshots the views gained are measured between, naming each project's real baseline."""
    bounds = gained.group_by("project").agg(start=pl.col("views_from").max(), end=pl.col("views_to").max())
    starts = _days_by_project(bounds["start"].to_list())
    ends = _days_by_project(bounds["end"].to_list())
    if period.since is None:
        since = "the first view"
    elif len(starts) == 1:
        since = f"the snapshot of {next(iter(starts))}"
    elif len(starts) > 3:  # a store keeps a snapshot only when the export changed: many old days
        since = f"each project's last snapshot on or before {day_text(period.since)}"
    else:
        since = f"each project's last snapshot on or before {day_text(period.since)} ({_listing(starts)})"
    if len(ends) == 1:
        until = f"that of {next(iter(ends))}"
    else:
        last_day = day_text(period.until) if period.until else "the newest"
        until = f"each project's last snapshot on or before {last_day}"
    return f"views are the views gained in the period: from {since} to {until}"


def _days_by_project(days: list[Any], *, newest_first: bool = True) -> dict[str, int]:
    """How many projects each day (``1 Sep 2017``) stands for, in order of the days."""
    out: dict[str, int] = {}
    for day in sorted((d for d in days if d is not None), reverse=newest_first):
        out[day_text(day)] = out.get(day_text(day), 0) + 1
    return out


def _listing(days: dict[str, int]) -> str:
    """``1 Sep 2017 for 8 projects, 7 Sep 2017 for 1 project``."""
    return ", ".join(f"{day} for {labels.counted(count, 'project')}" for day, count in days.items())


def counted_note(counted: list[Counted], period: Period, as_of: date | None) -> str | None:
    """Which snapshot the numbers were counted from, when that is not simply the newest export."""
    if period.end is None:
        if as_of is None:
            return None
        when = _moments([e.retrieved for e in counted if e.retrieved is not None])
        return (
            f"counted as the data stood on {day_text(as_of)}: from the newest snapshot retrieved by then "
            f"({when})"
        )
    single = [entry.project for entry in counted if entry.snapshots == 1 and entry.after_moment]
    after = [entry.retrieved for entry in counted if entry.after_moment and entry.snapshots > 1]
    before = [entry for entry in counted if not entry.after_moment and entry.snapshots > 1]
    parts = []
    if after or before:
        text = "counted as the data stood at the period's end: "
        if after:
            text += f"each project's first snapshot retrieved after it ({_moments([t for t in after if t])})"
        if before:
            text += ", else " if after else ""
            text += (
                f"the newest snapshot, retrieved before the end ({labels.counted(len(before), 'project')})"
            )
        parts.append(text)
    if single:
        names = ", ".join(sorted(single, key=str.lower)[:4]) + (", …" if len(single) > 4 else "")
        have = "projects have" if len(single) != 1 else "project has"
        parts.append(
            f"{len(single)} {have} a single export ({names}): its text is the newest, so edits and "
            "deletions made after the period are included"
        )
    return "; ".join(parts) or None


def span_note(counted: list[Counted], dataset: Dataset, period: Period) -> str | None:
    """A note when the period runs past the end of the data, or starts before its first post."""
    if period.is_open:
        return None
    times = [entry.retrieved for entry in counted if entry.retrieved is not None]
    first, last = data_span(dataset)
    notes = []
    if period.until is not None:
        if times and max(times).date() <= period.until:
            notes.append(
                f"the period runs to {day_text(period.until)}, past the end of the data (the newest "
                f"snapshot was retrieved on {day_text(max(times))}): later activity is not in it"
            )
        elif not times and last is not None and last.date() < period.until:
            notes.append(
                f"the period runs to {day_text(period.until)}, past the data's last post "
                f"({day_text(last)}): the export may be older than the period's end"
            )
    if period.since is not None and first is not None and first.date() > period.since:
        notes.append(
            f"the period starts on {day_text(period.since)}, before the data's first post ({day_text(first)})"
        )
    return "; ".join(notes) or None


def _moments(times: list[datetime]) -> str:
    """The days snapshots were counted from, oldest first, with how many projects each."""
    return _listing(_days_by_project(list(times), newest_first=False))


# -- one period ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeriodNumbers:
    """What a period counts to: the statistics, the notes on how to read them, and whether the period
    holds nothing. What a comparison or award-year column shows, and what is kept for the period."""

    period: Period
    stats: ImpactStats
    notes: tuple[str, ...]
    empty: bool

    def to_json(self) -> dict[str, Any]:
        """What :mod:`impactreport.memo` keeps (the team comes from the request that asks again)."""
        return {
            "stats": self.stats.to_json(),
            "warnings": list(self.stats.warnings),
            "notes": list(self.notes),
            "empty": self.empty,
        }

    @classmethod
    def from_json(cls, period: Period, data: dict[str, Any], team: Team) -> PeriodNumbers:
        stats = ImpactStats.from_json(data["stats"], team, data["warnings"])
        return cls(period, stats, tuple(data["notes"]), bool(data["empty"]))


@dataclass(frozen=True)
class PeriodCount:
    """Everything counted for one period: its ``scope`` (the data as it stood at the period's end, the
    period's part of it, the posts known by its end), and its numbers (:class:`PeriodNumbers`)."""

    counted: tuple[Counted, ...]
    scope: AnalysisScope
    numbers: PeriodNumbers

    @property
    def period(self) -> Period:
        return self.numbers.period

    @property
    def stats(self) -> ImpactStats:
        return self.numbers.stats

    @property
    def notes(self) -> tuple[str, ...]:
        return self.numbers.notes

    @property
    def full(self) -> Dataset:
        """The data as it stood at the period's end, before the restriction."""
        return self.scope.unrestricted

    @property
    def dataset(self) -> Dataset:
        """The period's part of the data."""
        return self.scope.dataset


def _numbers_key(store: Store, request: Request, period: Period, views_from: str) -> str | None:
    """Everything a period's numbers depend on besides the store: the period, the people and every
    counting parameter, and where its views came from (``brackets``, ``series``, ``none``)."""
    return store.memo_key(
        "period",
        period=[period.since, period.until],
        team=list(request.team.entries),
        identities=asdict(request.identities),
        projects=list(request.projects),
        text_basis=request.text_basis,
        all_snapshots=request.all_snapshots,
        include_bots=request.include_bots,
        thresholds=list(request.thresholds),
        words_per_publication=request.words_per_publication,
        views_from=views_from,
    )


def _kept(key: str | None, period: Period, request: Request) -> PeriodNumbers | None:
    kept = memo.load("period", key) if key else None
    if kept is None:
        return None
    try:
        return PeriodNumbers.from_json(period, kept.meta, request.team)
    except (KeyError, TypeError, ValueError):  # another shape: count afresh
        return None


def count_period(
    store: Store,
    request: Request,
    period: Period,
    views: pl.DataFrame | None,
    on_file: Callable[[Any], None] | None = None,
    *,
    views_from: str = "none",
) -> PeriodCount:
    """The one way a period becomes numbers (the period asked for, the previous one, award years).

    ``views`` is the views series of the snapshots (None when the store has one snapshot per project),
    read as ``views_from`` says; ``request.team`` must already hold the identities' team accounts. The
    numbers are kept, and taken from what was kept for the same key (:func:`_numbers_key`).
    """
    key = _numbers_key(store, request, period, views_from)
    return _count(store, request, period, views, on_file, key, _kept(key, period, request))


def count_numbers(
    store: Store, request: Request, period: Period, views: pl.DataFrame | None, *, views_from: str = "none"
) -> PeriodNumbers:
    """A period's numbers (a comparison or award-year column): what was kept for it, else counted as
    :func:`count_period` counts (and kept), without loading its data when it was kept."""
    key = _numbers_key(store, request, period, views_from)
    kept = _kept(key, period, request)
    return kept if kept is not None else _count(store, request, period, views, None, key, None).numbers


def _count(
    store: Store,
    request: Request,
    period: Period,
    views: pl.DataFrame | None,
    on_file: Callable[[Any], None] | None,
    key: str | None,
    kept: PeriodNumbers | None,
) -> PeriodCount:
    """The period's scope, and its numbers: ``kept`` when given, else counted and kept under ``key``."""
    counted = store.counted(period)
    full = store.dataset(counted, on_file)
    times = dict(zip(full.snapshots["path"].to_list(), full.snapshots["retrieved"].to_list(), strict=True))
    counted = [entry.read_at(times.get(str(entry.file.path)), period.end) for entry in counted]
    scope = AnalysisScope(restrict(full, period), full, known_by_end(full.posts, period), period)
    numbers = kept
    if numbers is None:
        numbers = _numbers(scope, counted, request, period, views)
        if key and len(numbers.stats.projects) <= MEMO_PROJECTS:
            memo.save("period", key, numbers.to_json())
    return PeriodCount(tuple(counted), scope, numbers)


def _numbers(
    scope: AnalysisScope, counted: list[Counted], request: Request, period: Period, views: pl.DataFrame | None
) -> PeriodNumbers:
    """Count a period: the statistics of its scope, views gained, and the notes on how to read them."""
    stats = statistics(scope, request)
    if views is None and not period.is_open:
        views = pl.DataFrame()  # one snapshot per project: nothing brackets a closed period
    stats, views_note = with_views_gained(stats, views, period)
    full = scope.unrestricted
    notes = [
        note
        for note in (
            counted_note(counted, period, request.as_of),
            views_note,
            span_note(counted, full, period),
        )
        if note
    ]
    empty = scope.dataset.posts.height == 0 and scope.dataset.threads.height == 0
    return PeriodNumbers(period, stats, tuple(notes), empty)
