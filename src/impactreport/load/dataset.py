"""Export files → one :class:`~impactreport.schema.Dataset`: every format, every source, one schema.

``load_dataset`` runs six named steps, each a function below:

1. :func:`discover_files` — which files (:mod:`impactreport.snapshots`): the newest snapshot per
   project, or every one; generated demo data below a scanned folder is left out with a notice.
2. :func:`read_files` — read each file (:mod:`.read`), detect its format and map it onto common
   columns (:mod:`.formats`); its HTML goes to the text-metrics workers as soon as it is read.
3. :func:`resolve_files` — recover the keys a format-B file lacks from another snapshot (:mod:`.resolve`).
4. :func:`assemble_tables` — one frame per table over every file: times parsed, duplicate ids within a
   file dropped, snapshots of a project merged (newest version of each row), ids shared by two projects
   of one source reported.
5. :func:`check_references` — drop comments whose thread and notes whose comment is missing.
6. :func:`build_posts` — the ``posts`` hub, with text metrics computed once for all texts.

**Sources are namespaced.** Every row carries its ``source`` (the export's top-level ``source`` field,
else the store folder it sits in, else ``thinklab``); rows are merged and people joined on
(source, profile id), and each post's author is ``person`` = :func:`impactreport.people.account_key`,
so Discourse user 172 and Thinklab profile 172 stay two people.

**Files that are not exports.** A file met while scanning a folder (not named on the command line) and
outside the store's stamp-named snapshots is skipped with a warning naming it when it is evidently not
an export: an HTML page, text or JSON that is not an object, or a JSON object with none of the five
tables (:class:`~impactreport.load.read.NotAnExport`). Anything else that fails — a named file, a store
snapshot, or a damaged export anywhere (corrupt gzip, JSON cut short, some tables missing, unknown row
format) — is the one-line :class:`~impactreport.errors.InputError` it always was.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from impactreport import layout
from impactreport.errors import InputError
from impactreport.load.formats import FILE_INDEX, detect_format, format_of_keys, normalise, normalise_files
from impactreport.load.read import TABLE_NAMES, NotAnExport, ParsedExport, read_export, split_tables
from impactreport.load.resolve import has_missing_keys, resolve_keys
from impactreport.load.small import SmallExport, parse_alone, parse_stacked, read_export_or_small
from impactreport.metrics import TEXT_BASES, HtmlMetricsPool, limited_warning, text_metrics
from impactreport.people import account_key, full_name
from impactreport.schema import Dataset, polars_schema
from impactreport.snapshots import Discovery, SnapshotFile, discover, find
from impactreport.sources import PER_PROJECT_ID_SOURCES

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
TIME_FIELDS = {
    "documents": "doc_published",
    "threads": "published",
    "comments": "published",
    "notes": "added",
}
#: The key that identifies a row of each table (with fallbacks for rows whose id format B lost).
ROW_KEYS = {
    "documents": ("document_id", "url"),
    "threads": ("thread_id", "url"),
    "comments": ("comment_id", "thread_id", "published"),
    "notes": ("note_id", "url"),
    "profiles": ("profile_id", "username"),
}
#: Ids whose sharing by two projects of one source means one "project" is not a project export.
SHARED_ID_CHECKS = {"threads": ("thread_id", "thread"), "comments": ("comment_id", "comment")}
#: Columns of the per-file tables that say where a row came from.
ORIGIN = ("source", "project")
#: Where each text of a document comes from (its introduction is measured with its body).
TEXT_COLUMNS = (
    ("comments", "body_html"),
    ("notes", "body_html"),
    ("documents", "body_html"),
    ("documents", "intro_html"),
)

Progress = Callable[[SnapshotFile], None]
#: Exports (JSON bytes, gzip counted 4x) from which parsing HTML in worker processes pays off.
PARALLEL_MIN_BYTES = 24_000_000
#: The column of the per-file tables that holds the file's index in discovery order.
FILE = "_file"
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


# --- step 1: discover ------------------------------------------------------------------------------


def discover_files(
    paths: Sequence[str | Path],
    *,
    all_snapshots: bool,
    projects: Sequence[str] | None,
    option: str = "--project",
) -> Discovery:
    """The files to read, restricted to ``projects``.

    An unknown project name is an error naming ``option`` as the user typed it (``--project`` on the
    command line, ``parameter projects`` in the report) and listing the projects found.
    """
    found = find(paths, all_snapshots=all_snapshots)
    if not projects:
        return found
    wanted = set(projects)
    present = {f.project for f in found.files}
    unknown = [name for name in projects if name not in present]
    if unknown:
        names = sorted(present, key=str.lower)
        listed = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        raise InputError(
            f"{option} {', '.join(unknown)}: not among the projects in "
            f"{', '.join(map(str, paths))} (found: {listed})"
        )
    return Discovery([f for f in found.files if f.project in wanted], found.notices)


# --- step 2: read ----------------------------------------------------------------------------------


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _weight(file: SnapshotFile, size: int) -> int:
    """Bytes of JSON a file holds, roughly: a gzip file counts four times its size."""
    return size * (4 if file.path.name.endswith(".gz") else 1)


def _stored_bytes(files: Sequence[SnapshotFile], sizes: Sequence[int]) -> int:
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


def _skip_or_raise(file: SnapshotFile, error: InputError, loaded: Loaded) -> None:
    """Raise a file's error, unless the file is a stray found by a scan that is not an export: then
    it is skipped with a warning."""
    if isinstance(error, NotAnExport) and file.scanned and not file.in_store:
        loaded.warnings.append(f"{error}: skipped (found in a scanned folder; not a project export)")
        return
    raise error


def _parse_small(
    group: list[tuple[int, SmallExport]], files: Sequence[SnapshotFile], loaded: Loaded
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
            _skip_or_raise(files[index], error, loaded)
    return None, alone


def read_files(
    files: Sequence[SnapshotFile],
    pool: HtmlMetricsPool | None,
    sizes: Sequence[int],
    on_file: Progress | None = None,
) -> Loaded:
    """Read every file, largest first, in batches; a scanned stray file that is not an export is skipped
    with a warning.

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
                    _skip_or_raise(files[index], result, loaded)
                elif isinstance(result, SmallExport):
                    small.setdefault(result.shape, []).append((index, result))
                else:
                    parsed.setdefault(tuple(result.rows.values()), []).append((index, result))
            groups: list[_Group] = []
            for same_shape in small.values():
                group, alone = _parse_small(same_shape, files, loaded)
                if group is not None:
                    groups.append(group)
                for index, one in alone:
                    parsed.setdefault(tuple(one.rows.values()), []).append((index, one))
            groups.extend(_parsed_group(same_type) for same_type in parsed.values())
            del parsed, small
            for group in groups:
                _normalise_group(group, files, paths, loaded, pool)
    if files and not loaded.files:
        raise InputError(
            f"{', '.join(str(f.path) for f in files[:3])}{' …' if len(files) > 3 else ''}: "
            "no project export among the files found (each was skipped as not an export)"
        )
    for read in sorted(loaded.files.values(), key=lambda r: r.index):
        loaded.warnings.extend(read.warnings)
        if read.rows == 0:
            loaded.warnings.append(f"{read.file.path}: empty export (no rows in any table)")
    return loaded


# --- step 3: resolve -------------------------------------------------------------------------------


class References:
    """Snapshots with ids that can resolve format-B keys, read at most once each."""

    def __init__(self, paths: Sequence[str | Path], loaded: Loaded) -> None:
        self._paths = paths
        self._all: list[SnapshotFile] | None = None
        self._loaded = loaded
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


# --- step 4: assemble ------------------------------------------------------------------------------


def _parse_times(frame: pl.DataFrame, table: str, paths: Sequence[Path]) -> pl.DataFrame:
    """Timestamps as UTC datetimes; an unparseable one is an error naming the file and field."""
    parsed = pl.col("published").str.to_datetime(TIME_FORMAT, time_unit="us", time_zone="UTC", strict=False)
    out = frame.with_columns(parsed.alias("_time"))
    unparsed = pl.col("_time").is_null() & pl.col("published").is_not_null()
    if out.select(unparsed.any()).item():
        fallback = pl.col("published").str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        out = out.with_columns(pl.coalesce("_time", fallback).alias("_time"))
        bad = out.filter(unparsed)
        if bad.height:
            raise InputError(
                f"{paths[bad['_file'][0]]}: field {table}.{TIME_FIELDS[table]} holds value(s) that are not "
                f"ISO 8601 times, e.g. {bad['published'][0]!r}"
            )
    return out.drop("published").rename({"_time": "published"})


def _drop_duplicate_ids(
    frame: pl.DataFrame, table: str, paths: Sequence[Path], warnings: list[str]
) -> pl.DataFrame:
    """Keep the first row of each id within a file; warn per file with the count dropped."""
    key = ROW_KEYS[table][0]
    repeat = pl.col(key).is_not_null() & (pl.int_range(pl.len()).over(FILE, key) > 0)
    # The repeats are found on the two key columns only: filtering the whole frame would copy its texts.
    repeated = frame.select(FILE, key).select(repeat.alias("_repeat"))["_repeat"]
    if not repeated.any():
        return frame
    counts = frame.filter(repeated).group_by(FILE).len().sort(FILE)
    for file_index, count in counts.iter_rows():
        warnings.append(
            f"{paths[file_index]}: {count} duplicate {table} id(s) dropped (kept the first of each)"
        )
    return frame.filter(~repeated)


def _combine(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Rows of several snapshots of a project: each row once, its newest version (files are oldest first)."""
    key_columns = ROW_KEYS[table]
    key = pl.coalesce(
        pl.col(key_columns[0]).cast(pl.String),
        pl.concat_str([pl.col(c).cast(pl.String) for c in key_columns[1:]], separator="|"),
    )
    return (
        frame.with_columns(key.alias("_key"))
        .unique([*ORIGIN, "_key"], keep="last", maintain_order=True)
        .drop("_key")
    )


def _shared_ids(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Ids held by several projects of one source: source, projects (sorted), first file of each.

    One row per distinct set of projects, with how many ids that set shares (``count``): a grouping,
    not a self-join, so a hundred copies of one export cost no more than two.
    """
    held = (
        frame.filter(pl.col(key).is_not_null() & ~pl.col("source").is_in(PER_PROJECT_ID_SOURCES))
        .group_by(*ORIGIN, key)
        .agg(pl.col("_file").min())
        .sort("project", "_file")
    )
    return (
        held.group_by("source", key, maintain_order=True)
        .agg("project", "_file")
        .filter(pl.col("project").list.len() > 1)
        .group_by("source", "project")
        .agg(pl.len().alias("count"), pl.col("_file").first())
    )


def _groups(sets: Sequence[Sequence[str]]) -> list[list[str]]:
    """Projects linked by shared ids, as groups (connected components), each sorted."""
    parent: dict[str, str] = {}

    def root(project: str) -> str:
        while parent.setdefault(project, project) != project:
            project = parent[project]
        return project

    for projects in sets:
        for other in projects[1:]:
            parent[root(other)] = root(projects[0])
    groups: dict[str, list[str]] = {}
    for project in parent:
        groups.setdefault(root(project), []).append(project)
    return sorted(sorted(group) for group in groups.values())


def _listing(items: Sequence[str], most: int = 4) -> str:
    """``a and b``, ``a, b and c``; past ``most`` items, ``a, b, c and 7 more``."""
    if len(items) > most:
        return f"{', '.join(items[: most - 1])} and {len(items) - most + 1} more"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def warn_shared_ids(tables: dict[str, pl.DataFrame], paths: Sequence[Path], warnings: list[str]) -> None:
    """Warn, naming the files, when projects of one source hold the same thread or comment ids.

    Ids are global within a source, so this only happens when a file that is not the export of a
    project is read as one (a format example beside the real exports, a copy under another name).
    Projects linked by shared ids give one warning: for two, "the same 40 thread ids in projects "a"
    and "b""; for more, how many ids appear in more than one of them.
    """
    for source in sorted(set(tables["threads"]["source"]) | set(tables["comments"]["source"])):
        shared = {
            noun: _shared_ids(tables[table].filter(pl.col("source") == source), key)
            for table, (key, noun) in SHARED_ID_CHECKS.items()
        }
        files: dict[str, int] = {}
        sets: list[list[str]] = []
        for frame in shared.values():
            for projects, file_indexes in frame.select("project", "_file").iter_rows():
                sets.append(projects)
                for project, file in zip(projects, file_indexes, strict=True):
                    files[project] = min(files.get(project, file), file)
        for group in _groups(sets):
            members = set(group)
            counts = []
            for noun, frame in shared.items():
                count = sum(
                    n
                    for projects, n in frame.select("project", "count").iter_rows()
                    if projects[0] in members
                )
                if count:
                    counts.append(f"{count} {noun} id{'s' if count > 1 else ''}")
            named = _listing([str(paths[files[project]]) for project in group])
            projects = _listing([f'"{project}"' for project in group])
            if len(group) == 2:
                warnings.append(
                    f"{named}: the same {' and '.join(counts)} in projects {projects}: "
                    "one is probably not a project export"
                )
            else:
                warnings.append(
                    f"{named}: projects {projects} hold the same ids ({' and '.join(counts)} appear in more "
                    "than one of them): all but one are probably not project exports"
                )


def _table_frame(loaded: Loaded, table: str) -> pl.DataFrame:
    """One table of every file, in discovery order, with the columns that say where rows came from."""
    own = [
        read.tables[table].select(pl.lit(read.index, dtype=FILE_INDEX).alias(FILE), pl.all())
        for read in loaded.files.values()
        if read.tables is not None
    ]
    frames = [*loaded.frames[table], *own]
    frame = (
        pl.concat(frames, how="vertical_relaxed")
        if frames
        else normalise_files({}, "C", paths=[], by=FILE)[table]
    )
    reads = sorted(loaded.files.values(), key=lambda r: r.index)
    indexes = pl.Series([read.index for read in reads], dtype=FILE_INDEX)
    origin = {
        "source": pl.Series([read.source for read in reads], dtype=pl.String),
        "project": pl.Series([read.file.project for read in reads], dtype=pl.String),
    }
    return frame.sort(FILE, maintain_order=True).with_columns(
        pl.col(FILE).replace_strict(indexes, values).alias(name) for name, values in origin.items()
    )


def assemble_tables(
    loaded: Loaded, paths: Sequence[Path], *, several_per_project: bool
) -> dict[str, pl.DataFrame]:
    """The five tables over every file, in the schema's columns and types.

    Per table: times parsed, duplicate ids within a file dropped, snapshots of a project merged; then
    ids shared by two projects of one source are reported (:func:`warn_shared_ids`).
    """
    tables: dict[str, pl.DataFrame] = {}
    for table in TABLE_NAMES:
        frame = _table_frame(loaded, table)
        if table in TIME_FIELDS:
            frame = _parse_times(frame, table, paths)
        frame = _drop_duplicate_ids(frame, table, paths, loaded.warnings)
        if several_per_project:
            frame = _combine(frame, table)
        tables[table] = frame
    warn_shared_ids(tables, paths, loaded.warnings)
    tables["profiles"] = _with_names(tables["profiles"])
    return {name: _frame(name, frame) for name, frame in tables.items()}


def _with_names(profiles: pl.DataFrame) -> pl.DataFrame:
    """Add ``name``: first and last name joined and trimmed, the username when both are empty."""
    name = full_name()
    return profiles.with_columns(pl.when(name == "").then(pl.col("username")).otherwise(name).alias("name"))


def _frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A table in exactly the schema's columns and types."""
    schema = polars_schema(table)
    missing = [pl.lit(None, dtype=schema[c]).alias(c) for c in schema.names() if c not in frame.columns]
    return frame.with_columns(missing).select(schema.names()).cast(schema)


# --- step 5: check references ----------------------------------------------------------------------


def check_references(tables: dict[str, pl.DataFrame], warnings: list[str]) -> dict[str, pl.DataFrame]:
    """Drop comments and notes whose thread or comment is missing; warn with counts.

    A note's thread is its comment's thread (the note url's thread when the comment is unknown).
    """
    thread_key = [*ORIGIN, "thread_id"]
    comment_key = [*ORIGIN, "comment_id"]
    threads = tables["threads"].select(thread_key)
    comments = tables["comments"]
    dangling = comments.join(threads, on=thread_key, how="anti")
    if dangling.height:
        warnings.append(f"{dangling.height} comment(s) dropped: their thread is not in the export")
        comments = comments.join(threads, on=thread_key, how="semi")
    notes = tables["notes"]
    known = comments.filter(pl.col("comment_id").is_not_null()).select(comment_key)
    # Notes of a project with unresolved comment ids cannot be checked: keep them.
    checkable = notes.join(
        comments.group_by(ORIGIN).agg(pl.col("comment_id").null_count().alias("_unknown")),
        on=list(ORIGIN),
        how="left",
    ).filter(pl.col("_unknown").fill_null(0) == 0)
    orphans = checkable.join(known, on=comment_key, how="anti")
    if orphans.height:
        warnings.append(f"{orphans.height} note(s) dropped: their comment is not in the export")
        notes = notes.join(orphans.select(*ORIGIN, "note_id"), on=[*ORIGIN, "note_id"], how="anti")
    notes = (
        notes.join(
            comments.select(*comment_key, pl.col("thread_id").alias("_comment_thread")),
            on=comment_key,
            how="left",
        )
        .with_columns(pl.coalesce("_comment_thread", "thread_id").alias("thread_id"))
        .drop("_comment_thread")
    )
    return {**tables, "comments": comments, "notes": notes}


# --- step 6: build posts ---------------------------------------------------------------------------


def _people(profiles: pl.DataFrame) -> pl.DataFrame:
    """One row per person (source, profile id) with username, full name and bot flag."""
    return (
        profiles.filter(pl.col("profile_id").is_not_null())
        .unique(["source", "profile_id"], keep="last", maintain_order=True)
        .select("source", "profile_id", "username", "name", "is_bot")
    )


def _texts(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every authored text as a post row, with ``_row`` (its key) and a document's introduction beside it."""
    no_int = pl.lit(None, dtype=pl.Int64)
    no_text = pl.lit(None, dtype=pl.String)

    def rows(frame: pl.DataFrame, kind: str, key: str, **columns: pl.Expr) -> pl.DataFrame:
        """One table's texts as posts; ``columns`` overrides what the table lacks."""
        named: dict[str, pl.Expr] = {
            "post_id": pl.col(key),
            **{c: pl.col(c) for c in ("thread_id", "profile_id", "views", "intro_md", "intro_html")},
            **columns,
        }
        return frame.select(
            *ORIGIN,
            *(expr.alias(name) for name, expr in named.items()),
            "published",
            pl.lit(kind).alias("kind"),
            "body_md",
            "body_html",
        )

    no_intro = {"intro_md": no_text, "intro_html": no_text}
    frames = [
        rows(tables["comments"], "comment", "comment_id", views=no_int, **no_intro),
        rows(tables["notes"], "note", "note_id", views=no_int, **no_intro),
        rows(tables["documents"], "document", "document_id", thread_id=no_int, profile_id=no_int),
    ]
    return pl.concat(frames, how="vertical_relaxed").with_row_index("_row")


def _measure(texts: pl.DataFrame, text_basis: str, pool: HtmlMetricsPool) -> pl.DataFrame:
    """``_row``, ``characters``, ``words``, ``dois`` per post: a document's introduction plus its body.

    Bodies and introductions are measured in one batch, each carrying its post's ``_row``; the two
    parts of a document are then joined by that key (not by their position in the batch).
    """
    parts = pl.concat(
        [
            texts.select("_row", "body_md", "body_html", pl.lit(False).alias("_intro")),
            texts.filter(pl.col("kind") == "document").select(
                "_row",
                pl.col("intro_md").alias("body_md"),
                pl.col("intro_html").alias("body_html"),
                pl.lit(True).alias("_intro"),
            ),
        ]
    )
    metrics = text_metrics(
        parts.select("body_md", "body_html"), text_basis=text_basis, pool=pool, with_limits=True
    )
    # text_metrics answers row for row: the key columns go back beside the answers of their own rows.
    measured = pl.concat([parts.select("_row", "_intro"), metrics], how="horizontal")
    intros = measured.filter(pl.col("_intro")).select(
        "_row",
        pl.col("characters").alias("_intro_characters"),
        pl.col("words").alias("_intro_words"),
        pl.col("dois").alias("_intro_dois"),
        pl.col("html_limited").alias("_intro_limited"),
    )
    has_intro = pl.col("_intro_dois").is_not_null()
    return (
        measured.filter(~pl.col("_intro"))
        .drop("_intro")
        .join(intros, on="_row", how="left")
        .select(
            "_row",
            (pl.col("characters") + pl.col("_intro_characters").fill_null(0)).alias("characters"),
            (pl.col("words") + pl.col("_intro_words").fill_null(0)).alias("words"),
            pl.when(has_intro)
            .then(pl.concat_list("dois", "_intro_dois").list.unique().list.sort())
            .otherwise(pl.col("dois"))
            .alias("dois"),
            (pl.col("html_limited") | pl.col("_intro_limited").fill_null(False)).alias("html_limited"),
        )
    )


def build_posts(
    tables: dict[str, pl.DataFrame], text_basis: str, pool: HtmlMetricsPool, warnings: list[str]
) -> pl.DataFrame:
    """The hub: one row per authored text with its author (``person``) and metrics.

    A post whose HTML was too deeply nested to measure exactly at bounded cost is a warning naming it.
    """
    texts = _texts(tables)
    metrics = _measure(texts, text_basis, pool)
    limited = texts.join(metrics.filter("html_limited"), on="_row", how="semi")
    for source, project, kind, post_id in limited.select("source", "project", "kind", "post_id").iter_rows():
        warnings.append(limited_warning(f"{source} project {project}, {kind} {post_id}"))
    metrics = metrics.drop("html_limited")
    posts = (
        texts.join(metrics, on="_row", how="left", maintain_order="left")
        .join(_people(tables["profiles"]), on=["source", "profile_id"], how="left", maintain_order="left")
        .with_columns(pl.col("is_bot").fill_null(False), account_key().alias("person"))
    )
    return posts.select(polars_schema("posts").names())


# --- the whole path --------------------------------------------------------------------------------


def _snapshot_table(loaded: Loaded) -> pl.DataFrame:
    """One row per file read: where it came from, its format, when it was retrieved, its rows."""
    rows = [
        {
            "source": read.source,
            "project": read.file.project,
            "path": str(read.file.path),
            "format": read.export_format if read.source == "thinklab" else read.source,
            "retrieved": read.retrieved,
            "sha256": read.sha256,
            "rows": read.rows,
        }
        for read in sorted(loaded.files.values(), key=lambda r: r.index)
    ]
    return pl.DataFrame(
        rows, schema={**polars_schema("snapshots"), "retrieved": pl.String}, orient="row"
    ).with_columns(pl.col("retrieved").str.to_datetime(time_unit="us", time_zone="UTC", strict=False))


def _usernames_known(posts: pl.DataFrame, loaded: Loaded, *, unresolved_warned: bool) -> bool:
    """Whether every author has a username (else the team filter cannot see some of them)."""
    authored = posts.filter(pl.col("kind") != "document")
    unknown = authored.filter(pl.col("username").is_null() & pl.col("profile_id").is_not_null())
    if unknown.height and not unresolved_warned:
        loaded.warnings.append(
            f"{unknown['person'].n_unique()} author id(s) without a profile: counted by id; "
            "the team filter cannot see them"
        )
    return unknown.height == 0


def warn_several_forums(posts: pl.DataFrame, warnings: list[str]) -> None:
    """Warn when Discourse projects come from more than one forum.

    Why: each forum numbers its own users, and a person is ``discourse:<user id>``, so user 5 of one
    forum and user 5 of another would count as one person. Categories of one forum share its users
    and are fine.
    """
    projects = posts.filter(pl.col("source") == "discourse")["project"].unique().to_list()
    forums = sorted({project.split(layout.FORUM_CATEGORY_SEPARATOR)[0] for project in projects})
    if len(forums) > 1:
        warnings.append(
            f"Discourse projects from {len(forums)} forums ({_listing(forums)}): each forum numbers its "
            "own users, so users with the same id on two forums count as one person here; "
            "count people one forum at a time (--project)"
        )


def load_dataset(
    paths: Sequence[str | Path] | str | Path,
    *,
    text_basis: str = "html",
    all_snapshots: bool = False,
    projects: Sequence[str] | None = None,
    on_file: Progress | None = None,
    project_option: str = "--project",
    found: Discovery | None = None,
) -> Dataset:
    """Load export files, folders of them or a ``data/exports`` tree into one :class:`Dataset`.

    ``all_snapshots`` reads every snapshot of each project (rows are the union, newest version of each
    row winning) instead of only the newest. ``projects`` keeps only those projects (by name).
    ``on_file`` is called before each file is read (for progress displays). ``project_option`` is how
    the user named ``projects`` (for the error about a project not in the data). ``found``: the files
    to read, already chosen from one listing of the store (:mod:`impactreport.load.as_of`); ``paths``
    then only says where format-B files find the ids they lack.
    """
    if text_basis not in TEXT_BASES:
        raise InputError(f"--text-basis must be one of {', '.join(TEXT_BASES)}, not {text_basis!r}")
    if isinstance(paths, str | Path):
        paths = [paths]
    if found is None:
        found = discover_files(paths, all_snapshots=all_snapshots, projects=projects, option=project_option)
    files = found.files
    sizes = [_size(file.path) for file in files]
    # Worker processes start now and parse each file's HTML while the next file is read.
    with HtmlMetricsPool(parallel=_stored_bytes(files, sizes) >= PARALLEL_MIN_BYTES) as pool:
        loaded = read_files(files, pool, sizes, on_file)
        loaded.warnings[:0] = found.notices
        before = len(loaded.warnings)
        resolve_files(loaded, paths)
        unresolved_warned = len(loaded.warnings) > before
        several = len(loaded.files) > len({(r.source, r.file.project) for r in loaded.files.values()})
        tables = assemble_tables(loaded, [file.path for file in files], several_per_project=several)
        tables = check_references(tables, loaded.warnings)
        posts = build_posts(tables, text_basis, pool, loaded.warnings)
    warn_several_forums(posts, loaded.warnings)
    usernames_known = _usernames_known(posts, loaded, unresolved_warned=unresolved_warned)
    return Dataset(
        profiles=tables["profiles"],
        documents=tables["documents"],
        threads=tables["threads"],
        comments=tables["comments"],
        notes=tables["notes"],
        posts=posts,
        snapshots=_snapshot_table(loaded),
        text_basis=text_basis,
        usernames_known=usernames_known,
        warnings=tuple(loaded.warnings),
    )


__all__ = ["load_dataset"]
