"""Fetch orchestration, in one place for every source: what a source is, ``--since``, the loop.

Why one module: Thinklab, the Thinklab archive, GitHub and Discourse differ only in how they get an
export. Holding the store's lock, choosing a full or incremental fetch, merging, saving atomically,
turning a failed project into one line while the others go on, and reporting progress are the same
for all four, so they are written once here (as Perceval keeps its backends' common loop) and the CLI
modules only declare options, print the outcome and draw the progress (:mod:`impactreport.cli.progress`,
through the :class:`SyncDisplay` protocol).

A source (:class:`Source`) names its store folder, lists its projects and yields each project's
:class:`Snapshot` s (one for a live fetch, every historical version for the archive). :func:`sync`
does the rest::

    with progress_display(err_console(), enabled=not quiet) as shown:  # impactreport.cli.progress
        run = sync(source, data_dir, since="auto", display=shown)
    run.results  # one ProjectResult per project: stored / unchanged / failed, rows, bytes, requests…
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from impactreport.errors import FetchError, InputError
from impactreport.fetch import mapping
from impactreport.fetch.http import WaitEvent
from impactreport.fetch.ratelimits import Reporter
from impactreport.fetch.store import (
    SaveResult,
    SnapshotStore,
    StoreWriteError,
    parse_retrieved,
    read_snapshot,
    store_lock,
)

__all__ = [
    "SAFETY_MARGIN",
    "ProjectResult",
    "Since",
    "Snapshot",
    "Source",
    "SyncDisplay",
    "SyncRun",
    "resolve_since",
    "sync",
]

#: Subtracted from the previous snapshot's ``retrieved`` for ``--since auto``: clocks differ, and an
#: item updated while the previous run was reading must be read again. Re-reading is harmless (merge by id).
SAFETY_MARGIN = timedelta(minutes=10)


# --- what a source gives ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """One export of one project, ready for the store.

    ``payload`` is the parsed export; a source that has the raw text (the archive) may give ``text``
    alone: the store then recognises an unchanged version without parsing it. ``retrieved`` is when the
    export was taken (None: when this project's fetch started). With ``own_date`` the export's own
    ``retrieved`` field dates it and ``retrieved`` is only the fallback. ``label`` names the version in
    a problem line; ``details`` are the source's own counts, copied into the project's result.
    """

    payload: dict[str, Any] | None = None
    text: bytes | None = None
    retrieved: datetime | None = None
    own_date: bool = False
    label: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Since:
    """What ``--since`` resolved to for one project: from when to fetch, and what to merge into."""

    moment: datetime | None = None  # None: fetch everything
    previous: dict[str, Any] | None = None  # the newest snapshot, merged into by an incremental fetch
    note: str = ""

    @property
    def mode(self) -> str:
        return "full" if self.moment is None else "incremental"

    def complete(
        self, parts: list[dict[str, list[mapping.Row]]], source: str, **extra: Any
    ) -> dict[str, Any]:
        """The whole export: ``parts`` alone (full fetch) or replacing their threads in the previous one."""
        if self.moment is None or self.previous is None:
            return mapping.assemble(parts, source, **extra)
        return mapping.merge(self.previous, parts, source, **extra)


class Source(Protocol):
    """A source of snapshots, as :func:`sync` drives it (Thinklab, archive, GitHub, Discourse)."""

    #: The store's source folder (``thinklab``, ``github``, ``discourse``).
    source: str
    #: Told of stages, progress, requests and waits; :func:`sync` points it at the progress display.
    reporter: Reporter

    @property
    def options(self) -> dict[str, Any] | None:
        """What was asked for, compared with the newest snapshot's by ``--since auto``.

        None: the source always fetches whole exports, so ``--since`` does not apply.
        """
        ...

    def projects(self) -> Sequence[str]:
        """The projects to fetch, in order (may ask the server, under the store lock)."""
        ...

    def fetch(self, project: str, since: Since) -> Iterable[Snapshot]:
        """The project's snapshots, oldest first; a :class:`FetchError` fails this project only."""
        ...


# --- --since -------------------------------------------------------------------------------------------


def resolve_since(option: str, previous: dict[str, Any] | None, options: dict[str, Any] | None) -> Since:
    """``--since auto|full|ISO-DATE`` and the newest snapshot → a :class:`Since`.

    ``auto`` is incremental when a previous snapshot exists that was fetched with the same options
    (``--include-pulls``, category), else full. An explicit date re-fetches what changed since then
    and needs a previous snapshot, fetched with the same options, to merge into.
    """
    value = option.strip().lower()
    if value == "full":
        return Since()
    if value == "auto":
        if previous is None:
            return Since(note="no earlier snapshot: full fetch")
        if previous.get("options") != options:
            return Since(note="earlier snapshot was fetched with other options: full fetch")
        retrieved = parse_retrieved(str(previous["retrieved"]))
        return Since(retrieved - SAFETY_MARGIN, previous)
    try:
        moment = datetime.fromisoformat(option.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since: {option!r} is not auto, full or an ISO date (2024-05-01 or 2024-05-01T12:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if previous is None:
        raise InputError(
            "--since DATE merges into the newest snapshot, and there is none yet: run with --since auto"
        )
    if previous.get("options") != options:
        raise InputError(
            "--since DATE: the newest snapshot was fetched with other options; run with --since full"
        )
    return Since(moment.astimezone(UTC), previous)


# --- the outcome ---------------------------------------------------------------------------------------


@dataclass
class ProjectResult:
    """One project's outcome: the closing table's row and the ``--json`` record."""

    project: str
    status: str = "unchanged"  # stored (at least one new file) | unchanged | failed
    mode: str = "full"
    since: datetime | None = None
    note: str = ""
    versions: int = 0  # snapshots the source gave
    stored: int = 0
    unchanged: int = 0
    invalid: int = 0  # versions that were not a JSON object (the archive's)
    rows: dict[str, int] = field(default_factory=dict)  # of the newest version
    bytes: int = 0  # size of the newest version's file (stored, or the equal one kept)
    bytes_written: int = 0
    file: Path | None = None
    first: str | None = None  # dates of the oldest and newest version
    last: str | None = None
    requests: int = 0
    waits: list[WaitEvent] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: The newest version's save while it is written in the background.
    newest: Future[SaveResult] | None = field(default=None, repr=False, compare=False)

    @property
    def waited_seconds(self) -> float:
        return sum(wait.seconds for wait in self.waits)


@dataclass
class SyncRun:
    """Every project's result, the problems met (versions that could not be read), the notes (a project
    stored in its existing folder of another case), and the time taken."""

    results: list[ProjectResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[ProjectResult]:
        return [item for item in self.results if item.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0, or :class:`FetchError`'s 1 when any project failed."""
        return FetchError.exit_code if self.failed else 0


# --- progress --------------------------------------------------------------------------------------------


class SyncDisplay(Protocol):
    """What :func:`sync` tells whoever draws its progress (the CLI's rich display,
    :class:`impactreport.cli.progress.Display`): a protocol here, so ``fetch`` never imports the CLI."""

    def attach(self, reporter: Reporter) -> None:
        """Point ``reporter``'s callbacks (stage, advance, waiting) at the display."""
        ...

    def projects(self, total: int) -> None:
        """How many projects the run holds."""
        ...

    def project_done(self, status: str) -> None:
        """One project finished (``stored``, ``unchanged`` or ``failed``)."""
        ...


class _Silent:
    """The display of a run no one watches (no ``display`` given): the reporter keeps its no-op callbacks."""

    def attach(self, reporter: Reporter) -> None:
        pass

    def projects(self, total: int) -> None:
        pass

    def project_done(self, status: str) -> None:
        pass


# --- the loop --------------------------------------------------------------------------------------------


def sync(
    source: Source,
    data_dir: str | Path,
    *,
    since: str = "auto",
    display: SyncDisplay | None = None,
    workers: int = 2,
) -> SyncRun:
    """Fetch every project of ``source`` into the store under ``data_dir``; one result per project.

    Holds the store lock throughout (a second run gets one line). For each project: resolve ``since``
    against its newest snapshot (sources with options only), fetch, and save each snapshot atomically
    (compressed and written by ``workers`` threads while the next one is fetched). A snapshot's
    ``retrieved`` defaults to when its project's fetch STARTED, so the next ``--since auto`` covers what
    changed while this one was reading. A :class:`FetchError` fails that project (its row says why) and
    the others go on; :class:`InputError` and a failed write stop the run.

    Every project's folder is located (:meth:`SnapshotStore.locate`) before anything is fetched: a
    symbolic link there stops the run at once, and a project typed in another case than its existing
    folder is stored there (its result and note name that folder). The first failed write stops the
    run with one line naming the file and the reason (:class:`StoreWriteError`), the store as it was.
    """
    shown = display if display is not None else _Silent()
    shown.attach(source.reporter)
    run = SyncRun()
    start = time.monotonic()
    pending: list[tuple[ProjectResult, Future[SaveResult]]] = []
    with store_lock(data_dir):
        store = SnapshotStore(Path(data_dir))
        projects = list(source.projects())
        located = [store.locate(source.source, project) for project in projects]
        run.notes.extend(place.note for place in located if place.note)
        shown.projects(len(projects))
        try:
            with store.background(workers):
                for project, place in zip(projects, located, strict=True):
                    item = _sync_one(source, store, project, place.name, since, run.problems, pending)
                    run.results.append(item)
                    shown.project_done(item.status)
                    store.check()  # a background write failed: stop before the next project
        except OSError as error:  # not named by the store (it names its own): still one line
            where = error.filename or data_dir
            raise FetchError(f"{where}: cannot write ({error.strerror or error})") from None
    for item, future in pending:  # written in the background: now the sizes are known
        saved = future.result()
        item.bytes_written += saved.bytes
        if item.newest is future:
            item.file, item.bytes, item.newest = saved.path, saved.bytes, None
    run.seconds = time.monotonic() - start
    return run


def _sync_one(
    source: Source,
    store: SnapshotStore,
    project: str,
    folder: str,
    since_option: str,
    problems: list[str],
    pending: list[tuple[ProjectResult, Future[SaveResult]]],
) -> ProjectResult:
    """Fetch ``project`` (as the source names it) into the store's ``folder`` for it."""
    item = ProjectResult(folder)
    reporter = source.reporter
    requests, waits = reporter.requests, len(reporter.waits)
    start = time.monotonic()
    try:
        since = Since()
        if source.options is not None:
            newest = store.newest(source.source, folder)
            previous = read_snapshot(newest) if newest is not None else None
            since = resolve_since(since_option, previous, source.options)
        item.mode, item.since, item.note = since.mode, since.moment, since.note
        started = datetime.now(UTC)
        last_text: str | None = None
        for snapshot in source.fetch(project, since):
            item.versions += 1
            item.details.update(snapshot.details)
            if snapshot.text is not None:
                key = store.digest(snapshot.text)
                if key == last_text:  # equal to the version before it, `retrieved` aside: no parsing
                    item.unchanged += 1
                    continue
                last_text = key
            _save(store, source.source, folder, snapshot, started, item, problems, pending)
    except StoreWriteError:
        raise  # the store cannot be written: no other project can be stored either
    except FetchError as error:
        item.status, item.error = "failed", str(error)
        if hasattr(error, "attempts"):  # an HttpFailure: how hard it tried
            item.details["attempts"] = error.attempts
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        item.status, item.error = "failed", malformed(source, error)
    else:
        item.status = "stored" if item.stored else "unchanged"
    item.requests = reporter.requests - requests
    item.waits = reporter.waits[waits:]
    item.seconds = time.monotonic() - start
    return item


def malformed(source: Source, error: Exception) -> str:
    """One line for a response whose JSON lacks a field or has another shape than the source's API
    documents (``{}`` for a listing, a topic without ``id``): the source, the URL last requested and
    the field, never a traceback. A source's own checks may name more; this is the floor."""
    http = getattr(source, "http", None)
    url = getattr(http, "last_url", None) or "its API"
    if isinstance(error, KeyError):
        what = f"missing field {error.args[0]!r}" if error.args else "a missing field"
    else:
        what = f"unexpected shape ({type(error).__name__}: {error})"
    return f"{source.source}: malformed response from {url}: {what}"


def _save(
    store: SnapshotStore,
    source: str,
    project: str,
    snapshot: Snapshot,
    started: datetime,
    item: ProjectResult,
    problems: list[str],
    pending: list[tuple[ProjectResult, Future[SaveResult]]],
) -> None:
    """Save one snapshot and count it in ``item`` (a version that is not an export is a problem line)."""
    text = snapshot.text
    if text is not None and snapshot.payload is None:
        shortcut = store.unchanged_text(source, project, text)
        if shortcut is not None:  # already stored (a re-run): no need to parse
            _count(item, shortcut)
            return
    payload = snapshot.payload
    if payload is None:
        try:
            payload = json.loads(text or b"")
        except ValueError as error:
            item.invalid += 1
            problems.append(f"{snapshot.label or project}: not valid JSON ({error})")
            return
        if not isinstance(payload, dict):
            item.invalid += 1
            problems.append(f"{snapshot.label or project}: not a JSON object")
            return
    retrieved = snapshot.retrieved or started
    own = payload.get("retrieved")
    if snapshot.own_date and isinstance(own, str):
        try:
            retrieved = parse_retrieved(own)
        except ValueError:
            problems.append(f"{snapshot.label or project}: unreadable retrieved {own!r}; using commit time")
    result = store.save_async(source, project, payload, retrieved=retrieved, text=text)
    if isinstance(result, Future):  # written in the background: path and size known at the end
        item.stored += 1
        item.rows, item.file, item.bytes, item.newest = _rows(payload), None, 0, result
        item.first = item.first or _day(retrieved)
        item.last = _day(retrieved)
        pending.append((item, result))
        return
    _count(item, result)


def _count(item: ProjectResult, result: SaveResult) -> None:
    if result.status == "stored":
        item.stored += 1
        item.bytes_written += result.bytes
    else:
        item.unchanged += 1
    item.rows, item.file, item.bytes, item.newest = result.rows, result.path, result.bytes, None
    item.first = item.first or _day(result.retrieved)
    item.last = _day(result.retrieved)


def _rows(payload: dict[str, Any]) -> dict[str, int]:
    return {key: len(value) for key, value in sorted(payload.items()) if isinstance(value, list)}


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")
