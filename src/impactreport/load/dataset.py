"""Export files → one :class:`~impactreport.schema.Dataset`: every format, every source, one schema.

The path is: discover the files (:mod:`.snapshots`) → read each (:mod:`.read`) → detect its format and
map it onto common columns (:mod:`.formats`) → recover keys a format-B file lacks (:mod:`.resolve`) →
check and join the tables of all files → build the ``posts`` hub with text metrics computed once
(:mod:`impactreport.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from impactreport.errors import InputError
from impactreport.load.formats import detect_format, normalise
from impactreport.load.read import TABLE_NAMES, read_export
from impactreport.load.resolve import has_missing_keys, resolve_keys
from impactreport.load.snapshots import SnapshotFile, discover
from impactreport.metrics import TEXT_BASES, HtmlMetricsPool, text_metrics
from impactreport.schema import Dataset, polars_schema

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

Progress = Callable[[SnapshotFile], None]
#: Exports (JSON bytes, gzip counted 4x) from which parsing HTML in worker processes pays off.
PARALLEL_MIN_BYTES = 24_000_000


@dataclass
class _Loaded:
    """Tables of every file read so far, and what went wrong along the way."""

    tables: dict[str, dict[int, pl.DataFrame]] = field(default_factory=lambda: {n: {} for n in TABLE_NAMES})
    snapshots: dict[int, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unresolved: list[Path] = field(default_factory=list)


def _parse_times(frame: pl.DataFrame, table: str, paths: list[Path]) -> pl.DataFrame:
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
    frame: pl.DataFrame, table: str, paths: list[Path], warnings: list[str]
) -> pl.DataFrame:
    """Keep the first row of each id within a file; warn per file with the count dropped."""
    key = ROW_KEYS[table][0]
    repeat = pl.col(key).is_not_null() & (pl.int_range(pl.len()).over("_file", key) > 0)
    counts = frame.filter(repeat).group_by("_file").len().sort("_file")
    for file_index, count in counts.iter_rows():
        warnings.append(
            f"{paths[file_index]}: {count} duplicate {table} id(s) dropped (kept the first of each)"
        )
    return frame.filter(~repeat) if counts.height else frame


class _References:
    """Snapshots with ids that can resolve format-B keys, read at most once each."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self._paths = paths
        self._all: list[SnapshotFile] | None = None
        self._cache: dict[Path, dict[str, pl.DataFrame] | None] = {}

    def for_file(self, file: SnapshotFile) -> dict[str, pl.DataFrame] | None:
        """The nearest later snapshot of the same project with ids (then earlier ones), or None."""
        if self._all is None:
            self._all = discover(self._paths, all_snapshots=True)
        same = [f for f in self._all if f.project == file.project and f.path != file.path]
        later = [f for f in same if f.order > file.order]
        earlier = [f for f in same if f.order <= file.order][::-1]
        for candidate in later + earlier:
            tables = self._read(candidate.path)
            if tables is not None:
                return tables
        return None

    def _read(self, path: Path) -> dict[str, pl.DataFrame] | None:
        if path not in self._cache:
            try:
                raw = read_export(path)
                export_format = detect_format(raw.tables, path=path)
            except InputError:
                self._cache[path] = None
            else:
                self._cache[path] = None if export_format == "B" else normalise(raw.tables, export_format)
        return self._cache[path]


def _read_file(
    file: SnapshotFile, references: _References, loaded: _Loaded, index: int, pool: HtmlMetricsPool
) -> None:
    raw = read_export(file.path)
    export_format = detect_format(raw.tables, path=file.path)
    tables = normalise(raw.tables, export_format)
    texts = [
        ("comments", "body_html"),
        ("notes", "body_html"),
        ("documents", "body_html"),
        ("documents", "intro_html"),
    ]
    pool.add(pl.concat([tables[table][column] for table, column in texts]))
    if export_format == "B" and has_missing_keys(tables):
        reference = references.for_file(file)
        tables = resolve_keys(tables, reference)
        if reference is None:
            loaded.unresolved.append(file.path)
    rows = 0
    for name in TABLE_NAMES:
        rows += tables[name].height
        loaded.tables[name][index] = tables[name].with_columns(
            pl.lit(file.project).alias("project"), pl.lit(index, dtype=pl.Int32).alias("_file")
        )
    if rows == 0:
        loaded.warnings.append(f"{file.path}: empty export (no rows in any table)")
    loaded.snapshots[index] = {
        "source": raw.source or file.source,
        "project": file.project,
        "path": str(file.path),
        "format": export_format if (raw.source or file.source) == "thinklab" else (raw.source or file.source),
        "retrieved": raw.retrieved,
        "sha256": raw.sha256,
        "rows": rows,
    }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _combine(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Rows of several snapshots of a project: each row once, its newest version (files are oldest first)."""
    key_columns = ROW_KEYS[table]
    key = pl.coalesce(
        pl.col(key_columns[0]).cast(pl.String),
        pl.concat_str([pl.col(c).cast(pl.String) for c in key_columns[1:]], separator="|"),
    )
    return (
        frame.with_columns(key.alias("_key"))
        .unique(["project", "_key"], keep="last", maintain_order=True)
        .drop("_key")
    )


def _assemble(loaded: _Loaded, table: str, paths: list[Path], several_per_project: bool) -> pl.DataFrame:
    """One table over every file: times parsed, duplicate ids dropped, snapshots merged."""
    frame = pl.concat([loaded.tables[table][i] for i in sorted(loaded.tables[table])], how="vertical_relaxed")
    if table in TIME_FIELDS:
        frame = _parse_times(frame, table, paths)
    frame = _drop_duplicate_ids(frame, table, paths, loaded.warnings)
    if several_per_project:
        frame = _combine(frame, table)
    return frame.drop("_file")


def _check_references(tables: dict[str, pl.DataFrame], warnings: list[str]) -> dict[str, pl.DataFrame]:
    """Drop comments and notes whose thread or comment is missing; warn with counts."""
    threads = tables["threads"].select("project", "thread_id")
    comments = tables["comments"]
    dangling = comments.join(threads, on=["project", "thread_id"], how="anti")
    if dangling.height:
        warnings.append(f"{dangling.height} comment(s) dropped: their thread is not in the export")
        comments = comments.join(threads, on=["project", "thread_id"], how="semi")
    notes = tables["notes"]
    known = comments.filter(pl.col("comment_id").is_not_null()).select("project", "comment_id")
    checkable = notes.join(
        comments.group_by("project").agg(pl.col("comment_id").null_count().alias("_unknown")),
        on="project",
        how="left",
    ).filter(pl.col("_unknown").fill_null(0) == 0)
    orphans = checkable.join(known, on=["project", "comment_id"], how="anti")
    if orphans.height:
        warnings.append(f"{orphans.height} note(s) dropped: their comment is not in the export")
        notes = notes.join(orphans.select("project", "note_id"), on=["project", "note_id"], how="anti")
    notes = (
        notes.join(
            comments.select("project", "comment_id", pl.col("thread_id").alias("_comment_thread")),
            on=["project", "comment_id"],
            how="left",
        )
        .with_columns(pl.coalesce("_comment_thread", "thread_id").alias("thread_id"))
        .drop("_comment_thread")
    )
    return {**tables, "comments": comments, "notes": notes}


def _with_names(profiles: pl.DataFrame) -> pl.DataFrame:
    """Add ``name``: first and last name joined and trimmed, the username when both are empty."""
    name = pl.concat_str(
        [
            pl.col("first_name").fill_null("").str.strip_chars(),
            pl.col("last_name").fill_null("").str.strip_chars(),
        ],
        separator=" ",
    ).str.strip_chars()
    return profiles.with_columns(pl.when(name == "").then(pl.col("username")).otherwise(name).alias("name"))


def _people(profiles: pl.DataFrame) -> pl.DataFrame:
    """One row per person (global profile id) with username, full name and bot flag."""
    return (
        profiles.filter(pl.col("profile_id").is_not_null())
        .unique("profile_id", keep="last", maintain_order=True)
        .select("profile_id", "username", "name", "is_bot")
    )


def _posts(
    tables: dict[str, pl.DataFrame], people: pl.DataFrame, text_basis: str, pool: HtmlMetricsPool
) -> pl.DataFrame:
    """The hub: one row per authored text with its metrics, computed once for all texts together."""
    comments, notes, documents = tables["comments"], tables["notes"], tables["documents"]
    common = ["project", "post_id", "thread_id", "profile_id", "published", "views"]
    no_int = pl.lit(None, dtype=pl.Int64)

    def rows(frame: pl.DataFrame, kind: str, key: str, **columns: pl.Expr) -> pl.DataFrame:
        """One table's texts as posts; ``columns`` overrides what the table lacks."""
        named = {
            "post_id": pl.col(key),
            **{c: pl.col(c) for c in ("thread_id", "profile_id", "views")},
            **columns,
        }
        return frame.select(
            "project",
            *(expr.alias(name) for name, expr in named.items()),
            "published",
            pl.lit(kind).alias("kind"),
            "body_md",
            "body_html",
        )

    frames = [
        rows(comments, "comment", "comment_id", views=no_int),
        rows(notes, "note", "note_id", views=no_int),
        rows(documents, "document", "document_id", thread_id=no_int, profile_id=no_int),
    ]
    posts = pl.concat(frames, how="vertical_relaxed")
    intros = documents.select("intro_md", "intro_html").rename(
        {"intro_md": "body_md", "intro_html": "body_html"}
    )
    metrics = text_metrics(
        pl.concat([posts.select("body_md", "body_html"), intros]), text_basis=text_basis, pool=pool
    )
    body_metrics = metrics.head(posts.height)
    if documents.height:
        # A document's text is its introduction and its body (documents are the last rows of `posts`).
        intro = metrics.tail(documents.height)
        document_rows = body_metrics.tail(documents.height).with_columns(
            pl.col("characters") + intro["characters"],
            pl.col("words") + intro["words"],
            pl.concat_list(pl.col("dois"), intro["dois"]).list.unique().list.sort().alias("dois"),
        )
        body_metrics = pl.concat([body_metrics.head(posts.height - documents.height), document_rows])
    posts = pl.concat([posts.select([*common, "kind"]), body_metrics], how="horizontal")
    posts = posts.join(people, on="profile_id", how="left", maintain_order="left")
    return posts.with_columns(pl.col("is_bot").fill_null(False)).select(polars_schema("posts").names())


def _frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A table in exactly the schema's columns and types."""
    schema = polars_schema(table)
    missing = [pl.lit(None, dtype=schema[c]).alias(c) for c in schema.names() if c not in frame.columns]
    return frame.with_columns(missing).select(schema.names()).cast(dict(schema))


def load_dataset(
    paths: Sequence[str | Path] | str | Path,
    *,
    text_basis: str = "html",
    all_snapshots: bool = False,
    projects: Sequence[str] | None = None,
    on_file: Progress | None = None,
) -> Dataset:
    """Load export files, folders of them or a ``data/exports`` tree into one :class:`Dataset`.

    ``all_snapshots`` reads every snapshot of each project (rows are the union, newest version of each
    row winning) instead of only the newest. ``projects`` keeps only those projects (by name).
    ``on_file`` is called before each file is read (for progress displays).
    """
    if text_basis not in TEXT_BASES:
        raise InputError(f"--text-basis must be one of {', '.join(TEXT_BASES)}, not {text_basis!r}")
    if isinstance(paths, str | Path):
        paths = [paths]
    files = discover(paths, all_snapshots=all_snapshots)
    if projects:
        wanted = set(projects)
        unknown = wanted - {f.project for f in files}
        if unknown:
            raise InputError(
                f"--project {', '.join(sorted(unknown))}: "
                f"not among the exports in {', '.join(map(str, paths))}"
            )
        files = [f for f in files if f.project in wanted]
    # Worker processes start now and parse each file's HTML while the next file is read.
    sizes = [_size(file.path) for file in files]
    stored = sum(
        size * (4 if file.path.name.endswith(".gz") else 1) for size, file in zip(sizes, files, strict=True)
    )
    with HtmlMetricsPool(parallel=stored >= PARALLEL_MIN_BYTES) as pool:
        references = _References(paths)
        loaded = _Loaded()
        # Largest files first: the peak memory of parsing the biggest export is not stacked on top of
        # everything read before it. Rows are put back in discovery order afterwards.
        for index in sorted(range(len(files)), key=lambda i: -sizes[i]):
            file = files[index]
            if on_file is not None:
                on_file(file)
            _read_file(file, references, loaded, index, pool)
        if loaded.unresolved:
            first = loaded.unresolved[0]
            more = f" and {len(loaded.unresolved) - 1} more" if len(loaded.unresolved) > 1 else ""
            loaded.warnings.append(
                f"{first}{more}: format B (no ids) and no other snapshot of the project to resolve them: "
                "authors are counted by id; usernames, and so the team filter, are unavailable"
            )
        paths_by_index = [file.path for file in files]
        several = len(files) > len({(file.source, file.project) for file in files})
        tables = {name: _assemble(loaded, name, paths_by_index, several) for name in TABLE_NAMES}
        tables["profiles"] = _with_names(tables["profiles"])
        tables = {name: _frame(name, frame) for name, frame in tables.items()}
        tables = _check_references(tables, loaded.warnings)
        people = _people(tables["profiles"])
        posts = _posts(tables, people, text_basis, pool)
    authored = posts.filter(pl.col("kind") != "document")
    unknown_authors = authored.filter(pl.col("username").is_null() & pl.col("profile_id").is_not_null())
    usernames_known = unknown_authors.height == 0
    if not usernames_known:
        missing = unknown_authors["profile_id"].n_unique()
        if not loaded.unresolved:
            loaded.warnings.append(
                f"{missing} author id(s) without a profile: counted by id; the team filter cannot see them"
            )
    snapshot_rows = [loaded.snapshots[i] for i in sorted(loaded.snapshots)]
    snapshots = pl.DataFrame(
        snapshot_rows, schema={**polars_schema("snapshots"), "retrieved": pl.String}, orient="row"
    ).with_columns(pl.col("retrieved").str.to_datetime(time_unit="us", time_zone="UTC", strict=False))
    return Dataset(
        profiles=tables["profiles"],
        documents=tables["documents"],
        threads=tables["threads"],
        comments=tables["comments"],
        notes=tables["notes"],
        posts=posts,
        snapshots=snapshots,
        text_basis=text_basis,
        usernames_known=usernames_known,
        warnings=tuple(loaded.warnings),
    )


__all__ = ["load_dataset"]
