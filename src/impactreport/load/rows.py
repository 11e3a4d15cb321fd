"""One snapshot file → its normalised rows, format-B keys recovered: the step the loader and history share.

The loader reads many files a batch at a time (:mod:`impactreport.load.batch`) and keeps their rows in
a :class:`Loaded`; the history of versions (:mod:`impactreport.history.versions`) reads one snapshot at
a time (:func:`read_normalised`). Both recover the keys a format-B file lacks from another snapshot of
its project the same way (:class:`References`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from impactreport.errors import InputError
from impactreport.layout import TABLE_NAMES
from impactreport.load.formats import FILE_INDEX, detect_format, normalise
from impactreport.load.read import read_export
from impactreport.load.resolve import has_missing_keys, resolve_keys
from impactreport.snapshots import SnapshotFile, discover

#: The key that identifies a row of each table (with fallbacks for rows whose id format B lost).
ROW_KEYS = {
    "documents": ("document_id", "url"),
    "threads": ("thread_id", "url"),
    "comments": ("comment_id", "thread_id", "published"),
    "notes": ("note_id", "url"),
    "profiles": ("profile_id", "username"),
}
#: Columns of the per-file tables that say where a row came from.
ORIGIN = ("source", "project")
#: The column of the per-file tables that holds the file's index in discovery order.
FILE = "_file"


@dataclass
class FileTables:
    """One file read: what identifies it, its format and row count; its own tables when it has them.

    Rows of most files live in :attr:`Loaded.frames`, normalised a batch at a time; a format-B file keeps
    its ``tables`` apart, because its keys are recovered file by file (:func:`resolve_files`).
    """

    index: int
    file: SnapshotFile
    source: str
    export_format: str
    retrieved: str | None
    sha256: str
    rows: int
    #: what reading the file warned about (counters that are not whole numbers)
    warnings: tuple[str, ...] = ()
    tables: dict[str, pl.DataFrame] | None = None


@dataclass
class Loaded:
    """Every file read (by discovery index), their rows, and the recoverable problems met along the way.

    ``frames`` holds, per table, the normalised rows of batches of files, each row with its file's
    discovery index in :data:`FILE`; the rows of files that keep their own tables are not among them.
    """

    files: dict[int, FileTables] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: {name: [] for name in TABLE_NAMES})
    #: when reading began (``time.time_ns()``): a file whose inode changed since then may differ from
    #: its rows here, so a later reader of the same run reads it again
    started_ns: int = field(default_factory=time.time_ns)

    def restricted(self, indexes: set[int]) -> Loaded:
        """Only the files of ``indexes`` and their rows (what a later reader of them needs)."""
        keep = pl.Series(sorted(indexes), dtype=FILE_INDEX).implode()
        return Loaded(
            files={index: read for index, read in self.files.items() if index in indexes},
            frames={
                name: [part for frame in frames if (part := frame.filter(pl.col(FILE).is_in(keep))).height]
                for name, frames in self.frames.items()
            },
            started_ns=self.started_ns,
        )

    def tables_of(self, index: int) -> dict[str, pl.DataFrame]:
        """One file's normalised tables (without the file column)."""
        read = self.files[index]
        if read.tables is not None:
            return read.tables
        return {
            name: pl.concat(
                [frame.filter(pl.col(FILE) == index).drop(FILE) for frame in frames], how="vertical"
            )
            if frames
            else normalise({}, "C")[name]
            for name, frames in self.frames.items()
        }


@dataclass
class NormalisedFile:
    """One snapshot file's rows in the common columns, and what identifies it."""

    export_format: str
    retrieved: str | None
    sha256: str
    tables: dict[str, pl.DataFrame]
    #: what reading the file warned about (counters that are not whole numbers)
    warnings: tuple[str, ...]


def read_normalised(path: Path) -> NormalisedFile:
    """One export file read, its format detected and its tables normalised: the one-file path of the
    loader, public for the history of versions, which reads every snapshot this way.

    Raises :class:`~impactreport.load.read.NotAnExport` for a file that is not an export, and
    :class:`~impactreport.errors.InputError` for a damaged one.
    """
    raw = read_export(path)
    export_format = detect_format(raw.tables, path=path)
    tables = normalise(raw.tables, export_format, path=path)
    return NormalisedFile(export_format, raw.retrieved, raw.sha256, tables, raw.warnings)


class References:
    """Snapshots with ids that can resolve format-B keys, read at most once each."""

    def __init__(self, paths: Sequence[str | Path], loaded: Loaded | None = None) -> None:
        self._paths = paths
        self._all: list[SnapshotFile] | None = None
        self._loaded = loaded = loaded if loaded is not None else Loaded()
        # Files already read need not be read again.
        self._known = {read.file.path: read.index for read in loaded.files.values()}
        self._cache: dict[Path, dict[str, pl.DataFrame] | None] = {}

    def for_file(self, file: SnapshotFile) -> dict[str, pl.DataFrame] | None:
        """The nearest later snapshot of the same project with ids (then earlier ones), or None."""
        if self._all is None:
            self._all = discover(self._paths, all_snapshots=True)
        same = [
            f
            for f in self._all
            if (f.source, f.project) == (file.source, file.project) and f.path != file.path
        ]
        later = [f for f in same if f.order > file.order]
        earlier = [f for f in same if f.order <= file.order][::-1]
        for candidate in later + earlier:
            tables = self._read(candidate.path)
            if tables is not None:
                return tables
        return None

    def keys_recovered(
        self, file: SnapshotFile, export_format: str, tables: dict[str, pl.DataFrame]
    ) -> dict[str, pl.DataFrame]:
        """``tables`` with the keys a format-B file lacks recovered from its nearest snapshot that has
        them (:func:`~impactreport.load.resolve.resolve_keys`); any other file's tables as they are."""
        if export_format != "B" or not has_missing_keys(tables):
            return tables
        return resolve_keys(tables, self.for_file(file))

    def _read(self, path: Path) -> dict[str, pl.DataFrame] | None:
        if path not in self._cache and path in self._known:
            read = self._loaded.files[self._known[path]]
            self._cache[path] = None if read.export_format == "B" else self._loaded.tables_of(read.index)
        if path not in self._cache:
            try:
                raw = read_export(path)
                export_format = detect_format(raw.tables, path=path)
            except InputError:
                self._cache[path] = None
            else:
                self._cache[path] = (
                    None if export_format == "B" else normalise(raw.tables, export_format, path=path)
                )
        return self._cache[path]


def resolve_files(loaded: Loaded, paths: Sequence[str | Path]) -> None:
    """Fill the ids format-B files lack from another snapshot of their project; warn when none has them."""
    references = References(paths, loaded)
    unresolved: list[Path] = []
    for read in sorted(loaded.files.values(), key=lambda r: r.index):
        if read.tables is None or read.export_format != "B" or not has_missing_keys(read.tables):
            continue
        reference = references.for_file(read.file)
        read.tables = resolve_keys(read.tables, reference)
        if reference is None:
            unresolved.append(read.file.path)
    if unresolved:
        more = f" and {len(unresolved) - 1} more" if len(unresolved) > 1 else ""
        loaded.warnings.append(
            f"{unresolved[0]}{more}: format B (no ids) and no other snapshot of the project to resolve them: "
            "authors are counted by id; usernames, and so the team filter, are unavailable"
        )
