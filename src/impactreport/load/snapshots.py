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
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from impactreport.errors import InputError
from impactreport.layout import (
    DEMO_DIR,
    DEMO_MARKER,
    EXPORT_SUFFIXES,
    EXPORTS_DIR,
    MANIFEST_NAME,
    STAMP_PATTERN,
    parse_stamp,
)

#: Source of an export outside the store whose file does not name one.
DEFAULT_SOURCE = "thinklab"


@dataclass(frozen=True, order=True)
class SnapshotFile:
    """One export file and what its place in the tree says about it.

    ``stamp`` is the retrieval time from a store file name (None outside the store: the file's own
    ``retrieved`` field is read when it is loaded). ``order`` sorts files of one project oldest first.
    ``scanned`` is True for a file found by walking a folder, False for one named explicitly.
    """

    project: str
    order: str
    path: Path
    source: str = DEFAULT_SOURCE
    stamp: datetime | None = None
    scanned: bool = False

    @property
    def in_store(self) -> bool:
        """A snapshot the fetcher wrote (named by its stamp): never a stray file."""
        return self.stamp is not None


@dataclass(frozen=True)
class Discovery:
    """The files to read, and the notices about what a scan left out (each naming a folder)."""

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


def find(paths: Sequence[str | Path], *, all_snapshots: bool = False) -> Discovery:
    """Export files under ``paths``: the newest per (source, project), or every one when asked.

    Raises :class:`InputError` naming a path that does not exist or holds no export.
    """
    found: list[tuple[SnapshotFile, str]] = []  # each file with its resolved path
    skipped: list[Path] = []
    links: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_file():
            if not path.name.endswith(EXPORT_SUFFIXES):
                raise InputError(f"{path}: not an export file (expected .json or .json.gz)")
            found.append((describe(path), str(path.resolve())))
            continue
        skipped_here: list[Path] = []
        links_here: list[Path] = []
        files = [(describe(file, scanned=True), key) for file, key in _walk(path, skipped_here, links_here)]
        skipped.extend(skipped_here)
        links.extend(links_here)
        if not files:
            hints = []
            if skipped_here:
                hints.append(f"skipped generated demo data in {', '.join(map(str, skipped_here))}")
            if links_here:
                hints.append(f"skipped symbolic links {', '.join(map(str, links_here))}")
            hint = f" ({'; '.join(hints)}; point at it to read it)" if hints else ""
            raise InputError(f"{path}: no export files (.json or .json.gz) in this folder{hint}")
        found.extend(files)
    unique: dict[str, SnapshotFile] = {}
    for file, key in found:
        # A file both named and found by a scan is the named one: it is never skipped as stray.
        if key not in unique or not file.scanned:
            unique[key] = file
    ordered = sorted(unique.values(), key=lambda f: (f.source, f.project.lower(), f.project, f.order))
    notices = tuple(demo_notice(folder) for folder in dict.fromkeys(skipped)) + tuple(
        link_notice(link) for link in dict.fromkeys(links)
    )
    if all_snapshots:
        return Discovery(ordered, notices)
    newest: dict[tuple[str, str], SnapshotFile] = {}
    for file in ordered:
        newest[(file.source, file.project)] = file
    return Discovery(list(newest.values()), notices)


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
