"""Export files → one :class:`~impactreport.schema.Dataset`: every format, every source, one schema.

``load_dataset`` runs six named steps, each a function here or in the module named:

1. :func:`discover_files` — which files (:mod:`impactreport.snapshots`): the newest snapshot per
   project, or every one; generated demo data below a scanned folder is left out with a notice.
2. :func:`~impactreport.load.batch.read_files` — read each file (:mod:`.read`), in batches, detect its
   format and map it onto common columns (:mod:`.formats`); its HTML goes to the text-metrics workers
   as soon as it is read.
3. :func:`~impactreport.load.rows.resolve_files` — recover the keys a format-B file lacks from another
   snapshot (:mod:`.resolve`).
4. :func:`~impactreport.load.assemble.assemble_tables` — one frame per table over every file: times
   parsed, duplicate ids within a file dropped, snapshots of a project merged (newest version of each
   row), ids shared by two projects of one source reported.
5. :func:`~impactreport.load.assemble.check_references` — drop comments whose thread and notes whose
   comment is missing.
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

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from impactreport import layout
from impactreport.errors import InputError
from impactreport.load.assemble import assemble_tables, check_references, listing
from impactreport.load.batch import Progress, file_size, read_files, stored_bytes
from impactreport.load.rows import ORIGIN, Loaded, resolve_files
from impactreport.metrics import TEXT_BASES, HtmlMetricsPool, limited_warning, text_metrics
from impactreport.people import account_key
from impactreport.schema import Dataset, polars_schema
from impactreport.snapshots import Discovery, SnapshotFile, find

#: Exports (JSON bytes, gzip counted 4x) from which parsing HTML in worker processes pays off.
PARALLEL_MIN_BYTES = 24_000_000


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
            f"Discourse projects from {len(forums)} forums ({listing(forums)}): each forum numbers its "
            "own users, so users with the same id on two forums count as one person here; "
            "count people one forum at a time (--project)"
        )


def _check_read(loaded: Loaded, files: Sequence[SnapshotFile], notices: Sequence[str]) -> None:
    """Files were found but none is an export: an error that also gives the scan's ``notices`` (demo
    data or links it skipped), which would otherwise never be shown. An export without rows is a
    warning."""
    if files and not loaded.files:
        raise InputError(
            f"{', '.join(str(f.path) for f in files[:3])}{' …' if len(files) > 3 else ''}: "
            "no project export among the files found (each was skipped as not an export"
            + "".join(f"; {notice}" for notice in notices)
            + ")"
        )
    for read in sorted(loaded.files.values(), key=lambda r: r.index):
        if read.rows == 0:
            loaded.warnings.append(f"{read.file.path}: empty export (no rows in any table)")


def load_dataset(
    paths: Sequence[str | Path] | str | Path,
    *,
    text_basis: str = "html",
    all_snapshots: bool = False,
    projects: Sequence[str] | None = None,
    on_file: Progress | None = None,
    project_option: str = "--project",
    found: Discovery | None = None,
    reads: list[Loaded] | None = None,
) -> Dataset:
    """Load export files, folders of them or a ``data/exports`` tree into one :class:`Dataset`.

    ``all_snapshots`` reads every snapshot of each project (rows are the union, newest version of each
    row winning) instead of only the newest. ``projects`` keeps only those projects (by name).
    ``on_file`` is called before each file is read (for progress displays). ``project_option`` is how
    the user named ``projects`` (for the error about a project not in the data). ``found``: the files
    to read, already chosen from one listing of the store (:mod:`impactreport.load.as_of`); ``paths``
    then only says where format-B files find the ids they lack. ``reads``: when given, the files read
    and their normalised rows are appended to it (the history of versions then need not read them again).
    """
    if text_basis not in TEXT_BASES:
        raise InputError(f"--text-basis must be one of {', '.join(TEXT_BASES)}, not {text_basis!r}")
    if isinstance(paths, str | Path):
        paths = [paths]
    if found is None:
        found = discover_files(paths, all_snapshots=all_snapshots, projects=projects, option=project_option)
    files = found.files
    sizes = [file_size(file.path) for file in files]
    # Worker processes start now and parse each file's HTML while the next file is read.
    with HtmlMetricsPool(parallel=stored_bytes(files, sizes) >= PARALLEL_MIN_BYTES) as pool:
        loaded = read_files(files, pool, sizes, on_file)
        _check_read(loaded, files, found.notices)
        loaded.warnings[:0] = found.notices
        before = len(loaded.warnings)
        resolve_files(loaded, paths)
        unresolved_warned = len(loaded.warnings) > before
        if reads is not None:
            reads.append(loaded)
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
