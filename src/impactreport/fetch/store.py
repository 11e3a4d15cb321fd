"""The snapshot store every source writes to: dated, atomic, deduplicated, append-only.

Why: exports are retrieved daily and views over time need every distinct version, while a killed or
concurrent run must never leave a partial file or touch an earlier one.

Layout (names from :mod:`impactreport.layout`, shared with :mod:`impactreport.snapshots`)::

    DIR/exports/<source>/<project>/<retrieved UTC as YYYY-MM-DDTHHMMSSZ>.json.gz
    DIR/exports/manifest.jsonl      one JSON line per stored file (append-only)
    DIR/exports/.lock               held (flock) by the run that writes

A snapshot is the export plus ``retrieved`` (ISO UTC with microseconds and ``Z``), serialised with sorted
keys, indent 2, non-ASCII kept, gzip with a fixed mtime (equal content → equal bytes). It is written to a
hidden temporary file in the same folder (``.<name>.tmp-<random>``, ignored by the loader), fsynced,
renamed into place and the folder fsynced. If the content equals the snapshot just before it in time
(``retrieved`` ignored), nothing is written and the result says "unchanged".

Hostile or broken stores (the data folder is committed to git, which checks symbolic links out as links):

- nothing is written through a symbolic link: every folder below the data folder is opened relative to
  its parent with ``O_NOFOLLOW``, the lock, the manifest and new files with ``O_NOFOLLOW`` (``O_EXCL``
  for new ones); a link is refused with one line naming it and its target (:class:`LinkRefused`,
  exit 2) before anything is fetched where it can be seen early.
- a failed write (read-only, full disk, no permission) stops the run with one line naming the path and
  the reason (:class:`StoreWriteError`); the run's temporary file is removed, earlier snapshots are
  untouched, and the manifest keeps exactly its lines: a line is appended only after its snapshot is in
  place, a partly written line is cut off again, and a snapshot whose line could not be appended is
  removed.
- GitHub and Discourse names ignore case: :meth:`SnapshotStore.locate` finds a project's existing folder
  whatever case was typed (with a note), so one project never becomes two.

Use::

    from impactreport.fetch.store import SnapshotStore, store_lock, save_snapshot

    with store_lock(data_dir):                      # a second concurrent run gets StoreLocked (one line)
        result = save_snapshot(data_dir, "github", "owner/repo", payload)
        result.status, result.path, result.sha256, result.bytes, result.rows

For many saves in one run (the archive import) keep one :class:`SnapshotStore` (it caches the index).
The canonical bytes are made in :mod:`.canonical`, the lock is held by :mod:`.lock`, and the no-follow
file primitives live in :mod:`impactreport.files`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from bisect import bisect_right
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from impactreport.capped import export_bytes  # the one capped reader (a gzip bomb is one line)
from impactreport.errors import InputError
from impactreport.fetch.canonical import (
    compress,
    content_hash,
    format_retrieved,
    is_canonical,
    parse_retrieved,
    replace_retrieved,
    retrieved_in_text,
    row_counts,
    serialise,
    text_hash,
)
from impactreport.fetch.lock import StoreLocked, StoreWriteError, store_lock, writing
from impactreport.files import (
    LinkRefused,
    append_line,
    check_no_links,
    link_refusal,
    no_follow_opener,
    open_folder,
    write_new,
)
from impactreport.layout import (
    EXPORTS_DIR,
    MANIFEST_NAME,
    STAMP_FORMAT,
    STAMP_NAME,
    parse_stamp,
    stamp_name,
)
from impactreport.sources import CASELESS_PROJECT_SOURCES

#: The store's public names; the canonical bytes (:mod:`.canonical`) and the lock (:mod:`.lock`) are
#: re-exported, so a fetcher imports everything about the store from here.
__all__ = [
    "LinkRefused",
    "Located",
    "SaveResult",
    "SnapshotStore",
    "StoreLocked",
    "StoreWriteError",
    "compress",
    "format_retrieved",
    "is_canonical",
    "newest_snapshot",
    "parse_retrieved",
    "read_snapshot",
    "replace_retrieved",
    "retrieved_in_text",
    "save_snapshot",
    "serialise",
    "store_lock",
    "text_hash",
]

#: Characters allowed in a source or project folder name ("owner/repo" becomes "owner__repo").
#: Any one path part that is not hidden and holds no control character ("my meta", "é", "-x" are fine).
SAFE_NAME = re.compile(r"^[^./\x00-\x1f\x7f][^/\x00-\x1f\x7f]*$")


class _Abandoned(Exception):
    """A background write not started because an earlier one failed."""


@dataclass(frozen=True)
class SaveResult:
    """What happened to one export: a new file ("stored") or none ("unchanged", ``path`` = the equal one)."""

    status: Literal["stored", "unchanged"]
    path: Path
    sha256: str
    bytes: int
    rows: dict[str, int]
    retrieved: datetime


def read_snapshot(path: Path) -> dict[str, Any]:
    """A stored snapshot as a dict (raises InputError naming the file if it is not gzip JSON)."""
    try:
        data = json.loads(export_bytes(path))
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


# --- the store --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """Where a project lives in the store: its folder's name and path, and a note when the folder found
    is not the name as typed (another case) or other-case folders of the same project exist."""

    name: str
    path: Path
    note: str = ""


@dataclass
class _Entry:
    stamp: str
    content: str | None  # content hash, None until needed
    rows: dict[str, int] | None = None


@dataclass
class SnapshotStore:
    """The snapshots under ``DIR/exports``, with a per-project index of (stamp, content hash, rows).

    Content hashes come from the manifest (written with each file) and are computed from the file only
    for a snapshot the manifest does not list (e.g. a run killed between rename and manifest line).
    """

    data_dir: Path
    _index: dict[tuple[str, str], list[_Entry]] = field(default_factory=dict, init=False)
    _manifest: dict[str, tuple[str, dict[str, int]]] | None = field(default=None, init=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False)
    _pending: list[Future[SaveResult]] = field(default_factory=list, init=False)
    _pending_paths: dict[Path, Future[SaveResult]] = field(default_factory=dict, init=False)
    _last_digest: tuple[bytes, str] | None = field(default=None, init=False, repr=False)
    _located: dict[tuple[str, str], Located] = field(default_factory=dict, init=False, repr=False)
    #: The first failed background write: no later write starts, and the run raises it.
    _failure: BaseException | None = field(default=None, init=False, repr=False)
    _manifest_guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)

    @property
    def exports(self) -> Path:
        return self.data_dir / EXPORTS_DIR

    @property
    def manifest_path(self) -> Path:
        return self.exports / MANIFEST_NAME

    def folder(self, source: str, project: str) -> Path:
        """The folder of ``project`` (see :meth:`locate`)."""
        return self.locate(source, project).path

    def locate(self, source: str, project: str) -> Located:
        """The one answer to "which folder holds this project": the name as typed, or for GitHub and
        Discourse (names that ignore case) an existing folder of another case, with a note.

        Refuses (:class:`LinkRefused`) a link at the source or project folder, so a run can check every
        project before it fetches anything. Of several existing other-case folders (made by versions
        before this rule) the first in name order is used and the note names the rest.
        """
        key = (source, project)
        if key in self._located:
            return self._located[key]
        kind, wanted = safe_component(source), safe_component(project)
        parent = self.exports / kind
        check_no_links(self.data_dir, (EXPORTS_DIR, kind))
        name, note = wanted, ""
        if source in CASELESS_PROJECT_SOURCES and parent.is_dir():
            same = sorted(
                entry.name
                for entry in os.scandir(parent)
                if entry.name.casefold() == wanted.casefold() and not entry.name.startswith(".")
            )
            others = [other for other in same if other != wanted]
            if wanted not in same and others:
                name = others.pop(0)
                note = f"{project}: stored in the existing folder {parent / name} (names ignore case here)"
            if others:
                extra = ", ".join(str(parent / other) for other in others)
                note = (note + "; " if note else f"{project}: ") + (
                    f"{extra} holds the same project in another case and is read as a separate one: "
                    "merge its snapshots into the folder above, or remove it"
                )
        check_no_links(self.data_dir, (EXPORTS_DIR, kind, name))
        located = Located(name, parent / name, note)
        self._located[key] = self._located[(source, name)] = located
        return located

    def _manifest_rows(self) -> dict[str, tuple[str, dict[str, int]]]:
        """file (relative to DIR) → (content hash, rows), from the manifest; unreadable lines skipped."""
        if self._manifest is None:
            self._manifest = {}
            check_no_links(self.data_dir, (EXPORTS_DIR, MANIFEST_NAME))
            try:
                stream = open(self.manifest_path, "rb", opener=no_follow_opener)  # noqa: SIM115
            except FileNotFoundError:
                return self._manifest
            with stream:
                for raw in stream:
                    try:
                        row = json.loads(raw)
                        self._manifest[row["file"]] = (str(row["content_sha256"]), dict(row["rows"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash, or from an older version
        return self._manifest

    def _append_manifest(self, row: dict[str, Any]) -> None:
        """One manifest line, under the guard (threads of this run append one at a time)."""
        with self._manifest_guard, writing(self.manifest_path, "the manifest"):
            folder = open_folder(self.data_dir, (EXPORTS_DIR,), create=True)
            try:
                line = (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
                append_line(folder, MANIFEST_NAME, line, self.manifest_path)
            finally:
                os.close(folder)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.data_dir).as_posix()

    def _entries(self, source: str, project: str) -> list[_Entry]:
        key = (source, project)
        if key not in self._index:
            folder = self.folder(source, project)
            names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            known = self._manifest_rows()
            entries = []
            for name in names:
                match = STAMP_NAME.match(name)
                if match:
                    if (folder / name).is_symlink():  # never read, compared with, or written past
                        raise link_refusal(folder / name, os.readlink(folder / name))
                    content, rows = known.get(self._relative(folder / name), (None, None))
                    entries.append(_Entry(match.group(1), content, rows))
            self._index[key] = entries
        return self._index[key]

    def _content(self, source: str, project: str, entry: _Entry) -> str:
        if entry.content is None:  # a file the manifest lacks (a run killed right after writing it)
            path = self._path(source, project, entry)
            payload = read_snapshot(path)
            retrieved = payload.pop("retrieved", None)
            entry.content = content_hash(payload)
            entry.rows = row_counts(payload)
            packed = path.read_bytes()
            row = {
                "source": source,
                "project": project,
                "file": self._relative(path),
                "retrieved": retrieved,
                "sha256": hashlib.sha256(packed).hexdigest(),
                "bytes": len(packed),
                "rows": entry.rows,
                "content_sha256": entry.content,
            }
            self._append_manifest(row)  # complete the manifest (callers hold the lock)
            self._manifest_rows()[row["file"]] = (entry.content, entry.rows)
        return entry.content

    def _path(self, source: str, project: str, entry: _Entry) -> Path:
        return self.folder(source, project) / stamp_name(parse_stamp(entry.stamp))

    def newest(self, source: str, project: str) -> Path | None:
        entries = self._entries(source, project)
        return self._path(source, project, entries[-1]) if entries else None

    def _before(self, source: str, project: str, moment: datetime) -> _Entry | None:
        """The snapshot a new one at ``moment`` is compared with: the newest at or before it."""
        entries = self._entries(source, project)
        position = bisect_right([e.stamp for e in entries], moment.astimezone(UTC).strftime(STAMP_FORMAT))
        return entries[position - 1] if position else None

    def digest(self, data: bytes) -> str:
        """:func:`text_hash` of ``data``, remembered for the last text (the archive asks up to 3 times)."""
        if self._last_digest is not None and self._last_digest[0] is data:
            return self._last_digest[1]
        value = text_hash(data)
        self._last_digest = (data, value)
        return value

    def unchanged_text(self, source: str, project: str, data: bytes) -> SaveResult | None:
        """Shortcut for a pretty-printed export given as bytes: "unchanged" without parsing it, or None.

        Sound because a stored snapshot's content hash is the hash of its canonical text without the
        ``retrieved`` line: equal hashes mean equal content (and ``data`` was canonical).
        """
        value = retrieved_in_text(data)
        if value is None:
            return None
        try:
            moment = parse_retrieved(value)
        except ValueError:
            return None
        entry = self._before(source, project, moment)
        if entry is None or self._content(source, project, entry) != self.digest(data):
            return None
        return self._unchanged(self._path(source, project, entry), entry.rows or {}, moment)

    def save(
        self,
        source: str,
        project: str,
        payload: dict[str, Any],
        *,
        retrieved: datetime | None = None,
        text: bytes | None = None,
    ) -> SaveResult:
        """Store ``payload`` as of ``retrieved`` (default now) unless it equals the snapshot before it.

        ``text``: the bytes ``payload`` was parsed from; written as they are (with our ``retrieved``)
        when they are already canonical, which saves re-serialising large exports.
        """
        with store_lock(self.data_dir):
            result = self._save(source, project, payload, retrieved, text)
        return result.result() if isinstance(result, Future) else result

    def _encode(self, payload: dict[str, Any], iso: str, text: bytes | None) -> tuple[bytes, str]:
        body = {key: value for key, value in payload.items() if key != "retrieved"}
        if text is not None and "retrieved" in payload and is_canonical(text, payload):
            # replacing the retrieved value leaves the text without that line, hence its hash, as it was
            return replace_retrieved(text, iso), self.digest(text)
        return serialise(body, iso)

    def _save(
        self,
        source: str,
        project: str,
        payload: dict[str, Any],
        retrieved: datetime | None,
        text: bytes | None,
    ) -> SaveResult | Future[SaveResult]:
        """Decide (here, on the index) whether and under which name to store; write now or in a worker."""
        moment = (retrieved or datetime.now(UTC)).astimezone(UTC)
        iso = format_retrieved(moment)
        data, content = self._encode(payload, iso, text)
        rows = row_counts({key: value for key, value in payload.items() if key != "retrieved"})
        entries = self._entries(source, project)
        before = self._before(source, project, moment)
        if before is not None and self._content(source, project, before) == content:
            return self._unchanged(self._path(source, project, before), rows, moment)
        stamp = moment.strftime(STAMP_FORMAT)
        taken = {entry.stamp: entry for entry in entries}
        while stamp in taken:  # a taken name: equal content is "unchanged", else move on by a second
            if self._content(source, project, taken[stamp]) == content:
                return self._unchanged(self._path(source, project, taken[stamp]), rows, moment)
            stamp = (datetime.strptime(stamp, STAMP_FORMAT) + timedelta(seconds=1)).strftime(STAMP_FORMAT)
        path = self.folder(source, project) / stamp_name(parse_stamp(stamp))
        entries.insert(bisect_right([e.stamp for e in entries], stamp), _Entry(stamp, content, rows))
        self._manifest_rows()[self._relative(path)] = (content, rows)
        row = {"source": source, "project": project, "file": self._relative(path), "retrieved": iso}
        if self._pool is not None:
            future = self._pool.submit(self._write_in_background, path, data, row, content, rows, moment)
            self._pending.append(future)
            self._pending_paths[path] = future
            return future
        return self._write(path, data, row, content, rows, moment)

    def _write(
        self,
        path: Path,
        data: bytes,
        row: dict[str, Any],
        content: str,
        rows: dict[str, int],
        moment: datetime,
    ) -> SaveResult:
        """Compress, write atomically, then append the manifest line (never a line without its file).

        Any failure leaves the store as it was: the temporary file is removed, and a snapshot whose
        manifest line could not be appended is removed again.
        """
        packed = compress(data)
        digest = hashlib.sha256(packed).hexdigest()
        row.update(sha256=digest, bytes=len(packed), rows=rows, content_sha256=content)
        parts = path.parent.relative_to(self.data_dir).parts
        with writing(path, "a snapshot"):
            folder = open_folder(self.data_dir, parts, create=True)
            try:
                write_new(folder, path.name, packed, path)
                try:
                    self._append_manifest(row)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(path.name, dir_fd=folder)
                        os.fsync(folder)
                    raise
            finally:
                os.close(folder)
        return SaveResult("stored", path, digest, len(packed), rows, moment)

    def _write_in_background(self, *args: Any) -> SaveResult:
        """:meth:`_write` in a worker: not started after a failure, and the first failure is kept."""
        if self._failure is not None:
            raise _Abandoned()
        try:
            return self._write(*args)
        except BaseException as error:
            with self._manifest_guard:  # two workers failing at once: keep the first
                if self._failure is None:
                    self._failure = error
            raise

    def check(self) -> None:
        """Raise the first failed background write, if any (a run calls this between projects)."""
        if self._failure is not None:
            raise self._failure

    @contextlib.contextmanager
    def background(self, workers: int = 2) -> Iterator[SnapshotStore]:
        """Within this block ``save_async`` compresses and writes in threads (zlib and fsync release the
        GIL), overlapping with the caller's parsing; the block waits for every write and re-raises."""
        with store_lock(self.data_dir):  # held throughout: no other run may clean our temp files
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="snapshot-writer")
            try:
                yield self
            finally:
                pool, self._pool = self._pool, None
                pool.shutdown(wait=True, cancel_futures=self._failure is not None)
                pending, self._pending = self._pending, []
                self._pending_paths.clear()
        self.check()  # the first failure, not a later write abandoned because of it
        for future in pending:
            future.result()

    def save_async(
        self,
        source: str,
        project: str,
        payload: dict[str, Any],
        *,
        retrieved: datetime | None = None,
        text: bytes | None = None,
    ) -> SaveResult | Future[SaveResult]:
        """Like :meth:`save`, but inside :meth:`background` a stored snapshot is a Future."""
        self.check()  # a write failed: stop at once, start no other
        with store_lock(self.data_dir):
            return self._save(source, project, payload, retrieved, text)

    def _unchanged(self, path: Path, rows: dict[str, int], moment: datetime) -> SaveResult:
        pending = self._pending_paths.get(path)
        if pending is not None:
            try:
                pending.result()  # written in the background: wait for the file
            except _Abandoned:
                self.check()
                raise
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
