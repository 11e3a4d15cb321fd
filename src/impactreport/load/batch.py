"""Many export files read and normalised a batch at a time, in threads: step 2 of the loader.

Why batches: only the normalised rows outlive a batch, so memory follows the largest batch, not the
number of files; small files of one shape are parsed together (:mod:`impactreport.load.small`), and the
texts of each batch go to the text-metrics workers as soon as it is normalised.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from impactreport.errors import InputError
from impactreport.load.formats import FILE_INDEX, format_of_keys, normalise_files
from impactreport.load.read import NotAnExport, ParsedExport, split_tables
from impactreport.load.rows import FILE, FileTables, Loaded
from impactreport.load.small import SmallExport, parse_alone, parse_stacked, read_export_or_small
from impactreport.metrics import HtmlMetricsPool
from impactreport.snapshots import SnapshotFile

#: Where each text of a document comes from (its introduction is measured with its body).
TEXT_COLUMNS = (
    ("comments", "body_html"),
    ("notes", "body_html"),
    ("documents", "body_html"),
    ("documents", "intro_html"),
)


Progress = Callable[[SnapshotFile], None]
#: Files read and normalised together: at most this many bytes of JSON (gzip counted 4x) or files,
#: unless one file alone is larger. Bounds the memory of reading, whatever the number of files.
BATCH_BYTES = 32_000_000
FIRST_BATCH_BYTES = 4_000_000
BATCH_FILES = 1_000
#: Threads that read and parse the files of a batch, and how many files (up to how many bytes of JSON)
#: one task reads.
READ_THREADS = 2
READ_CHUNK_FILES = 64
READ_CHUNK_BYTES = 1_000_000


def file_size(path: Path) -> int:
    """A file's size in bytes (0 when it cannot be read: its read says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _weight(file: SnapshotFile, size: int) -> int:
    """Bytes of JSON a file holds, roughly: a gzip file counts four times its size."""
    return size * (4 if file.path.name.endswith(".gz") else 1)


def stored_bytes(files: Sequence[SnapshotFile], sizes: Sequence[int]) -> int:
    """JSON bytes to parse, roughly (:func:`_weight` of every file)."""
    return sum(_weight(file, size) for file, size in zip(files, sizes, strict=True))


def _batches(
    order: Sequence[int], files: Sequence[SnapshotFile], sizes: Sequence[int]
) -> Iterator[list[int]]:
    """Files (indexes, in ``order``) in batches of at most :data:`BATCH_BYTES` and :data:`BATCH_FILES`;
    the first of at most :data:`FIRST_BATCH_BYTES`, so that the text-metrics workers get bodies soon."""
    batch: list[int] = []
    total = 0
    limit = FIRST_BATCH_BYTES
    for index in order:
        weight = _weight(files[index], sizes[index])
        if batch and (total + weight > limit or len(batch) >= BATCH_FILES):
            yield batch
            batch, total, limit = [], 0, BATCH_BYTES
        batch.append(index)
        total += weight
    if batch:
        yield batch


def _read(files: Sequence[SnapshotFile]) -> list[ParsedExport | SmallExport | InputError]:
    """Each file read (parsed, or left for a stacked parse), or the error it gave (raised in reading
    order by the caller)."""
    results: list[ParsedExport | SmallExport | InputError] = []
    for file in files:
        try:
            results.append(read_export_or_small(file.path))
        except InputError as error:
            results.append(error)
    return results


def _read_in_threads(
    threads: ThreadPoolExecutor, files: Sequence[SnapshotFile], sizes: Sequence[int]
) -> Iterator[ParsedExport | SmallExport | InputError]:
    """:func:`_read` of every file, in order, by the threads, several small files per task (handing a
    task to a thread costs more than reading a small file)."""
    chunks: list[Sequence[SnapshotFile]] = []
    start = 0
    while start < len(files):
        end, weight = start, 0
        while end < len(files) and end - start < READ_CHUNK_FILES and weight < READ_CHUNK_BYTES:
            weight += _weight(files[end], sizes[end])
            end += 1
        chunks.append(files[start:end])
        start = end
    return itertools.chain.from_iterable(threads.map(_read, chunks))


@dataclass(frozen=True)
class _Group:
    """Files whose rows have one type, parsed (stacked: one row per file, a column per table)."""

    indexes: list[int]
    frame: pl.DataFrame
    rows: dict[str, pl.Struct | None]
    #: per file: (retrieved, source, sha256, warnings)
    about: list[tuple[str | None, str | None, str, tuple[str, ...]]]


def _parsed_group(group: list[tuple[int, ParsedExport]]) -> _Group:
    return _Group(
        indexes=[index for index, _ in group],
        # One contiguous copy: the rows kept must not hold on to every file's small buffers.
        frame=pl.concat([parsed.frame for _, parsed in group], how="vertical", rechunk=True),
        rows=group[0][1].rows,
        about=[(p.retrieved, p.source, p.sha256, p.warnings) for _, p in group],
    )


def _normalise_group(
    group: _Group,
    files: Sequence[SnapshotFile],
    paths: Sequence[Path],
    loaded: Loaded,
    pool: HtmlMetricsPool | None,
) -> None:
    """Normalise the files of a group together (one query per table) and queue their texts."""
    first = files[group.indexes[0]].path
    keys = {f.name for rows in group.rows.values() if rows is not None for f in rows.fields}
    export_format = format_of_keys(keys, path=first)
    stacked = group.frame.with_columns(pl.Series(FILE, group.indexes, dtype=FILE_INDEX))
    # A file's rows: those of its non-empty tables (an array of nulls alone is an empty table).
    counted = [pl.col(name).list.len() for name, rows in group.rows.items() if rows is not None]
    rows = stacked.select(pl.sum_horizontal(counted) if counted else pl.lit(0)).to_series().to_list()
    tables = normalise_files(
        split_tables(stacked, group.rows, keep=(FILE,)), export_format, paths=paths, by=FILE
    )
    del stacked
    if pool is not None:
        pool.add(pl.concat([tables[table][column] for table, column in TEXT_COLUMNS]))
    own = export_format == "B"  # keys recovered file by file
    for index, (retrieved, source, sha256, warnings), count in zip(
        group.indexes, group.about, rows, strict=True
    ):
        file = files[index]
        loaded.files[index] = FileTables(
            index=index,
            file=file,
            source=source or file.source,
            export_format=export_format,
            retrieved=retrieved,
            sha256=sha256,
            rows=count,
            warnings=warnings,
            tables={name: frame.filter(pl.col(FILE) == index).drop(FILE) for name, frame in tables.items()}
            if own
            else None,
        )
    if not own:
        for name, frame in tables.items():
            if frame.height:
                loaded.frames[name].append(frame)


def skip_or_raise(
    file: SnapshotFile, error: InputError, loaded: Loaded, skip_non_exports: bool = False
) -> None:
    """Raise a file's error, unless the file is not an export and is a stray found by a scan (or
    ``skip_non_exports``): then it is skipped with a warning."""
    if isinstance(error, NotAnExport) and skip_non_exports:
        loaded.warnings.append(error.skipped())
        return
    if isinstance(error, NotAnExport) and file.scanned and not file.in_store:
        loaded.warnings.append(f"{error}: skipped (found in a scanned folder; not a project export)")
        return
    raise error


def _parse_small(
    group: list[tuple[int, SmallExport]],
    files: Sequence[SnapshotFile],
    loaded: Loaded,
    skip_non_exports: bool,
) -> tuple[_Group | None, list[tuple[int, ParsedExport]]]:
    """Small exports of one shape parsed in one call; if polars cannot, each alone (for its message)."""
    stacked = parse_stacked([small for _, small in group])
    if stacked is not None:
        frame, rows = stacked
        about: list[tuple[str | None, str | None, str, tuple[str, ...]]] = [
            (s.retrieved, s.source, s.digest(), ()) for _, s in group
        ]
        return _Group([index for index, _ in group], frame, rows, about), []
    alone: list[tuple[int, ParsedExport]] = []
    for index, small in group:
        try:
            alone.append((index, parse_alone(small)))
        except InputError as error:
            skip_or_raise(files[index], error, loaded, skip_non_exports)
    return None, alone


def read_files(
    files: Sequence[SnapshotFile],
    pool: HtmlMetricsPool | None,
    sizes: Sequence[int],
    on_file: Progress | None = None,
    *,
    skip_non_exports: bool = False,
) -> Loaded:
    """Read every file, largest first, in batches; a scanned stray file that is not an export is skipped
    with a warning (with ``skip_non_exports``, any file that is not an export: the history reads every
    file of a listing and skips those).

    Files of a batch are read by threads (reading, gzip, hashing and polars' parser release the
    GIL). A small export is parsed with the others of its shape in one call (see
    :class:`~impactreport.load.small.SmallExport`), any other alone; files whose rows have the same type
    are then normalised in one query (:func:`_normalise_group`) and their texts queued for measuring.
    Only the normalised rows outlive a batch, so memory follows the largest batch, not the number of
    files. Largest first: the peak memory of parsing the biggest export is not stacked on top of
    everything read before it. Rows are put back in discovery order when the tables are assembled.

    Without a ``pool`` the texts are not measured (a reader that needs the rows only, such as the
    history of versions: :meth:`Loaded.tables_of` gives a file's rows, :attr:`Loaded.frames` those
    of every file read with their file's index). ``sizes`` are the files' sizes in bytes.
    """
    loaded = Loaded()
    paths = [file.path for file in files]
    order = sorted(range(len(files)), key=lambda i: -sizes[i])
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read") as threads:
        for batch in _batches(order, files, sizes):
            parsed: dict[tuple[pl.Struct | None, ...], list[tuple[int, ParsedExport]]] = {}
            small: dict[Hashable, list[tuple[int, SmallExport]]] = {}
            results = _read_in_threads(threads, [files[i] for i in batch], [sizes[i] for i in batch])
            for index, result in zip(batch, results, strict=True):
                if on_file is not None:
                    on_file(files[index])
                if isinstance(result, InputError):
                    skip_or_raise(files[index], result, loaded, skip_non_exports)
                elif isinstance(result, SmallExport):
                    small.setdefault(result.shape, []).append((index, result))
                else:
                    parsed.setdefault(tuple(result.rows.values()), []).append((index, result))
            groups: list[_Group] = []
            for same_shape in small.values():
                group, alone = _parse_small(same_shape, files, loaded, skip_non_exports)
                if group is not None:
                    groups.append(group)
                for index, one in alone:
                    parsed.setdefault(tuple(one.rows.values()), []).append((index, one))
            groups.extend(_parsed_group(same_type) for same_type in parsed.values())
            del parsed, small
            for group in groups:
                _normalise_group(group, files, paths, loaded, pool)
    for read in sorted(loaded.files.values(), key=lambda r: r.index):
        loaded.warnings.extend(read.warnings)
    return loaded
