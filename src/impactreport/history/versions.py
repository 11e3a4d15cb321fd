"""Versioned tables: every row of every table of every snapshot, kept once per distinct version.

Why: the store holds every dated snapshot of a project, but the loader counts only the newest. Reading
each snapshot file once and keeping, per row key, one row per *run* of identical content (its
valid-from / valid-to snapshot) holds everything the history needs (edits, re-renders, deletions, views
over time) in about the size of a few exports instead of all of them.

A **version** is a maximal run of consecutive snapshots of a project (``first_seq`` … ``last_seq``, the
positions of the project's files, oldest first) in which a row's key holds the same content hash. A row
that disappears and comes back starts a new version, so "present in snapshot s" is exactly
``first_seq <= s <= last_seq`` of one of its versions.

Files are read by :mod:`impactreport.history.reading`; each project's files are keyed and hashed in
batches, one query per table per batch instead of one per file. Memory is bounded by a batch of files,
not by their number: only the keys, hashes and new distinct contents are kept. Format-B files get the
keys the loader recovers (:func:`impactreport.load.resolve.resolve_keys`, from the nearest snapshot of
the project that has ids).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from impactreport.history.reading import (
    READ_THREADS,
    SNAPSHOT_SCHEMA,
    read_keyed,
    read_singles,
    snapshot_row,
)
from impactreport.layout import TABLE_NAMES
from impactreport.load.rows import ORIGIN, ROW_KEYS, Loaded
from impactreport.snapshots import SnapshotFile

#: Columns every versioned table starts with.
VERSION_COLUMNS = ("source", "project", "key", "hash", "first_seq", "last_seq")
#: Files keyed and hashed together: fewer, larger queries; bounded memory.
BATCH_FILES = 16
#: ... or fewer, once the batch holds this many rows.
BATCH_ROWS = 100_000


@dataclass
class Versions:
    """The versioned tables: ``snapshots`` and one frame per table of :data:`TABLE_NAMES`."""

    snapshots: pl.DataFrame
    tables: dict[str, pl.DataFrame]
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls) -> Versions:
        return cls(pl.DataFrame(schema=SNAPSHOT_SCHEMA), {name: pl.DataFrame() for name in TABLE_NAMES})

    def projects(self) -> set[tuple[str, str]]:
        return set(self.snapshots.select("source", "project").unique().iter_rows())


def row_key(table: str) -> pl.Expr:
    """A row's key across snapshots: its id, else the fallback columns (as the loader merges rows)."""
    columns = ROW_KEYS[table]
    return pl.coalesce(
        pl.col(columns[0]).cast(pl.String),
        pl.concat_str([pl.col(c).cast(pl.String) for c in columns[1:]], separator="|"),
    )


def content_hash(columns: Sequence[str]) -> pl.Expr:
    """A hash of every column of a row (polars' seeded hash: stable for one polars version, which
    the cache records)."""
    return pl.struct([pl.col(c) for c in columns]).hash(seed=0)


class _Project:
    """The running state of one project while its files are read oldest first."""

    def __init__(self, source: str, project: str, previous: dict[str, pl.DataFrame] | None, start: int):
        self.source, self.project, self.start = source, project, start
        self.contents: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLE_NAMES}
        self.observed: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLE_NAMES}
        self.seen: dict[str, pl.DataFrame] = {}
        self.previous = previous or {}
        self.pending: list[tuple[int, dict[str, pl.DataFrame]]] = []
        self.pending_rows = 0
        for name in TABLE_NAMES:
            old = self.previous.get(name)
            if old is not None and old.height:
                self.seen[name] = old.select("key", "hash").unique()
                # The open versions continue into the new files: seed them at the last known snapshot.
                self.observed[name].append(
                    old.filter(pl.col("last_seq") == start - 1).select(
                        "key", "hash", pl.lit(start - 1, pl.Int32).alias("seq")
                    )
                )
            else:
                self.seen[name] = pl.DataFrame(schema={"key": pl.String, "hash": pl.UInt64})

    def add(self, seq: int, tables: dict[str, pl.DataFrame]) -> None:
        """Queue one snapshot's tables; they are keyed and hashed with the rest of their batch."""
        self.pending.append((seq, tables))
        self.pending_rows += sum(frame.height for frame in tables.values())
        if len(self.pending) >= BATCH_FILES or self.pending_rows >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Key and hash the queued snapshots: one query per table for the whole batch."""
        batch, self.pending, self.pending_rows = self.pending, [], 0
        for name in TABLE_NAMES:
            parts = [(seq, tables[name]) for seq, tables in batch if tables[name].height]
            if not parts:
                continue
            columns = parts[0][1].columns
            seqs = np.repeat([seq for seq, _ in parts], [frame.height for _, frame in parts])
            keyed = (
                pl.concat([frame for _, frame in parts], how="vertical_relaxed")
                .with_columns(
                    row_key(name).alias("key"),
                    content_hash(columns).alias("hash"),
                    pl.Series("seq", seqs, dtype=pl.Int32),
                )
                .unique(["seq", "key"], keep="first", maintain_order=True)
            )
            self.observed[name].append(keyed.select("key", "hash", "seq"))
            new = (
                keyed.unique(["key", "hash"], keep="first", maintain_order=True)
                .join(self.seen[name], on=["key", "hash"], how="anti")
                .drop("seq")
            )
            if new.height:
                self.contents[name].append(_compact(new))
                self.seen[name] = pl.concat([self.seen[name], new.select("key", "hash")])

    def finish(self) -> dict[str, pl.DataFrame]:
        """The project's versioned tables: old versions (extended where they continue) plus new ones."""
        self._flush()
        out: dict[str, pl.DataFrame] = {}
        for name in TABLE_NAMES:
            observed = pl.concat(self.observed[name]) if self.observed[name] else None
            old = self.previous.get(name)
            if observed is None or observed.height == 0:
                out[name] = old if old is not None else pl.DataFrame()
                continue
            runs = _runs(observed)
            contents = [c.drop("source", "project", strict=False) for c in self.contents[name]]
            if old is not None and old.height:
                contents.append(old.drop(*VERSION_COLUMNS[:2], "first_seq", "last_seq"))
            lookup = pl.concat(contents, how="diagonal_relaxed").unique(["key", "hash"], keep="first")
            continuing = runs.filter(pl.col("first_seq") == self.start - 1)
            fresh = runs.filter(pl.col("first_seq") != self.start - 1).join(
                lookup, on=["key", "hash"], how="left"
            )
            origin = [pl.lit(self.source).alias("source"), pl.lit(self.project).alias("project")]
            fresh = fresh.with_columns(origin)
            if old is not None and old.height:
                extended = old.join(
                    continuing.select("key", "hash", pl.col("first_seq").alias("_open"), "last_seq"),
                    left_on=["key", "hash", "last_seq"],
                    right_on=["key", "hash", "_open"],
                    how="left",
                ).with_columns(pl.coalesce("last_seq_right", "last_seq").alias("last_seq"))
                fresh = pl.concat([extended.drop("last_seq_right"), fresh], how="diagonal_relaxed")
            columns = [*VERSION_COLUMNS, *[c for c in fresh.columns if c not in VERSION_COLUMNS]]
            out[name] = fresh.select(columns).sort("key", "first_seq")
        return out


def single_snapshot_versions(parts: dict[str, list[pl.DataFrame]]) -> dict[str, list[pl.DataFrame]]:
    """Versioned tables of projects read from one snapshot each and with no earlier versions: each row
    is one version (``first_seq`` = ``last_seq`` = 0), the first row of each key kept, as
    :class:`_Project` gives them. ``parts``: per table, frames of rows of such projects, each row with
    its ``source`` and ``project`` (a project's rows in its file's order, all in one frame).

    Why apart: :class:`_Project` runs about 80 small queries per project, which on 10,000 tiny exports
    (one each) took ``summary --history`` 152 s where plain ``summary`` took 8.5 s. Here frames whose
    columns and types are the same are keyed and hashed in one query per table (the hash covers a
    row's own columns, as :class:`_Project`'s does, so a later snapshot continues these versions).
    """
    out: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLE_NAMES}
    for name in TABLE_NAMES:
        groups: dict[tuple[tuple[str, pl.DataType], ...], list[pl.DataFrame]] = {}
        for frame in parts.get(name, []):
            if frame.height:
                groups.setdefault(tuple(frame.schema.items()), []).append(frame)
        for group in groups.values():
            columns = [c for c in group[0].columns if c not in ORIGIN]
            keyed = (
                pl.concat(group, how="vertical")
                .with_columns(
                    row_key(name).alias("key"),
                    content_hash(columns).alias("hash"),
                    pl.lit(0, pl.Int32).alias("first_seq"),
                    pl.lit(0, pl.Int32).alias("last_seq"),
                )
                .unique(["source", "project", "key"], keep="first", maintain_order=True)
            )
            out[name].append(keyed.select(*VERSION_COLUMNS, *columns).sort("source", "project", "key"))
    return out


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of ``frame`` that owns only its own bytes.

    Why: a filter or join of a string column keeps views into the whole batch's string buffers, so
    keeping a few new rows per batch kept every batch's text alive (900 MB instead of 240 MB on the
    archive's rephetio). An IPC round trip writes the rows' bytes alone.
    """
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    buffer.seek(0)
    return pl.read_ipc(buffer)


def _runs(observed: pl.DataFrame) -> pl.DataFrame:
    """(key, hash, seq) observations → one row per run of one hash over consecutive snapshots."""
    ordered = observed.sort("key", "seq")
    new_run = (
        (pl.col("key") != pl.col("key").shift(1))
        | (pl.col("hash") != pl.col("hash").shift(1))
        | (pl.col("seq") != pl.col("seq").shift(1) + 1)
    ).fill_null(True)
    return (
        ordered.with_columns(new_run.cum_sum().alias("_run"))
        .group_by("_run", maintain_order=True)
        .agg(
            pl.col("key").first(),
            pl.col("hash").first(),
            pl.col("seq").min().alias("first_seq"),
            pl.col("seq").max().alias("last_seq"),
        )
        .drop("_run")
    )


def build_projects(
    files: Sequence[SnapshotFile],
    paths: Sequence[str | Path],
    previous: Versions | None = None,
    *,
    threads: int | None = None,
    batch_singles: bool = True,
    reads: Sequence[Loaded] = (),
) -> Versions:
    """Versioned tables of ``files`` (every snapshot of some projects, oldest first per project).

    With ``previous`` (the cached tables of the same projects over a prefix of their files), only
    the files after that prefix are read and the versions are extended. Projects of one snapshot and
    no earlier versions are versioned together (:func:`single_snapshot_versions`) unless
    ``batch_singles`` is False (every project through :class:`_Project`: what the tests compare with);
    those the run already read (``reads``, the loader's) are not read again.
    """
    threads = threads if threads is not None else READ_THREADS
    previous = previous or Versions.empty()
    warnings: list[str] = []
    known = previous.snapshots.group_by("source", "project").agg(pl.col("seq").max().alias("last"))
    last_seq = {(s, p): int(last) for s, p, last in known.iter_rows()}
    snapshot_rows: list[dict[str, object]] = []
    tables: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLE_NAMES}
    state: _Project | None = None

    def close(current: _Project | None) -> None:
        if current is None:
            return
        for name, frame in current.finish().items():
            if frame.height:
                tables[name].append(frame)

    per_origin = Counter((file.source, file.project) for file in files)
    single = [  # one snapshot, no history: read and versioned together
        batch_singles and per_origin[(f.source, f.project)] == 1 and (f.source, f.project) not in last_seq
        for f in files
    ]
    if any(single):
        parts, rows = read_singles(
            [f for f, one in zip(files, single, strict=True) if one], paths, warnings, reads
        )
        for name, frames in single_snapshot_versions(parts).items():
            tables[name].extend(frames)
        snapshot_rows.extend(rows)
    rest = [f for f, one in zip(files, single, strict=True) if not one]
    for file, read, file_tables in read_keyed(rest, paths, threads, warnings):
        origin = (file.source, file.project)
        if state is None or (state.source, state.project) != origin:
            close(state)
            start = last_seq.get(origin, -1) + 1
            old = {
                name: frame.filter((pl.col("source") == origin[0]) & (pl.col("project") == origin[1]))
                for name, frame in previous.tables.items()
                if frame.height
            }
            state = _Project(*origin, old if start > 0 else None, start)
            seq = start
        if read is None or file_tables is None:
            continue
        state.add(seq, file_tables)
        snapshot_rows.append(snapshot_row(file, read, seq))
        seq += 1
    close(state)
    origins = pl.DataFrame(
        {"source": [f.source for f in files], "project": [f.project for f in files]},
        schema={"source": pl.String, "project": pl.String},
    ).unique()
    snapshots = pl.concat(
        [
            previous.snapshots.join(origins, on=["source", "project"], how="semi"),
            pl.DataFrame(snapshot_rows, schema=SNAPSHOT_SCHEMA, orient="row"),
        ]
    ).sort("source", "project", "seq")
    merged = {
        name: pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        for name, frames in tables.items()
    }
    return Versions(snapshots, merged, warnings)


def with_times(versions: Versions, table: str) -> pl.DataFrame:
    """A versioned table with ``valid_from`` / ``valid_to``: the times of its first and last snapshot."""
    frame = versions.tables[table]
    times = versions.snapshots.select("source", "project", "seq", "retrieved")
    return frame.join(
        times.rename({"seq": "first_seq", "retrieved": "valid_from"}),
        on=["source", "project", "first_seq"],
        how="left",
    ).join(
        times.rename({"seq": "last_seq", "retrieved": "valid_to"}),
        on=["source", "project", "last_seq"],
        how="left",
    )


def as_of(versions: Versions, moment: datetime | None) -> Versions:
    """The versioned tables as the store stood before ``moment`` (``--as-of``): snapshots retrieved
    from then on are dropped, with the versions first seen in them, and every later run is cut at the
    last snapshot kept. None: unchanged."""
    if moment is None or versions.snapshots.height == 0:
        return versions
    kept = versions.snapshots.filter(pl.col("retrieved").is_null() | (pl.col("retrieved") < moment))
    last = kept.group_by("source", "project").agg(_last=pl.col("seq").max())

    def cut(frame: pl.DataFrame) -> pl.DataFrame:
        if frame.height == 0:
            return frame
        return (
            frame.join(last, on=["source", "project"], how="inner")
            .filter(pl.col("first_seq") <= pl.col("_last"))
            .with_columns(
                pl.min_horizontal("last_seq", "_last").cast(frame.schema["last_seq"]).alias("last_seq")
            )
            .drop("_last")
        )

    return Versions(
        kept, {name: cut(table) for name, table in versions.tables.items()}, list(versions.warnings)
    )


def snapshot_tables(
    files: Sequence[SnapshotFile],
    paths: Sequence[str | Path],
    only: Sequence[str],
    *,
    threads: int | None = None,
) -> Versions:
    """The ``only`` tables of a few snapshots, each row a version of its own (``first_seq`` =
    ``last_seq`` = the file's position in its project): what :func:`build_projects` gives, without
    keying, hashing and joining runs, which a handful of snapshots read for one purpose (the views
    gained in a period, from the snapshots that bracket it) does not need."""
    threads = threads if threads is not None else READ_THREADS
    warnings: list[str] = []
    snapshot_rows: list[dict[str, object]] = []
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in only}
    seqs: dict[tuple[str, str], int] = {}
    for file, read, tables in read_keyed(files, paths, threads, warnings):
        if read is None or tables is None:
            continue
        origin = (file.source, file.project)
        seq = seqs[origin] = seqs.get(origin, -1) + 1
        for name in only:
            frame = tables.get(name)
            if frame is not None and frame.height:
                parts[name].append(
                    frame.with_columns(
                        source=pl.lit(file.source),
                        project=pl.lit(file.project),
                        first_seq=pl.lit(seq, pl.Int32),
                        last_seq=pl.lit(seq, pl.Int32),
                    )
                )
        snapshot_rows.append(snapshot_row(file, read, seq))
    tables = {name: pl.DataFrame() for name in TABLE_NAMES}
    tables |= {name: pl.concat(frames, how="diagonal_relaxed") for name, frames in parts.items() if frames}
    snapshots = pl.DataFrame(snapshot_rows, schema=SNAPSHOT_SCHEMA, orient="row")
    return Versions(snapshots, tables, warnings)
