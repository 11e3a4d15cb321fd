"""The Parquet cache of the versioned tables, in the user's cache folder, never in the data read.

Layout (see ``docs/history.md``), ``<cache>`` being ``<home>/history/<folder name>-<hash>``::

    <cache>/manifest.json                {"format": N, "polars": "1.x", "tables": {name: file},
                                          "sha256": {name: sha256 of that file}}
    <cache>/<table>-<generation>.parquet
    <cache>/.lock                        held (flock) by the run that writes

``<home>`` is ``$IMPACTREPORT_CACHE_DIR`` (``--cache-dir`` sets it for one command), else
``$XDG_CACHE_HOME/impactreport``, else ``~/.cache/impactreport``; ``<hash>`` is of the snapshot folder's
resolved path. Why never beside the snapshots: a read command (``summary``, ``figures``, ``render``)
must leave the data folders it reads exactly as it found them (archives, folders committed to git,
folders shared read-only), whether or not it could write there. What a cache holds is checked per
project against each file's path, size, modification time, inode change time and inode number (the
last two no hand edit can restore), so it never stands for other files; each cache file is checked
against the sha256 the manifest records for it, so an edited cache is rebuilt, never trusted.

Why this shape: the cache is derived (deleting it loses nothing) and must never give wrong numbers.
A writer writes a new generation of files, then atomically replaces the small manifest naming them,
then removes older generations; a run killed at any point leaves either the old manifest (old files
intact) or the new one (new files complete). A reader that finds the manifest unreadable, of another
format version, or naming a missing or corrupt file rebuilds, with a one-line notice.

The cache folder is ours alone: created with mode 0o700 (so are the folders above it that we create),
and not used at all (one notice, the tables built without it) when it is a symbolic link or belongs to
another user. Every file in it is opened relative to the folder's descriptor without following links,
and only names of our own pattern (``<table>-<12 hex>.parquet``, the manifest, its temporary
``.manifest.json.<12 hex>``, ``.lock``) are ever written or removed. ``.history`` folders that older
versions wrote inside data folders are neither read nor removed.

Staleness is decided per project from the snapshots table: when the cached files of a project are the
first of its current files, unchanged (path, size, times, inode), only the later files are read;
any other difference rebuilds that project.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from impactreport.cache_home import cache_home, private_folders
from impactreport.files import (
    FOLDER_FLAGS,
    LinkRefused,
    SpecialFileRefused,
    atomic_file_at,
    open_file,
    refuse_if_link,
    take_lock,
    write_all,
)
from impactreport.history.versions import Versions, build_projects
from impactreport.layout import TABLE_NAMES
from impactreport.load.rows import Loaded
from impactreport.snapshots import SnapshotFile, by_retrieval, file_signature, find

#: Bump when the layout or the meaning of a column changes: a cache of another version is rebuilt.
FORMAT_VERSION = 3  # 2: comments carry editor_id; 3: files' ctime and inode, cache files' sha256
HISTORY_DIR = "history"
MANIFEST = "manifest.json"
LOCK = ".lock"
#: Files of one generation, and the manifest's temporary file: the only names a writer removes.
GENERATION_FILE = re.compile(r"^(?:snapshots|" + "|".join(TABLE_NAMES) + r")-[0-9a-f]{12}\.parquet\Z")
#: (the name without ``tmp-``: left by versions before the one atomic writer)
MANIFEST_TEMPORARY = re.compile(r"^\.manifest\.json\.(?:tmp-)?[0-9a-f]{12}\Z")
#: Characters of the snapshot folder's name kept in its cache folder's name (the hash tells them apart).
NAME_PART = 40

Notice = Callable[[str], None]


def cache_dir(folder: Path) -> Path:
    """The history cache of the snapshot folder ``folder``: one folder per resolved path, named by the
    folder's name (for people listing it) and a hash of that path (what tells two folders apart)."""
    resolved = folder.resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", resolved.name)[:NAME_PART].lstrip(".")
    return cache_home() / HISTORY_DIR / f"{name or 'root'}-{digest}"


class CacheRefused(OSError):
    """The cache folder is not ours to use (a symbolic link, another user's folder)."""


@dataclass(frozen=True)
class _Cache:
    """An open cache folder: ``where`` (shown in notices), its descriptor, and whether we hold its lock."""

    where: Path
    fd: int
    locked: bool


def _open_cache(where: Path) -> int:
    """A descriptor of the cache folder ``where``, created (0o700) when missing.

    Raises :class:`CacheRefused` for a symbolic link or a folder of another user, OSError otherwise.
    """
    private_folders(where.parent)
    parent = os.open(where.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(where.name, 0o700, dir_fd=parent)
        try:
            fd = os.open(where.name, FOLDER_FLAGS, dir_fd=parent)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                try:
                    refuse_if_link(parent, where.name, where)
                except LinkRefused as refused:
                    raise CacheRefused(str(refused)) from None
            raise
    finally:
        os.close(parent)
    owner = os.fstat(fd).st_uid
    if owner != os.geteuid():
        os.close(fd)
        raise CacheRefused(f"{where} belongs to another user (uid {owner}): not using it")
    return fd


@contextlib.contextmanager
def _opened(folder: Path, notice: Notice) -> Iterator[_Cache | None]:
    """The cache of ``folder``, its write lock held when it can be taken; None (with a notice) when the
    cache folder cannot be used at all, so the tables are built without it."""
    where = cache_dir(folder)
    try:
        fd = _open_cache(where)
    except CacheRefused as error:
        notice(f"history cache not used: {error}")
        yield None
        return
    except OSError as error:
        notice(f"{where}: history cache not used ({error.strerror or error})")
        yield None
        return
    try:
        try:
            lock = open_file(fd, LOCK, os.O_RDWR | os.O_CREAT, where / LOCK, 0o600)
        except (OSError, LinkRefused):  # a read-only cache folder: read it, never write it
            yield _Cache(where, fd, locked=False)
            return
        try:
            take_lock(lock, wait=True)
            yield _Cache(where, fd, locked=True)
        finally:
            os.close(lock)  # closing releases the lock
    finally:
        os.close(fd)


def _open_read(cache: _Cache, name: str) -> int:
    return open_file(cache.fd, name, os.O_RDONLY, cache.where / name)


def _read_parquet(cache: _Cache, name: object, digest: object) -> pl.DataFrame:
    """A table file the manifest names, checked against the sha256 the manifest holds for it (a cache
    edited by hand is rebuilt, never trusted); a name not of our pattern is damage (never a path to
    follow)."""
    if not isinstance(name, str) or not GENERATION_FILE.match(name):
        raise ValueError(f"unexpected file name {name!r}")
    with os.fdopen(_open_read(cache, name), "rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"{name}: content differs from the sha256 the manifest holds")
    return pl.read_parquet(io.BytesIO(data))


def read_cache(cache: _Cache, notice: Notice) -> Versions | None:
    """The cached tables, or None (with a notice when a cache existed but cannot be trusted)."""
    where = cache.where
    try:
        fd = _open_read(cache, MANIFEST)
    except FileNotFoundError:
        return None
    except (OSError, LinkRefused, SpecialFileRefused) as error:
        notice(f"{where}: history cache unreadable ({type(error).__name__}): rebuilding it")
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
        if manifest.get("format") != FORMAT_VERSION or manifest.get("polars") != pl.__version__:
            notice(f"{where}: history cache of another format version: rebuilding it")
            return None
        names, digests = manifest["tables"], manifest["sha256"]
        snapshots = _read_parquet(cache, names["snapshots"], digests["snapshots"])
        tables = {name: _read_parquet(cache, names[name], digests[name]) for name in TABLE_NAMES}
    except Exception as error:  # any damage means: do not trust it, rebuild
        why = str(error) if "sha256" in str(error) else type(error).__name__
        notice(f"{where}: history cache unreadable ({why}): rebuilding it")
        return None
    return Versions(snapshots, tables)


def _write_new(cache: _Cache, name: str, data: bytes) -> str:
    """Create ``name`` (ours, new: ``O_EXCL``, no link followed, mode 0o600), fill it, fsync it; the
    sha256 of what was written."""
    fd = open_file(cache.fd, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, cache.where / name, 0o600)
    with os.fdopen(fd, "wb") as handle:
        write_all(handle.fileno(), data)
        os.fsync(handle.fileno())
    return hashlib.sha256(data).hexdigest()


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def write_cache(cache: _Cache, versions: Versions) -> None:
    """Write a new generation, swap the manifest atomically, remove older generations (only files of
    our own naming pattern)."""
    generation = uuid.uuid4().hex[:12]
    names = {"snapshots": f"snapshots-{generation}.parquet"}
    names |= {name: f"{name}-{generation}.parquet" for name in TABLE_NAMES}
    try:
        digests = {"snapshots": _write_new(cache, names["snapshots"], _parquet_bytes(versions.snapshots))}
        for name in TABLE_NAMES:
            digests[name] = _write_new(cache, names[name], _parquet_bytes(versions.tables[name]))
        manifest = {"format": FORMAT_VERSION, "polars": pl.__version__, "tables": names, "sha256": digests}
        with atomic_file_at(cache.fd, MANIFEST, cache.where / MANIFEST, mode=0o600, durable=True) as file:
            file.write(json.dumps(manifest, indent=1).encode("utf-8"))
    except BaseException:  # a full disk, a kill: this generation's files go, the old one stays whole
        for name in names.values():
            with contextlib.suppress(OSError):
                _unlink_own(cache, name)
        raise
    os.fsync(cache.fd)
    keep = set(names.values())
    for stale in os.listdir(cache.fd):
        if (GENERATION_FILE.match(stale) and stale not in keep) or MANIFEST_TEMPORARY.match(stale):
            with contextlib.suppress(FileNotFoundError):
                _unlink_own(cache, stale)


def _unlink_own(cache: _Cache, name: str) -> None:
    """Remove ``name`` when it is a regular file (a link or folder planted under our name stays)."""
    if stat.S_ISREG(os.stat(name, dir_fd=cache.fd, follow_symlinks=False).st_mode):
        os.unlink(name, dir_fd=cache.fd)


class _Resolver:
    """Resolved paths of the files of one listing, at the cost of one ``resolve`` per folder.

    Why: the cache compares each file's resolved path, size and time with what it holds, and a
    ``Path.resolve`` per file (thousands per run) was a third of a warm run. A path under a folder
    already resolved is that folder's resolved path joined with the rest (a scan never follows a
    link below the folder it walks); any other path is resolved in full."""

    def __init__(self) -> None:
        self.folders: dict[str, str] = {}

    def __call__(self, path: str | Path) -> str:
        text = str(path)
        parent, _, name = text.rpartition(os.sep)
        if not parent:
            return str(Path(text).resolve())
        if parent not in self.folders:
            self.folders[parent] = str(Path(parent).resolve())
        return self.folders[parent] + os.sep + name


Signature = tuple[str, int, int, int, int]


def _signature(files: Sequence[SnapshotFile], resolved: _Resolver) -> dict[tuple[str, str], list[Signature]]:
    out: dict[tuple[str, str], list[Signature]] = {}
    for file in files:
        out.setdefault((file.source, file.project), []).append(
            (resolved(file.path), *file_signature(file.path))
        )
    return out


def _plan(
    cached: Versions, files: Sequence[SnapshotFile], notice: Notice, where: Path
) -> tuple[list[SnapshotFile], set[tuple[str, str]], set[tuple[str, str]]]:
    """Files to read, projects extended from the cache, projects taken from it whole."""
    if cached.snapshots.height == 0:  # nothing cached: every file is read (no signature to compare)
        return list(files), set(), set()
    resolved = _Resolver()
    current = _signature(files, resolved)
    held: dict[tuple[str, str], list[Signature]] = {}
    columns = ("source", "project", "path", "size", "mtime_ns", "ctime_ns", "inode")
    for source, project, path, *stat_values in cached.snapshots.sort("seq").select(columns).iter_rows():
        held.setdefault((source, project), []).append((resolved(path), *stat_values))
    to_read: list[SnapshotFile] = []
    extended: set[tuple[str, str]] = set()
    whole: set[tuple[str, str]] = set()
    changed: list[str] = []
    positions: dict[tuple[str, str], int] = {}
    for file in files:
        origin = (file.source, file.project)
        position = positions[origin] = positions.get(origin, -1) + 1  # files of a project in order
        known = held.get(origin, [])
        now = current[origin]
        if known and now[: len(known)] == known:
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
        notice(f"{where}: snapshots of {', '.join(sorted(set(changed)))} changed: rebuilding their history")
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
    """Versioned tables of every snapshot under ``folder``, through its cache (built or updated).

    Nothing is written under ``folder``: the cache lives in :func:`cache_dir`.
    """
    files = find([folder], all_snapshots=True).files
    if projects:
        files = [f for f in files if f.project in set(projects)]
    return _through_cache(folder, files, notice, threads)


def _through_cache(
    folder: Path,
    files: Sequence[SnapshotFile],
    notice: Notice,
    threads: int | None,
    reads: Sequence[Loaded] = (),
) -> Versions:
    """Versioned tables of ``files`` (found under ``folder``, each project's oldest first), reading only
    what the folder's cache does not hold (and not what the run read before: ``reads``), and updating
    the cache."""
    with _opened(folder, notice) as cache:
        cached = (read_cache(cache, notice) if cache else None) or Versions.empty()
        where = cache.where if cache else cache_dir(folder)
        to_read, extended, whole = _plan(cached, files, notice, where)
        if not to_read:
            return _select(cached, whole)
        built = build_projects(to_read, [folder], _select(cached, extended), threads=threads, reads=reads)
        result = _merge([_select(cached, whole), built])
        if cache and cache.locked:
            others = cached.projects() - result.projects()
            others -= {(f.source, f.project) for f in to_read}
            try:
                write_cache(cache, _merge([_select(cached, others), result]))
            except OSError as error:
                notice(f"{where}: history cache not written ({error.strerror or error})")
        return result


def _under(listing: Sequence[SnapshotFile], path: Path) -> list[SnapshotFile]:
    """The files of ``listing`` that ``path`` names or holds (in the listing's order)."""
    if not path.is_dir():
        return [f for f in listing if f.path == path]
    prefix = str(path).rstrip(os.sep) + os.sep
    return [f for f in listing if str(f.path).startswith(prefix)]


def load_versions(
    paths: Sequence[str | Path],
    notice: Notice,
    *,
    projects: Sequence[str] | None = None,
    threads: int | None = None,
    listing: Sequence[SnapshotFile] | None = None,
    reads: Sequence[Loaded] = (),
) -> Versions:
    """Versioned tables of every snapshot under ``paths``: folders through their cache, files read.

    ``listing``: every snapshot file under ``paths``, as the run already listed them (one listing per
    run); without it each path is listed here. ``reads``: files the run already read, with their rows
    (:func:`~impactreport.load.dataset.load_dataset`), not read again.

    A project with files under more than one of ``paths`` (the same project in two folders, or in a
    folder and a file) is read from all of them in one series, oldest first by each file's own
    retrieval time (:func:`~impactreport.snapshots.by_retrieval`), and without a cache: a folder's
    cache holds only what that folder alone says, and two series of one project would count it twice.
    """
    found: list[tuple[Path, list[SnapshotFile]]] = []
    for raw in paths:
        path = Path(raw)
        files = find([path], all_snapshots=True).files if listing is None else _under(listing, path)
        found.append((path, [f for f in files if not projects or f.project in projects]))
    places: dict[tuple[str, str], set[int]] = {}
    for index, (_, files) in enumerate(found):
        for file in files:
            places.setdefault((file.source, file.project), set()).add(index)
    shared = {origin for origin, where in places.items() if len(where) > 1}
    parts: list[Versions] = []
    loose: dict[Path, SnapshotFile] = {}  # by resolved path: a file named and found in a folder is one
    for path, files in found:
        alone = [f for f in files if (f.source, f.project) not in shared]
        if path.is_dir() and alone:
            parts.append(_through_cache(path, alone, notice, threads, reads))
        for file in files:
            if not path.is_dir() or (file.source, file.project) in shared:
                loose.setdefault(file.path.resolve(), file)
    if loose:
        parts.append(
            build_projects(by_retrieval(list(loose.values())), list(paths), threads=threads, reads=reads)
        )
    return _merge(parts) if parts else Versions.empty()
