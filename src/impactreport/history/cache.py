"""The Parquet cache of the versioned tables, beside the snapshots it is derived from.

Layout (see ``docs/history.md``)::

    <folder>/.history/manifest.json            {"format": N, "polars": "1.x", "tables": {name: file}}
    <folder>/.history/<table>-<generation>.parquet
    <folder>/.history/.lock                    held (flock) by the run that writes

Why this shape: the cache is derived (deleting it loses nothing) and must never give wrong numbers.
A writer writes a new generation of files, then atomically replaces the small manifest naming them,
then removes older generations; a run killed at any point leaves either the old manifest (old files
intact) or the new one (new files complete). A reader that finds the manifest unreadable, of another
format version, or naming a missing or corrupt file rebuilds, with a one-line notice. Hidden folders
are never read as exports (:mod:`impactreport.load.snapshots`), so ``.history`` is invisible to them.

Staleness is decided per project from the snapshots table: when the cached files of a project are the
first of its current files, unchanged (path, size, modification time), only the later files are read;
any other difference rebuilds that project.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import polars as pl

from impactreport.history.versions import Versions, build_projects
from impactreport.load.read import TABLE_NAMES
from impactreport.load.snapshots import SnapshotFile, find

#: Bump when the layout or the meaning of a column changes: a cache of another version is rebuilt.
FORMAT_VERSION = 2  # 2: comments carry editor_id (every comment's hash changed)
CACHE_DIR = ".history"
MANIFEST = "manifest.json"
LOCK = ".lock"

Notice = Callable[[str], None]


#: Where the caches of read-only snapshot folders go (default: ``$XDG_CACHE_HOME/impactreport/history``).
CACHE_HOME_ENV = "IMPACTREPORT_CACHE_DIR"


def writable(folder: Path) -> bool:
    """Whether the cache may be written inside ``folder``.

    Why the mode bits as well as ``os.access``: as root every folder is writable, yet a folder whose
    owner removed every write bit (an archive kept read-only) must stay untouched.
    """
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def cache_home() -> Path:
    """The per-user folder holding the caches of read-only snapshot folders."""
    configured = os.environ.get(CACHE_HOME_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "impactreport" / "history"


def cache_dir(folder: Path) -> Path:
    """``<folder>/.history``, or for a read-only folder one per-user folder named by its path's hash
    (the cache is checked against the files' paths, sizes and times, so it cannot go stale unseen)."""
    if writable(folder):
        return folder / CACHE_DIR
    digest = hashlib.sha256(str(folder.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_home() / f"{folder.resolve().name}-{digest}"


def read_cache(folder: Path, notice: Notice) -> Versions | None:
    """The cached tables, or None (with a notice when a cache existed but cannot be trusted)."""
    where = cache_dir(folder)
    manifest_path = where / MANIFEST
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION or manifest.get("polars") != pl.__version__:
            notice(f"{where}: history cache of another format version: rebuilding it")
            return None
        names = manifest["tables"]
        snapshots = pl.read_parquet(where / names["snapshots"])
        tables = {name: pl.read_parquet(where / names[name]) for name in TABLE_NAMES}
    except Exception as error:  # any damage means: do not trust it, rebuild
        notice(f"{where}: history cache unreadable ({type(error).__name__}): rebuilding it")
        return None
    return Versions(snapshots, tables)


def write_cache(folder: Path, versions: Versions) -> None:
    """Write a new generation, swap the manifest atomically, remove older generations."""
    where = cache_dir(folder)
    where.mkdir(parents=True, exist_ok=True)
    generation = uuid.uuid4().hex[:12]
    names = {"snapshots": f"snapshots-{generation}.parquet"}
    names |= {name: f"{name}-{generation}.parquet" for name in TABLE_NAMES}
    versions.snapshots.write_parquet(where / names["snapshots"])
    for name in TABLE_NAMES:
        versions.tables[name].write_parquet(where / names[name])
    for name in names.values():
        _fsync(where / name)
    manifest = {"format": FORMAT_VERSION, "polars": pl.__version__, "tables": names}
    temporary = where / f".{MANIFEST}.{generation}"
    temporary.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    _fsync(temporary)
    os.replace(temporary, where / MANIFEST)
    keep = set(names.values())
    for stale in where.glob("*.parquet"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[bool]:
    """Hold the cache's write lock (True), or yield False when the folder cannot be written."""
    where = cache_dir(folder)
    try:
        where.mkdir(parents=True, exist_ok=True)
        handle = open(where / LOCK, "a+b")  # noqa: SIM115 - held for the with-block
    except OSError:
        yield False
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _signature(files: Sequence[SnapshotFile]) -> dict[tuple[str, str], list[tuple[str, int, int]]]:
    out: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    for file in files:
        info = file.path.stat()
        out.setdefault((file.source, file.project), []).append(
            (str(file.path.resolve()), info.st_size, info.st_mtime_ns)
        )
    return out


def _plan(
    cached: Versions, files: Sequence[SnapshotFile], notice: Notice, folder: Path
) -> tuple[list[SnapshotFile], set[tuple[str, str]], set[tuple[str, str]]]:
    """Files to read, projects extended from the cache, projects taken from it whole."""
    current = _signature(files)
    held: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    for source, project, path, size, mtime in (
        cached.snapshots.sort("seq").select("source", "project", "path", "size", "mtime_ns").iter_rows()
    ):
        held.setdefault((source, project), []).append((str(Path(path).resolve()), size, mtime))
    to_read: list[SnapshotFile] = []
    extended: set[tuple[str, str]] = set()
    whole: set[tuple[str, str]] = set()
    changed: list[str] = []
    for file in files:
        origin = (file.source, file.project)
        known = held.get(origin, [])
        now = current[origin]
        if known and now[: len(known)] == known:
            position = [entry[0] for entry in now].index(str(file.path.resolve()))
            if position >= len(known):
                to_read.append(file)
                extended.add(origin)
            elif len(now) == len(known):
                whole.add(origin)
        else:
            if known and origin not in {(f.source, f.project) for f in to_read}:
                changed.append(file.project)
            to_read.append(file)
    if changed:
        notice(
            f"{cache_dir(folder)}: snapshots of {', '.join(sorted(set(changed)))} changed: "
            "rebuilding their history"
        )
    return to_read, extended, whole


def _select(versions: Versions, origins: set[tuple[str, str]]) -> Versions:
    frame = pl.DataFrame(
        {"source": [o[0] for o in origins], "project": [o[1] for o in origins]},
        schema={"source": pl.String, "project": pl.String},
    )

    def keep(table: pl.DataFrame) -> pl.DataFrame:
        return table.join(frame, on=["source", "project"], how="semi") if table.height else table

    return Versions(keep(versions.snapshots), {n: keep(t) for n, t in versions.tables.items()})


def _merge(parts: Sequence[Versions]) -> Versions:
    snapshots = pl.concat([p.snapshots for p in parts])
    tables = {
        name: pl.concat([p.tables[name] for p in parts if p.tables[name].height], how="diagonal_relaxed")
        if any(p.tables[name].height for p in parts)
        else pl.DataFrame()
        for name in TABLE_NAMES
    }
    return Versions(snapshots, tables, [w for p in parts for w in p.warnings])


def folder_versions(
    folder: Path, notice: Notice, *, projects: Sequence[str] | None = None, threads: int | None = None
) -> Versions:
    """Versioned tables of every snapshot under ``folder``, through its cache (built or updated)."""
    files = find([folder], all_snapshots=True).files
    if projects:
        files = [f for f in files if f.project in set(projects)]
    with _locked(folder) as writable:
        cached = read_cache(folder, notice) or Versions.empty()
        to_read, extended, whole = _plan(cached, files, notice, folder)
        if not to_read:
            return _select(cached, whole)
        built = build_projects(to_read, [folder], _select(cached, extended), threads=threads)
        result = _merge([_select(cached, whole), built])
        if writable:
            others = cached.projects() - result.projects()
            others -= {(f.source, f.project) for f in to_read}
            try:
                write_cache(folder, _merge([_select(cached, others), result]))
            except OSError as error:
                notice(f"{cache_dir(folder)}: history cache not written ({error.strerror})")
        return result


def load_versions(
    paths: Sequence[str | Path],
    notice: Notice,
    *,
    projects: Sequence[str] | None = None,
    threads: int | None = None,
) -> Versions:
    """Versioned tables of every snapshot under ``paths``: folders through their cache, files read."""
    parts: list[Versions] = []
    loose: list[SnapshotFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            parts.append(folder_versions(path, notice, projects=projects, threads=threads))
        else:
            loose.extend(
                f for f in find([path], all_snapshots=True).files if not projects or f.project in projects
            )
    if loose:
        loose.sort(key=lambda f: (f.source, f.project.lower(), f.project, f.order))
        parts.append(build_projects(loose, list(paths), threads=threads))
    return _merge(parts) if parts else Versions.empty()
