"""The snapshot store every source writes to: dated, atomic, deduplicated, append-only.

Why: exports are retrieved daily and views over time need every distinct version, while a killed or
concurrent run must never leave a partial file or touch an earlier one.

Layout (read by :mod:`impactreport.load.snapshots`)::

    DIR/exports/<source>/<project>/<retrieved UTC as YYYY-MM-DDTHHMMSSZ>.json.gz
    DIR/exports/manifest.jsonl      one JSON line per stored file (append-only)
    DIR/exports/.lock               held (flock) by the run that writes

A snapshot is the export plus ``retrieved`` (ISO UTC with microseconds and ``Z``), serialised with sorted
keys, indent 2, non-ASCII kept, gzip with a fixed mtime (equal content → equal bytes). It is written to a
hidden temporary file in the same folder (``.<name>.tmp-<random>``, ignored by the loader), fsynced,
renamed into place and the folder fsynced. If the content equals the snapshot just before it in time
(``retrieved`` ignored), nothing is written and the result says "unchanged".

Use::

    from impactreport.fetch.store import SnapshotStore, store_lock, save_snapshot

    with store_lock(data_dir):                      # a second concurrent run gets StoreLocked (one line)
        result = save_snapshot(data_dir, "github", "owner/repo", payload)
        result.status, result.path, result.sha256, result.bytes, result.rows

For many saves in one run (the archive import) keep one :class:`SnapshotStore` (it caches the index).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import threading
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from impactreport.errors import FetchError, InputError

__all__ = [
    "SaveResult",
    "SnapshotStore",
    "StoreLocked",
    "format_retrieved",
    "newest_snapshot",
    "parse_retrieved",
    "read_snapshot",
    "save_snapshot",
    "store_lock",
]

STAMP_FORMAT = "%Y-%m-%dT%H%M%SZ"
STAMP_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}Z)\.json\.gz$")
TEMP_NAME = re.compile(r"^\..+\.tmp-[0-9a-f]+$")
#: Characters allowed in a source or project folder name ("owner/repo" becomes "owner__repo").
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


class StoreLocked(FetchError):
    """Another run holds the store's lock."""


@dataclass(frozen=True)
class SaveResult:
    """What happened to one export: a new file ("stored") or none ("unchanged", ``path`` = the equal one)."""

    status: Literal["stored", "unchanged"]
    path: Path
    sha256: str
    bytes: int
    rows: dict[str, int]
    retrieved: datetime


def format_retrieved(moment: datetime) -> str:
    """``2017-09-09T23:29:39.378903Z``: the form Thinklab's retrieving script wrote."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_retrieved(text: str) -> datetime:
    """An ISO 8601 time (``Z`` or offset; naive means UTC) as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def stamp_name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT) + ".json.gz"


def row_counts(payload: dict[str, Any]) -> dict[str, int]:
    """Rows per table: every top-level list."""
    return {key: len(value) for key, value in sorted(payload.items()) if isinstance(value, list)}


def serialise(payload: dict[str, Any], retrieved: str) -> tuple[bytes, str]:
    """The snapshot's JSON bytes and its content hash (the same bytes without the ``retrieved`` line).

    Keys are sorted, so the ``retrieved`` line sits at the same place whatever its value: removing it
    gives equal text exactly when the rest of the content is equal.
    """
    document = dict(payload)
    document["retrieved"] = retrieved
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
    line = f'\n  "retrieved": {json.dumps(retrieved)}'
    index = text.index(line)
    content = text[:index] + text[index + len(line) :]
    return text.encode("utf-8"), hashlib.sha256(content.encode("utf-8")).hexdigest()


def content_hash(payload: dict[str, Any]) -> str:
    """The content hash of an export, ``retrieved`` ignored (equal to :func:`serialise`'s)."""
    return serialise(payload, "")[1]


def compress(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name: the same content always gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=6) as stream:
        stream.write(data)
    return buffer.getvalue()


def read_snapshot(path: Path) -> dict[str, Any]:
    """A stored snapshot as a dict (raises InputError naming the file if it is not gzip JSON)."""
    try:
        with gzip.open(path, "rb") as stream:
            data = json.loads(stream.read())
    except (OSError, EOFError, ValueError) as error:
        raise InputError(f"{path}: not a readable snapshot ({error})") from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: a snapshot must be a JSON object")
    return data


def safe_component(name: str) -> str:
    """A source/project name as one folder name (``/`` → ``__``); refuse anything else odd."""
    folder = name.replace("/", "__")
    if not SAFE_NAME.match(folder) or folder in {".", ".."}:
        raise InputError(f"{name!r}: not usable as a folder name in the snapshot store")
    return folder


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkdirs(path: Path) -> None:
    """Create folders and fsync each new one's parent, so a crash cannot lose the folder entry."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        _fsync_dir(folder.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a new file in one step: hidden temp file, fsync, link into place, fsync the folder.

    ``os.link`` (not ``os.replace``) so an existing file is never replaced: a name collision raises
    FileExistsError instead of silently overwriting a snapshot.
    """
    temp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    finally:
        temp.unlink()
    _fsync_dir(path.parent)


def append_line(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line with a single write and fsync (O_APPEND: concurrent lines never interleave)."""
    line = (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the lock ---------------------------------------------------------------------------------------

_held: dict[Path, int] = {}
_held_guard = threading.Lock()


def clean_temp_files(exports: Path) -> list[Path]:
    """Remove temporary files left by a killed run (only call while holding the lock)."""
    removed = []
    if not exports.is_dir():
        return removed
    for path in exports.rglob(".*.tmp-*"):
        if TEMP_NAME.match(path.name) and path.is_file():
            path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def store_lock(data_dir: str | Path) -> Iterator[Path]:
    """Hold ``DIR/exports/.lock`` for the duration (re-entrant within a process); yields DIR/exports.

    A second run at the same time gets :class:`StoreLocked` with one line naming the holder. The kernel
    drops the lock when the holder dies, even by SIGKILL; temporary files it left are removed here.
    """
    exports = Path(data_dir).resolve() / "exports"
    with _held_guard:
        if exports in _held:
            _held[exports] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield exports
        finally:
            with _held_guard:
                _held[exports] -= 1
        return
    _mkdirs(exports)
    lock_path = exports / ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise StoreLocked(
            f"{exports} is being written by another fetch ({holder}); try again when it has finished"
        ) from None
    try:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {stamp}\n".encode(), 0)
        clean_temp_files(exports)
        with _held_guard:
            _held[exports] = 1
        yield exports
    finally:
        with _held_guard:
            _held.pop(exports, None)
        os.close(fd)  # closing releases the flock


# --- the store --------------------------------------------------------------------------------------


@dataclass
class _Entry:
    stamp: str
    content: str | None  # content hash, None until needed


@dataclass
class SnapshotStore:
    """The snapshots under ``DIR/exports``, with a per-project index of (stamp, content hash).

    Content hashes come from the manifest (written with each file) and are computed from the file only
    for a snapshot the manifest does not list (e.g. a run killed between rename and manifest line).
    """

    data_dir: Path
    _index: dict[tuple[str, str], list[_Entry]] = field(default_factory=dict, init=False)
    _manifest: dict[str, str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)

    @property
    def exports(self) -> Path:
        return self.data_dir / "exports"

    @property
    def manifest_path(self) -> Path:
        return self.exports / "manifest.jsonl"

    def folder(self, source: str, project: str) -> Path:
        return self.exports / safe_component(source) / safe_component(project)

    def _manifest_hashes(self) -> dict[str, str]:
        """file (relative to DIR) → content hash, from the manifest; unreadable lines are skipped."""
        if self._manifest is None:
            self._manifest = {}
            if self.manifest_path.is_file():
                with self.manifest_path.open("rb") as stream:
                    for raw in stream:
                        try:
                            row = json.loads(raw)
                            self._manifest[row["file"]] = row["content_sha256"]
                        except (ValueError, KeyError, TypeError):
                            continue  # a line cut short by a crash, or from an older version
        return self._manifest

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.data_dir).as_posix()

    def _entries(self, source: str, project: str) -> list[_Entry]:
        key = (source, project)
        if key not in self._index:
            folder = self.folder(source, project)
            names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            known = self._manifest_hashes()
            entries = []
            for name in names:
                match = STAMP_NAME.match(name)
                if match:
                    relative = self._relative(folder / name)
                    entries.append(_Entry(match.group(1), known.get(relative)))
            self._index[key] = entries
        return self._index[key]

    def _content(self, source: str, project: str, entry: _Entry) -> str:
        if entry.content is None:
            payload = read_snapshot(self.folder(source, project) / f"{entry.stamp}.json.gz")
            payload.pop("retrieved", None)
            entry.content = content_hash(payload)
        return entry.content

    def newest(self, source: str, project: str) -> Path | None:
        entries = self._entries(source, project)
        return self.folder(source, project) / f"{entries[-1].stamp}.json.gz" if entries else None

    def save(
        self,
        source: str,
        project: str,
        payload: dict[str, Any],
        *,
        retrieved: datetime | None = None,
    ) -> SaveResult:
        """Store ``payload`` as of ``retrieved`` (default now) unless it equals the snapshot before it."""
        with store_lock(self.data_dir):
            return self._save(source, project, payload, retrieved)

    def _save(
        self, source: str, project: str, payload: dict[str, Any], retrieved: datetime | None
    ) -> SaveResult:
        moment = (retrieved or datetime.now(UTC)).astimezone(UTC)
        iso = format_retrieved(moment)
        body = {key: value for key, value in payload.items() if key != "retrieved"}
        data, content = serialise(body, iso)
        rows = row_counts(body)
        folder = self.folder(source, project)
        entries = self._entries(source, project)
        stamps = [entry.stamp for entry in entries]
        stamp = moment.strftime(STAMP_FORMAT)
        before = bisect_right(stamps, stamp)
        if before and self._content(source, project, entries[before - 1]) == content:
            return self._unchanged(folder / f"{entries[before - 1].stamp}.json.gz", rows, moment)
        packed = compress(data)
        _mkdirs(folder)
        while True:  # a taken name: equal content is "unchanged", else move on by a second
            path = folder / f"{stamp}.json.gz"
            try:
                write_atomic(path, packed)
                break
            except FileExistsError:
                entry = next((e for e in entries if e.stamp == stamp), None) or _Entry(stamp, None)
                if self._content(source, project, entry) == content:
                    return self._unchanged(path, rows, moment)
                bumped = datetime.strptime(stamp, STAMP_FORMAT) + timedelta(seconds=1)
                stamp = bumped.strftime(STAMP_FORMAT)
        digest = hashlib.sha256(packed).hexdigest()
        relative = self._relative(path)
        append_line(
            self.manifest_path,
            {
                "source": source,
                "project": project,
                "file": relative,
                "retrieved": iso,
                "sha256": digest,
                "bytes": len(packed),
                "rows": rows,
                "content_sha256": content,
            },
        )
        self._manifest_hashes()[relative] = content
        position = bisect_right([e.stamp for e in entries], stamp)
        entries.insert(position, _Entry(stamp, content))
        return SaveResult("stored", path, digest, len(packed), rows, moment)

    def _unchanged(self, path: Path, rows: dict[str, int], moment: datetime) -> SaveResult:
        packed = path.read_bytes()
        return SaveResult("unchanged", path, hashlib.sha256(packed).hexdigest(), len(packed), rows, moment)


def save_snapshot(
    data_dir: str | Path,
    source: str,
    project: str,
    payload: dict[str, Any],
    *,
    retrieved: datetime | None = None,
) -> SaveResult:
    """Store one export (see the module docstring); takes the store lock if this process does not hold it."""
    return SnapshotStore(Path(data_dir)).save(source, project, payload, retrieved=retrieved)


def newest_snapshot(data_dir: str | Path, source: str, project: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest stored snapshot of a project and its content, or None if there is none."""
    path = SnapshotStore(Path(data_dir)).newest(source, project)
    return (path, read_snapshot(path)) if path is not None else None
