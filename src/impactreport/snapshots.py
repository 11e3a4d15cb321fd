"""Find export files: a single file, a folder of them, or the snapshot store written by ``fetch``.

The store's tree is ``<data>/exports/<source>/<project>/<retrieved UTC as YYYY-MM-DDTHHMMSSZ>.json.gz``
(names from :mod:`impactreport.layout`; see ``data/README.md``). Files outside that layout are one
export per project, project = file stem. Hidden files and folders (``.name``: the fetcher's temporary
files, its lock) and ``manifest.jsonl`` are never read.

What a scan of a folder leaves out, and why (a silent extra project is a silently wrong total):

- **generated demo data**: a sub-folder holding :data:`~impactreport.layout.DEMO_MARKER` (written by
  ``impactreport demo``), or, for data folders written before the marker existed, a ``demo`` folder
  with an ``exports`` tree next to an ``exports`` folder (the default ``data/demo`` beside
  ``data/exports``). It is skipped with a notice naming it. Pointing at the demo folder itself, or at a
  path inside it, reads it: only folders *below* a scanned path are skipped.
- **symbolic links**: a linked folder, or a linked file that would be read (an export's name), found
  below a scanned path is not followed, with a notice naming it and its target. One rule for files and
  folders: a committed data folder comes back from git with its links as links, and a link can point
  anywhere (the same export twice, another project's data, outside the tree). A path named on the
  command line is followed, link or not.
- files found by scanning (not named on the command line) are marked ``scanned``: the reader may skip
  one that is evidently not an export (see :mod:`impactreport.load.dataset`).

**Which export is newest.** Store files are ordered by the stamp in their names. Files outside the store
carry no stamp: when one project has several of them (``latest/rephetio.json`` and
``snapshots/2016-09-01/rephetio.json.gz`` given together, as two paths or two folders), each one's own
``retrieved`` time is read and orders them (files without one first, then by path), so the newest export
is counted whatever order the paths were given in, and :func:`find` says which one it counts. A file
found once only is not read here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from impactreport.capped import export_bytes
from impactreport.errors import InputError
from impactreport.files import special_kind
from impactreport.layout import (
    DEMO_DIR,
    DEMO_MARKER,
    EXPORT_SUFFIXES,
    EXPORTS_DIR,
    MANIFEST_NAME,
    STAMP_PATTERN,
    parse_stamp,
)
from impactreport.sources import CASELESS_PROJECT_SOURCES

#: Source of an export outside the store whose file does not name one.
DEFAULT_SOURCE = "thinklab"


@dataclass(frozen=True, order=True)
class SnapshotFile:
    """One export file and what its place in the tree says about it.

    ``stamp`` is the retrieval time from a store file name (None outside the store: the file's own
    ``retrieved`` field is read when it is loaded). ``order`` sorts files of one project oldest first:
    the stamp; outside the store the path, or, when the project has other files, the file's own
    retrieval time then its path (see :func:`find`). ``retrieved`` is that own time, for such a file
    (None for every other file: a store file's time is its stamp, a lone export's is read with it).
    ``scanned`` is True for a file found by walking a folder, False for one named explicitly.
    """

    project: str
    order: str
    path: Path
    source: str = DEFAULT_SOURCE
    stamp: datetime | None = None
    scanned: bool = False
    retrieved: datetime | None = field(default=None, compare=False)

    @property
    def in_store(self) -> bool:
        """A snapshot the fetcher wrote (named by its stamp): never a stray file."""
        return self.stamp is not None


@dataclass(frozen=True)
class Discovery:
    """The files to read, and the notices: what a scan left out (each naming a folder or link), and
    which file a project given by several exports outside the store is counted from (naming them)."""

    files: list[SnapshotFile]
    notices: tuple[str, ...] = ()


def project_name(path: Path) -> str:
    """Project of a file outside the store: its name without ``.json`` or ``.json.gz``."""
    name = path.name
    for suffix in (".json.gz", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def is_export_file(path: Path) -> bool:
    """An export file the loader should read (not hidden, not the manifest, not a temporary file)."""
    return (
        path.is_file()
        and not path.name.startswith(".")
        and path.name != MANIFEST_NAME
        and path.name.endswith(EXPORT_SUFFIXES)
    )


def describe(path: Path, *, scanned: bool = False) -> SnapshotFile:
    """Where a file sits: a store snapshot (source/project/stamp) or a plain per-project export."""
    match = STAMP_PATTERN.match(path.name)
    if match and path.parent.parent.name:
        return SnapshotFile(
            project=path.parent.name,
            order=match.group(1),
            path=path,
            source=path.parent.parent.name,
            stamp=parse_stamp(match.group(1)),
            scanned=scanned,
        )
    return SnapshotFile(project=project_name(path), order=str(path), path=path, scanned=scanned)


def is_demo(folder: Path) -> bool:
    """Generated demo data: the marker inside, or (older trees) ``demo/exports`` beside ``exports``."""
    if (folder / DEMO_MARKER).exists():
        return True
    return (
        folder.name == DEMO_DIR and (folder / EXPORTS_DIR).is_dir() and (folder.parent / EXPORTS_DIR).is_dir()
    )


def demo_notice(folder: Path) -> str:
    """The notice for a demo folder a scan skipped."""
    return f"{folder}: generated demo data, skipped (point at it to read it)"


def is_utf8_name(text: str) -> bool:
    """Whether a path (as Python decoded it from the file system) is UTF-8 text: a name of other bytes
    holds surrogates that no table, JSON or report can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_path(path: Path | str) -> str:
    """A path as a message can print it: bytes that are not UTF-8 shown as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def link_notice(path: Path) -> str:
    """The notice for a symbolic link a scan did not follow."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return f"{path}: a symbolic link (to {target}), skipped (point at it to read it)"


def _walk(root: Path, skipped: list[Path], links: list[Path]) -> Iterator[tuple[Path, str]]:
    """Export files below ``root``, in path order, each with its resolved path (the key that tells two
    names of one file apart); hidden, demo and linked folders are not entered, linked files not read
    (``skipped`` gets the demo folders, ``links`` the links).

    One ``scandir`` per folder, whose entries know their type: no ``stat`` per file, which on a tree
    of a hundred thousand exports was most of the walk. No link is followed below ``root``, so a
    file's resolved path is the resolved ``root`` joined with the names walked.
    """
    pending = [(str(root), str(root.resolve()))]
    while pending:
        here, resolved = pending.pop()
        try:
            with os.scandir(here) as found:
                entries = sorted(found, key=lambda entry: entry.name)
        except OSError:  # a folder that cannot be listed is left out, as os.walk does
            continue
        folders = []
        for entry in entries:
            name = entry.name
            if _is_dir(entry):
                if name.startswith("."):
                    continue
                if entry.is_symlink():
                    links.append(Path(entry.path))
                elif is_demo(Path(entry.path)):
                    skipped.append(Path(entry.path))
                else:
                    folders.append((entry.path, os.path.join(resolved, name)))
            elif _is_export_entry(entry):
                if entry.is_symlink():
                    links.append(Path(entry.path))
                    continue
                yield Path(entry.path), os.path.join(resolved, name)
        pending.extend(reversed(folders))  # the first sub-folder is walked next


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_export_entry(entry: os.DirEntry) -> bool:
    """:func:`is_export_file` from a folder listing's entry."""
    name = entry.name
    if name.startswith(".") or name == MANIFEST_NAME or not name.endswith(EXPORT_SUFFIXES):
        return False
    try:
        return entry.is_file()
    except OSError:
        return False


def find(
    paths: Sequence[str | Path], *, all_snapshots: bool = False, duplicate_notices: bool = True
) -> Discovery:
    """Export files under ``paths``: the newest per (source, project), or every one when asked (each
    project's files oldest first).

    Newest means the latest retrieval: by the store stamp, or for files outside the store by their own
    ``retrieved`` (:func:`by_retrieval`); a project given by several such files gets a notice naming the
    one counted and the others (unless ``duplicate_notices`` is False: a caller that takes every file
    as a version, the archive import). Raises :class:`InputError` naming a path that does not exist or
    holds no export.
    """
    found: list[tuple[SnapshotFile, str]] = []  # each file with its resolved path
    skipped: list[Path] = []
    links: list[Path] = []
    odd: list[str] = []  # files whose names are not UTF-8
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{shown_path(path)}: no such file or folder")
        if not is_utf8_name(str(path)):
            raise InputError(f"{shown_path(path)}: the path is not UTF-8 text; rename it to read it")
        if path.is_file():
            if not path.name.endswith(EXPORT_SUFFIXES):
                raise InputError(f"{path}: not an export file (expected .json or .json.gz)")
            found.append((describe(path), str(path.resolve())))
            continue
        if not path.is_dir():
            raise InputError(f"{path}: is {special_kind(path.stat().st_mode)}, not an export file or folder")
        skipped_here: list[Path] = []
        links_here: list[Path] = []
        files: list[tuple[SnapshotFile, str]] = []
        odd_here: list[str] = []
        for walked, key in _walk(path, skipped_here, links_here):
            if is_utf8_name(key):
                files.append((describe(walked, scanned=True), key))
            else:
                odd_here.append(shown_path(walked))
        odd.extend(odd_here)
        skipped.extend(skipped_here)
        links.extend(links_here)
        if not files:
            hints = []
            if skipped_here:
                hints.append(f"skipped generated demo data in {', '.join(map(str, skipped_here))}")
            if links_here:
                hints.append(f"skipped symbolic links {', '.join(map(str, links_here))}")
            if odd_here:
                hints.append(f"skipped names that are not UTF-8 text: {', '.join(odd_here)}; rename them")
            hint = f" ({'; '.join(hints)}; point at it to read it)" if hints else ""
            raise InputError(f"{path}: no export files (.json or .json.gz) in this folder{hint}")
        found.extend(files)
    unique: dict[str, SnapshotFile] = {}
    for file, key in found:
        # A file both named and found by a scan is the named one: it is never skipped as stray.
        if key not in unique or not file.scanned:
            unique[key] = file
    merged, case_notices = merge_caseless(list(unique.values()))
    ordered = _ordered(merged)
    notices = (
        tuple(demo_notice(folder) for folder in dict.fromkeys(skipped))
        + tuple(link_notice(link) for link in dict.fromkeys(links))
        + case_notices
        + tuple(f"{name}: a name that is not UTF-8 text, skipped (rename it to read it)" for name in odd)
    )
    groups: dict[tuple[str, str], list[SnapshotFile]] = {}
    for file in ordered:
        groups.setdefault((file.source, file.project), []).append(file)
    given_twice = tuple(
        duplicate_notice(group, all_snapshots=all_snapshots)
        for group in groups.values()
        if duplicate_notices and len(group) > 1 and not all(f.in_store for f in group)
    )
    if all_snapshots:
        return Discovery(ordered, notices + given_twice)
    return Discovery([group[-1] for group in groups.values()], notices + given_twice)


def merge_caseless(files: list[SnapshotFile]) -> tuple[list[SnapshotFile], tuple[str, ...]]:
    """Store folders of one project in two cases (``PyGithub`` and ``pygithub``, made by versions before
    the store ignored case) as one project, where the source's names ignore case, with a notice.

    Why: GitHub, GitLab, Discourse hosts and list addresses ignore case, so both folders hold the same
    project; counted apart, every discussion would count twice. The name kept is the folder the store
    writes to (:meth:`~impactreport.fetch.store.SnapshotStore.locate`: the first in name order)."""
    names: dict[tuple[str, str], set[str]] = {}
    for file in files:
        if file.in_store and file.source in CASELESS_PROJECT_SOURCES:
            names.setdefault((file.source, file.project.casefold()), set()).add(file.project)
    renamed: dict[tuple[str, str], str] = {}
    notices: list[str] = []
    for (source, _), spelled in sorted(names.items()):
        if len(spelled) > 1:
            kept, *others = sorted(spelled)
            renamed.update({(source, other): kept for other in others})
            notices.append(
                f"{source} projects {', '.join(repr(name) for name in [kept, *others])} differ only in case: "
                f"counted once as {kept!r}"
            )
    if not renamed:
        return files, ()
    merged = [
        dataclasses.replace(file, project=renamed[(file.source, file.project)])
        if (file.source, file.project) in renamed and file.in_store
        else file
        for file in files
    ]
    return merged, tuple(notices)


def discover(paths: Sequence[str | Path], *, all_snapshots: bool = False) -> list[SnapshotFile]:
    """The files of :func:`find` without its notices (for readers that only need the files)."""
    return find(paths, all_snapshots=all_snapshots).files


def retrieved_time(value: str | None, file: SnapshotFile) -> datetime | None:
    """A file's retrieval time: its ``retrieved`` field (ISO 8601), else the stamp of its store name."""
    if value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{file.path}: 'retrieved' is not an ISO 8601 time: {value!r}") from None
    return file.stamp


# --- the newest of several files of one project ------------------------------------------------------

#: The top-level ``retrieved`` line of an export pretty-printed with indent 2 (as Thinklab's retrieving
#: script and the store write them): found from the end, without parsing the file.
_RETRIEVED_LINE = b'\n  "retrieved": "'
#: How many others a duplicate notice names before "and N more".
NAMED_OTHERS = 3


def by_retrieval(files: Sequence[SnapshotFile]) -> list[SnapshotFile]:
    """``files`` sorted by (source, project), each project's files oldest first, ``order`` of the files
    outside the store that share their project with others set from their own ``retrieved`` times."""
    return _ordered(list(files))


def _ordered(files: list[SnapshotFile]) -> list[SnapshotFile]:
    """:func:`by_retrieval` (see there)."""
    counts: dict[tuple[str, str], int] = {}
    for file in files:
        counts[(file.source, file.project)] = counts.get((file.source, file.project), 0) + 1
    timed: list[SnapshotFile] = []
    for file in files:
        if file.in_store or counts[(file.source, file.project)] == 1:
            timed.append(file)
            continue
        moment = export_retrieved(file.path)
        timed.append(dataclasses.replace(file, order=time_order(moment, file.path), retrieved=moment))
    timed.sort(key=lambda f: (f.source, f.project.lower(), f.project, f.order))
    return timed


def time_order(moment: datetime | None, path: Path) -> str:
    """``order`` of a file outside the store with others of its project: its retrieval time, written as
    a store stamp to the microsecond (so it also sorts among store files), then its path; a file without
    a retrieval time sorts before every timed one (a space sorts before every digit)."""
    if moment is None:
        return f" {path}"
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H%M%S.%fZ} {path}"


def export_retrieved(path: Path) -> datetime | None:
    """An export's own retrieval time (its top-level ``retrieved``), or None when it has none or cannot
    be read. Read once per file version (path, size, modification time) in a process."""
    try:
        info = path.stat()
    except OSError:
        return None
    return _export_retrieved(str(path), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _export_retrieved(path: str, size: int, mtime_ns: int) -> datetime | None:
    """:func:`export_retrieved` for one version of a file (``size`` and ``mtime_ns`` key the cache).

    Through the loader's one capped reader; the ``retrieved`` line of a pretty-printed export is found
    from the end, anything else is parsed. A file that cannot be read is None here: it sorts oldest, and
    it is refused with its own error if it is ever read.
    """
    try:
        raw = export_bytes(Path(path))
    except (InputError, OSError, EOFError):
        return None
    value = _retrieved_text(raw)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _retrieved_text(raw: bytes) -> str | None:
    """The top-level ``retrieved`` string of an export's bytes, or None."""
    if raw.startswith(b'{\n  "'):  # indent 2: a line starting with two spaces and a key is top level
        start = raw.rfind(_RETRIEVED_LINE)
        if start >= 0:
            begin = start + len(_RETRIEVED_LINE)
            end = raw.find(b'"', begin)
            line = raw[begin:end] if end >= 0 else b""
            if line and b"\\" not in line and b"\n" not in line:
                return line.decode("utf-8", "replace")
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    value = document.get("retrieved") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _when(file: SnapshotFile) -> str:
    moment = file.retrieved or file.stamp
    if moment is None:
        return "no retrieved time"
    return f"retrieved {moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _named(files: Sequence[SnapshotFile]) -> str:
    """``path (retrieved …)`` of the first :data:`NAMED_OTHERS` files, then how many more."""
    named = ", ".join(f"{f.path} ({_when(f)})" for f in files[:NAMED_OTHERS])
    return named + (f" and {len(files) - NAMED_OTHERS} more" if len(files) > NAMED_OTHERS else "")


def duplicate_notice(group: Sequence[SnapshotFile], *, all_snapshots: bool = False) -> str:
    """The notice for a project given by several files not all in the store (``group``, oldest first).

    Why a notice: the same project in two places (a ``latest`` folder and a dated snapshot) is easy to
    pass by mistake, and the totals then depend on which one is counted: the newest by its own
    retrieval time (:func:`find`). With ``all_snapshots`` every file is a snapshot of the project (which
    one a closed period is counted from is the caller's choice): the notice names them, newest first.
    """
    newest, others = group[-1], list(reversed(group[:-1]))
    name = newest.project if newest.source == DEFAULT_SOURCE else f"{newest.source}:{newest.project}"
    given = "twice" if len(group) == 2 else f"{len(group)} times"
    if all_snapshots:
        return (
            f"project {name} given {given}: read as its snapshots by their own retrieval times, "
            f"the newest {newest.path} ({_when(newest)}), then {_named(others)}"
        )
    return f"project {name} given {given}: counting {newest.path} ({_when(newest)}), not {_named(others)}"


def file_signature(path: Path) -> tuple[int, int, int, int]:
    """What tells a snapshot file changed without reading it: size, modification time, and the inode's
    change time and number (which a hand edit cannot restore). The cache compares all four."""
    info = path.stat()
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino
