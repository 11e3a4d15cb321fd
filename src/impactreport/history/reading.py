"""Snapshot files → their normalised rows and their row of the snapshots table: the history's reading.

Why apart from the versioning (:mod:`impactreport.history.versions`): reading is I/O and parsing, in
threads or stacked as the loader stacks small files, and must equal the loader's reading row for row;
keying rows and joining runs of identical content is another job. Each file is read one at a time
(:func:`read_keyed`, in a few threads with a bounded number in flight: decompression and polars' JSON
reader release the GIL; threads, unlike forked workers, are safe beside polars' thread pool), except
projects of one snapshot each, read together (:func:`read_singles`) or taken from what the run's
loader read already.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl

from impactreport.layout import TABLE_NAMES
from impactreport.load.batch import file_size, read_files
from impactreport.load.formats import FILE_INDEX
from impactreport.load.read import NotAnExport
from impactreport.load.rows import FILE, FileTables, Loaded, NormalisedFile, References, read_normalised
from impactreport.snapshots import SnapshotFile, file_signature, retrieved_time

#: Columns of the snapshots table (one row per file read).
SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "project": pl.String(),
    "seq": pl.Int32(),
    "path": pl.String(),
    "order": pl.String(),
    "retrieved": pl.Datetime("us", "UTC"),
    "format": pl.String(),
    "sha256": pl.String(),
    "size": pl.Int64(),
    "mtime_ns": pl.Int64(),
    #: the inode's change time and number: no one can set them, so an edit that keeps the size and
    #: restores the modification time (``touch -r``) still shows
    "ctime_ns": pl.Int64(),
    "inode": pl.Int64(),
}
#: Reading threads (the machine's cores, at most 4: the work beyond decompression and parsing holds
#: the GIL).
READ_THREADS = min(4, os.cpu_count() or 1)
#: Files read ahead of the one being processed: enough to keep the threads busy, few to bound memory.
READ_AHEAD = 2 * READ_THREADS

#: One file's normalised tables and what identifies it (what a reading thread sends back).
ReadFile = NormalisedFile


def read_one(path: str) -> ReadFile | str:
    """Parse and normalise one file; a file that is not an export gives its warning instead."""
    try:
        return read_normalised(Path(path))
    except NotAnExport as error:
        return error.skipped()


def _read_all(files: Sequence[SnapshotFile], threads: int) -> Iterator[ReadFile | str]:
    """Read files in order, by ``threads`` reading threads with at most :data:`READ_AHEAD` in flight."""
    paths = [str(file.path) for file in files]
    if threads <= 1 or len(paths) < 2:
        yield from map(read_one, paths)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="history-read") as pool:
        pending: deque[Future[ReadFile | str]] = deque()
        queue = iter(paths)
        for path in queue:
            pending.append(pool.submit(read_one, path))
            if len(pending) >= READ_AHEAD:
                break
        while pending:
            result = pending.popleft().result()
            following = next(queue, None)
            if following is not None:
                pending.append(pool.submit(read_one, following))
            yield result


def snapshot_row(file: SnapshotFile, read: ReadFile | FileTables, seq: int) -> dict[str, object]:
    """One row of the snapshots table (:data:`SNAPSHOT_SCHEMA`): the file read at position ``seq``."""
    size, mtime, ctime, inode = file_signature(file.path)
    return {
        "source": file.source,
        "project": file.project,
        "seq": seq,
        "path": str(file.path),
        "order": file.order,
        "retrieved": retrieved_time(read.retrieved, file),
        "format": read.export_format,
        "sha256": read.sha256,
        "size": size,
        "mtime_ns": mtime,
        "ctime_ns": ctime,
        "inode": inode,
    }


def read_keyed(
    files: Sequence[SnapshotFile], paths: Sequence[str | Path], threads: int, warnings: list[str]
) -> Iterator[tuple[SnapshotFile, ReadFile | None, dict[str, pl.DataFrame] | None]]:
    """Each file with its read and its tables, format-B keys recovered as the loader recovers them
    (:func:`impactreport.load.resolve.resolve_keys`); a file that is not an export comes with None and
    its warning in ``warnings`` (with every reader's warnings): the one reading step of both readers."""
    references = References(paths)
    for file, read in zip(files, _read_all(files, threads), strict=True):
        if isinstance(read, str):
            warnings.append(read)
            yield file, None, None
            continue
        warnings.extend(read.warnings)
        tables = references.keys_recovered(file, read.export_format, read.tables)
        yield file, read, tables


def _unchanged_since(path: Path, moment_ns: int) -> bool:
    """True when ``path``'s inode has not changed since ``moment_ns`` (its rows read then still hold)."""
    try:
        return path.stat().st_ctime_ns < moment_ns
    except OSError:
        return False


def read_singles(
    files: Sequence[SnapshotFile],
    paths: Sequence[str | Path],
    warnings: list[str],
    reads: Sequence[Loaded] = (),
) -> tuple[dict[str, list[pl.DataFrame]], list[dict[str, object]]]:
    """The rows (with ``source`` and ``project``) and snapshot rows of projects of one file each.

    A file the run already read (``reads``: the loader's files and rows, see
    :func:`~impactreport.load.dataset.load_dataset`) is taken from there unless it changed since (the
    cache records each file's signature as it is now); the others are read as the
    loader reads many files: small files of one shape parsed stacked, each group of one row type
    normalised in one query (:func:`~impactreport.load.batch.read_files`). Why: read one at a time (4–8
    ms each), 10,000 tiny exports made ``--history`` nine times as slow as plain ``summary``.
    """
    done: dict[Path, tuple[int, int]] = {}
    for number, loaded in enumerate(reads):
        for index, one in loaded.files.items():
            done.setdefault(one.file.path, (number, index))
    wanted: list[dict[int, SnapshotFile]] = [{} for _ in reads]
    fresh: list[SnapshotFile] = []
    for file in files:
        if file.path in done and _unchanged_since(file.path, reads[done[file.path][0]].started_ns):
            number, index = done[file.path]
            wanted[number][index] = file
        else:
            fresh.append(file)
    # (rows, the files wanted from them by index, whether the run read them before)
    sources = [(loaded, chosen, True) for loaded, chosen in zip(reads, wanted, strict=True) if chosen]
    if fresh:
        new = read_files(fresh, None, [file_size(file.path) for file in fresh], skip_non_exports=True)
        warnings.extend(new.warnings)
        sources.append((new, dict(enumerate(fresh)), False))
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLE_NAMES}
    snapshot_rows: list[dict[str, object]] = []
    for loaded, chosen, reused in sources:
        origins = pl.DataFrame(
            {
                FILE: list(chosen),
                "source": [file.source for file in chosen.values()],
                "project": [file.project for file in chosen.values()],
            },
            schema={FILE: FILE_INDEX, "source": pl.String, "project": pl.String},
        )
        for name, frames in loaded.frames.items():
            for frame in frames:
                rows = frame.join(origins, on=FILE, how="inner", maintain_order="left").drop(FILE)
                if rows.height:
                    parts[name].append(rows)
        references = References(paths, loaded)
        for index, file in sorted(chosen.items()):
            kept = loaded.files.get(index)
            if kept is None:  # not an export (skipped with a warning)
                continue
            if reused:
                warnings.extend(kept.warnings)  # what reading the file warns about, as a new reading would
            if kept.tables is not None:  # format B: keys recovered file by file, as the loader does
                recovered = references.keys_recovered(file, kept.export_format, kept.tables)
                origin = {"source": pl.lit(file.source), "project": pl.lit(file.project)}
                for table, frame in recovered.items():
                    if frame.height:
                        parts[table].append(frame.with_columns(**origin))
            snapshot_rows.append(snapshot_row(file, kept, 0))
    return parts, snapshot_rows
