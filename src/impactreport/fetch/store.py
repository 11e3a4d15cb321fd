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
"""

from __future__ import annotations

import contextlib
import errno
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from impactreport.capped import export_bytes  # the one capped reader (a gzip bomb is one line)
from impactreport.errors import FetchError, InputError
from impactreport.files import (
    LinkRefused,
    check_no_links,
    link_refusal,
    open_file,
    open_folder,
    refuse_if_link,
    regular_only,
    write_all,
)
from impactreport.layout import (
    EXPORTS_DIR,
    LOCK_NAME,
    MANIFEST_NAME,
    STAMP_FORMAT,
    STAMP_NAME,
    parse_stamp,
    stamp_name,
)
from impactreport.sources import CASELESS_PROJECT_SOURCES

__all__ = [
    "LinkRefused",
    "Located",
    "SaveResult",
    "SnapshotStore",
    "StoreLocked",
    "StoreWriteError",
    "format_retrieved",
    "newest_snapshot",
    "parse_retrieved",
    "read_snapshot",
    "save_snapshot",
    "store_lock",
]

#: Start of the top-level ``retrieved`` line of a pretty-printed export (deeper keys are indented more,
#: and a newline inside a string is escaped, so this occurs once at most).
RETRIEVED_KEY = b'\n  "retrieved": "'
#: gzip level: 1 compresses the largest export 3x faster than 6 for ~20% more bytes, which keeps the
#: import of the 421-day archive (1.4 GB of distinct JSON) within a minute.
COMPRESSLEVEL = 1
TEMP_NAME = re.compile(r"^\..+\.tmp-[0-9a-f]+$")
#: Characters allowed in a source or project folder name ("owner/repo" becomes "owner__repo").
#: Any one path part that is not hidden and holds no control character ("my meta", "é", "-x" are fine).
SAFE_NAME = re.compile(r"^[^./\x00-\x1f\x7f][^/\x00-\x1f\x7f]*$")


#: ``link`` errors meaning "this file system has no hard links" (then: rename after a check, under the lock).
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


class StoreLocked(FetchError):
    """Another run holds the store's lock."""


class StoreWriteError(FetchError):
    """The store could not be written (read-only, full, not permitted): the whole run stops here."""


class _Abandoned(Exception):
    """A background write not started because an earlier one failed."""


@contextlib.contextmanager
def writing(shown: Path, what: str) -> Iterator[None]:
    """Turn an OSError into a one-line :class:`StoreWriteError` naming ``shown`` and the reason."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        raise StoreWriteError(f"{shown}: cannot write {what} ({reason})") from None


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
    data = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False).encode("utf-8")
    return data, text_hash(data)


def retrieved_span(data: bytes) -> tuple[int, int, str] | None:
    """Where the top-level ``retrieved`` line is in a pretty-printed export: (start, end, value).

    ``end`` includes the comma after the value, if any. Found with ``rfind`` (fast: the key sorts
    near the end), not by parsing.
    """
    start = data.rfind(RETRIEVED_KEY)
    if start < 0:
        return None
    value_start = start + len(RETRIEVED_KEY)
    value_end = data.find(b'"', value_start)
    newline = data.find(b"\n", value_start)
    if value_end < 0 or (0 <= newline < value_end):
        return None
    end = value_end + 1
    if data[end : end + 1] == b",":
        end += 1
    return start, end, data[value_start:value_end].decode("utf-8", "replace")


def text_hash(data: bytes) -> str:
    """sha256 of a pretty-printed export without its top-level ``retrieved`` line."""
    span = retrieved_span(data)
    if span is None:
        return hashlib.sha256(data).hexdigest()
    view = memoryview(data)
    digest = hashlib.sha256(view[: span[0]])
    digest.update(view[span[1] :])
    return digest.hexdigest()


def content_hash(payload: dict[str, Any]) -> str:
    """The content hash of an export, ``retrieved`` ignored (equal to :func:`serialise`'s)."""
    return serialise(payload, "")[1]


def retrieved_in_text(data: bytes) -> str | None:
    """The top-level ``retrieved`` value of a pretty-printed export, read without parsing it."""
    span = retrieved_span(data)
    return span[2] if span else None


def replace_retrieved(data: bytes, value: str) -> bytes:
    """``data`` with its top-level ``retrieved`` value replaced (the text must have one)."""
    span = retrieved_span(data)
    if span is None:
        raise ValueError("no top-level retrieved line")
    comma = b"," if data[span[1] - 1 : span[1]] == b"," else b""
    line = b'\n  "retrieved": ' + json.dumps(value).encode() + comma
    return data[: span[0]] + line + data[span[1] :]


_LINE_BREAK = re.compile(rb"\n *")
_INDENT = re.compile(rb"\n( *)")


def is_canonical(data: bytes, payload: dict[str, Any]) -> bool:
    """Whether ``data`` (which parses to ``payload``) is already what :func:`serialise` would write.

    Why: re-serialising with ``indent`` runs Python's pure-Python encoder (slow for the largest
    Thinklab export), while the archive's files were written by ``json.dump(indent=2, sort_keys=True,
    ensure_ascii=False)`` already. A newline cannot occur inside a JSON string, so the text without its
    line breaks and indentation must equal the C encoder's output with separators ``,`` and ``: ``;
    the indentation steps must be two spaces. Anything the check cannot vouch for takes the slow path.
    """
    if not data.startswith(b'{\n  "') or data.endswith(b"\n") or b"\t" in data:
        return False
    compact = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ": "))
    if _LINE_BREAK.sub(b"", data) != compact.encode("utf-8"):
        return False
    widths = sorted({len(m) for m in _INDENT.findall(data)})
    return widths == list(range(0, 2 * len(widths), 2))


def compress(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name: the same content always gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=COMPRESSLEVEL
    ) as stream:
        stream.write(data)
    return buffer.getvalue()


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


def write_new(folder: int, name: str, data: bytes, shown: Path) -> None:
    """Write a new file ``name`` in the open ``folder`` in one step: hidden temporary file (``O_EXCL``,
    ``O_NOFOLLOW``), fsync, link into place, fsync the folder. The temporary file is removed whatever
    happens.

    ``link`` (not ``rename``) so an existing file, or a link planted under the name, is never replaced:
    a name collision raises FileExistsError instead of silently overwriting a snapshot.
    """
    temp = f".{name}.tmp-{secrets.token_hex(6)}"
    fd = open_file(folder, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, shown.with_name(temp))
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError as error:
            if error.errno not in NO_HARD_LINKS:
                raise
            if _exists_at(folder, name):  # no hard links here: rename, after checking (we hold the lock)
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(shown)) from None
            os.rename(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder)
    os.fsync(folder)


def _exists_at(folder: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def append_line(folder: int, name: str, row: dict[str, Any], shown: Path) -> None:
    """Append one JSON line to ``name`` in the open ``folder`` (``O_APPEND``, ``O_NOFOLLOW``), then fsync.

    A write cut short (a full disk) is cut off again: the file keeps exactly its earlier lines. The
    caller serialises appends (one writer holds the store lock; its threads share one guard).
    """
    line = (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    fd = open_file(folder, name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, shown)
    try:
        size = os.fstat(fd).st_size
        try:
            write_all(fd, line)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)


# --- the lock ---------------------------------------------------------------------------------------

_held: dict[Path, int] = {}
_held_guard = threading.Lock()


def clean_temp_files(exports: Path) -> list[Path]:
    """Remove temporary files left by a killed run (only call while holding the lock).

    Links are neither followed nor removed; a file that cannot be removed stays (the loader ignores it).
    """
    removed: list[Path] = []
    for folder, dirs, names in os.walk(exports):  # os.walk does not enter linked folders
        dirs[:] = [name for name in dirs if not os.path.islink(os.path.join(folder, name))]
        for name in names:
            path = Path(folder) / name
            if TEMP_NAME.match(name) and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def _open_lock(data_dir: Path) -> int:
    """Open (create) ``DIR/exports/.lock`` without following a link; refuse a linked manifest too, so a
    run stops before it fetches anything it could not store."""
    exports = data_dir / EXPORTS_DIR
    with writing(exports, "the store folder"):
        folder = open_folder(data_dir, (EXPORTS_DIR,), create=True)
    try:
        refuse_if_link(folder, MANIFEST_NAME, exports / MANIFEST_NAME)
        with writing(exports / LOCK_NAME, "the store's lock"):
            return open_file(folder, LOCK_NAME, os.O_RDWR | os.O_CREAT, exports / LOCK_NAME)
    finally:
        os.close(folder)


@contextlib.contextmanager
def store_lock(data_dir: str | Path) -> Iterator[Path]:
    """Hold ``DIR/exports/.lock`` for the duration (re-entrant within a process); yields DIR/exports.

    A second run at the same time gets :class:`StoreLocked` with one line naming the holder. The kernel
    drops the lock when the holder dies, even by SIGKILL; temporary files it left are removed here.
    A link at ``exports``, the lock or the manifest is :class:`LinkRefused`; a store that cannot be
    written (read-only) is :class:`StoreWriteError`.
    """
    exports = Path(data_dir).resolve() / EXPORTS_DIR
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
    fd = _open_lock(Path(data_dir))
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
        with contextlib.suppress(OSError):  # who holds it is only said to a second run: best effort
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
                stream = open(self.manifest_path, "rb", opener=_no_follow_reader)  # noqa: SIM115
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
                append_line(folder, MANIFEST_NAME, row, self.manifest_path)
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


def _no_follow_reader(path: str, flags: int) -> int:
    """``open`` opener: the final component must not be a link (the manifest read by the store)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise link_refusal(Path(path), os.readlink(path)) from None
        raise
    fd = regular_only(fd, path)
    os.set_blocking(fd, True)
    return fd


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
