"""The rows of every file read → the five tables in the schema: steps 4 and 5 of the loader.

Per table: times parsed, duplicate ids within a file dropped, snapshots of a project merged (newest
version of each row); ids shared by two projects of one source reported; comments whose thread and
notes whose comment is missing dropped, with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from impactreport.errors import InputError
from impactreport.layout import TABLE_NAMES
from impactreport.load.formats import FILE_INDEX, normalise_files
from impactreport.load.rows import FILE, ORIGIN, ROW_KEYS, Loaded
from impactreport.people import full_name
from impactreport.schema import polars_schema
from impactreport.sources import PER_PROJECT_ID_SOURCES

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
TIME_FIELDS = {
    "documents": "doc_published",
    "threads": "published",
    "comments": "published",
    "notes": "added",
}
#: Ids whose sharing by two projects of one source means one "project" is not a project export.
SHARED_ID_CHECKS = {"threads": ("thread_id", "thread"), "comments": ("comment_id", "comment")}


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


def listing(items: Sequence[str], most: int = 4) -> str:
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
            named = listing([str(paths[files[project]]) for project in group])
            projects = listing([f'"{project}"' for project in group])
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
