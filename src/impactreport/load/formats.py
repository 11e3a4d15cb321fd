"""The four Thinklab export formats (A, B, B′, C) mapped onto one set of table columns.

See ``../shared/thinklab/README.md`` (the authority) and the README's "Export formats" section:

- **A** — Django serializer rows ``{"model", "pk", "fields"}``; foreign keys ``profile``, ``thread``…
- **B** — flat rows without ids; foreign keys ``profile``, ``thread``, ``comment``, ``document``.
  Ids are recovered from urls where they carry them (threads ``/discussion/<slug>/<id>``, notes
  ``#note-<id>``); the rest (comment ids, profile ids, review-thread and document ids) from another
  snapshot of the tree (:mod:`impactreport.load.resolve`).
- **B′** — format B plus ``id`` on every row (one commit only).
- **C** — flat rows with ``*_id`` keys (2016-05-10 onward); also what GitHub and Discourse sources write.

The functions here are pure: raw polars tables in, normalised tables (still with timestamps as text)
out. ``normalise`` returns the per-file tables in the columns of :mod:`impactreport.schema` minus
``project`` and with ``published`` still a string.

Integer columns are of two kinds. **Counters** (``views``) arrive already cleaned by the reader: a
value that is not a whole number became null with a warning
(:func:`~impactreport.load.counters.clean_counters`).
**Ids** must be whole numbers: one that is not (``"abc"``, ``1.5``, ``true``, an array) would silently
become null, orphaning the rows that point to it, so it is an error naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from impactreport.errors import InputError
from impactreport.load.counters import COUNTERS, shown

THREAD_ID_IN_URL = r"/discussion/[^/#?]+/(\d+)"
NOTE_ID_IN_URL = r"#note-(\d+)"
DOCUMENT_ID_IN_REVIEW_URL = r"^/doc/(\d+)/review"

#: normalised column -> (dtype, candidate source columns in order of preference)
COLUMNS: dict[str, dict[str, tuple[pl.DataType, tuple[str, ...]]]] = {
    "documents": {
        "document_id": (pl.Int64(), ("document_id", "id", "pk")),
        "title": (pl.String(), ("title",)),
        "published": (pl.String(), ("doc_published", "published")),
        "doi": (pl.String(), ("doi",)),
        "url": (pl.String(), ("url",)),
        "views": (pl.Int64(), ("views",)),
        "intro_md": (pl.String(), ("intro_md",)),
        "intro_html": (pl.String(), ("intro_html",)),
        "body_md": (pl.String(), ("body_md",)),
        "body_html": (pl.String(), ("body_html",)),
    },
    "threads": {
        "thread_id": (pl.Int64(), ("thread_id", "id", "pk")),
        "profile_id": (pl.Int64(), ("profile_id", "profile")),
        "document_id": (pl.Int64(), ("document_id", "document")),
        "subject": (pl.String(), ("subject",)),
        "published": (pl.String(), ("published",)),
        "doi": (pl.String(), ("doi",)),
        "url": (pl.String(), ("url",)),
        "views": (pl.Int64(), ("views",)),
    },
    "comments": {
        "comment_id": (pl.Int64(), ("comment_id", "id", "pk")),
        "thread_id": (pl.Int64(), ("thread_id", "thread")),
        "profile_id": (pl.Int64(), ("profile_id", "profile")),
        "published": (pl.String(), ("published",)),
        "url": (pl.String(), ("url",)),
        "body_md": (pl.String(), ("body_md",)),
        "body_html": (pl.String(), ("body_html",)),
        # who last edited it, where the source says (GitHub GraphQL's ``editor``): a revision's author
        "editor_id": (pl.Int64(), ("editor_id",)),
    },
    "notes": {
        "note_id": (pl.Int64(), ("note_id", "id", "pk")),
        "comment_id": (pl.Int64(), ("comment_id", "comment")),
        "profile_id": (pl.Int64(), ("profile_id", "profile")),
        "published": (pl.String(), ("added", "published")),
        "url": (pl.String(), ("url",)),
        "body_md": (pl.String(), ("body_md",)),
        "body_html": (pl.String(), ("body_html",)),
    },
    "profiles": {
        "profile_id": (pl.Int64(), ("profile_id", "id", "pk")),
        "username": (pl.String(), ("username",)),
        "first_name": (pl.String(), ("first_name",)),
        "last_name": (pl.String(), ("last_name",)),
        "url": (pl.String(), ("url",)),
        "is_bot": (pl.Boolean(), ("is_bot",)),
    },
}

#: The type of the column that says which file a row came from, when rows of several files are normalised
#: together (:func:`normalise_files`).
FILE_INDEX = pl.Int32()

FORMAT_SIGNATURES = {
    "A": "Django serializer rows (model, pk, fields)",
    "B": "flat rows without ids",
    "B′": "flat rows with a bare id",
    "C": "flat rows with *_id keys",
}


def format_of_keys(keys: set[str], *, path: object = "") -> str:
    """Which of the four formats rows with these keys (over every table of a file) are in."""
    if not keys:
        return "C"  # an empty project: every table empty, nothing to tell the formats apart
    if {"model", "pk", "fields"} <= keys:
        return "A"
    if keys & {"thread_id", "comment_id", "note_id", "profile_id", "document_id"}:
        return "C"
    if "id" in keys:
        return "B′"
    if keys & {"profile", "thread", "comment", "body_md", "username", "subject"}:
        return "B"
    raise InputError(f"{path}: unknown export format (row keys: {', '.join(sorted(keys)[:8])})")


def detect_format(tables: dict[str, pl.DataFrame], *, path: object = "") -> str:
    """Which of the four formats a file's tables are in, from the keys of its rows."""
    keys: set[str] = set()
    for frame in tables.values():
        keys |= set(frame.columns)
    return format_of_keys(keys, path=path)


def _flatten_django(frame: pl.DataFrame, by: tuple[str, ...]) -> pl.DataFrame:
    """Format A rows: lift ``fields`` beside ``pk``."""
    if frame.is_empty() or "fields" not in frame.columns:
        return frame
    return frame.select(*by, "pk", "fields").unnest("fields")


def _pick(schema: pl.Schema, name: str, dtype: pl.DataType, candidates: tuple[str, ...]) -> pl.Expr:
    for candidate in candidates:
        if candidate in schema:
            source = schema[candidate]
            expr = pl.col(candidate)
            if dtype == pl.Int64() and source == pl.String():
                expr = expr.str.strip_chars().cast(pl.Int64, strict=False)
            return expr.cast(dtype, strict=False).alias(name)
    return pl.lit(None, dtype=dtype).alias(name)


def _not_whole(column: str, source: pl.DataType) -> pl.Expr | None:
    """Rows of an id column whose value is not a whole number; None when its type holds only integers."""
    if source.is_integer() or isinstance(source, pl.Null):
        return None
    value = pl.col(column)
    if isinstance(source, pl.String):
        stripped = value.str.strip_chars()
        return value.is_not_null() & stripped.cast(pl.Int64, strict=False).is_null()
    if source.is_float():
        return value.is_not_null() & (value.cast(pl.Int64, strict=False).is_null() | (value != value.floor()))
    return value.is_not_null()  # booleans (a column of only true/false), arrays, objects


def check_ids(
    table: str, frame: pl.DataFrame, *, path: object = "", by: str | None = None, paths: Sequence[object] = ()
) -> None:
    """An id that is not a whole number is an error naming the file, the field and an example.

    Strings and floats are counted and quoted as written. polars reads a column holding arrays,
    objects or only true/false as that type throughout (a 2 beside a [3] becomes [2]), so there the
    error names the kind of value rather than a count that would be wrong. With ``by`` (a column of
    indexes into ``paths``: rows of several files), the first file holding a wrong id is named and
    counted.
    """
    schema = frame.schema
    for name, (dtype, candidates) in COLUMNS[table].items():
        if dtype != pl.Int64() or name in COUNTERS:
            continue
        column = next((c for c in candidates if c in schema), None)
        bad = None if column is None else _not_whole(column, schema[column])
        if column is None or bad is None:
            continue
        wrong = frame.filter(bad)
        if not wrong.height:
            continue
        if by is not None:
            first = wrong[by][0]
            wrong = wrong.filter(pl.col(by) == first)
            path = paths[first]
        source = schema[column]
        field = f"{path}: {table}.{column}:"
        if isinstance(source, pl.String) or source.is_float():
            raise InputError(
                f"{field} {wrong.height:,} value(s) that are not whole numbers (an id must be one), "
                f"e.g. {shown(wrong[column][0])}"
            )
        kind = {pl.List: "array", pl.Array: "array", pl.Struct: "object", pl.Boolean: "true/false"}
        word = next((w for t, w in kind.items() if isinstance(source, t)), str(source))
        raise InputError(f"{field} {word} values, not whole numbers (an id must be one)")


def _select(table: str, frame: pl.DataFrame, by: str | None, paths: Sequence[object]) -> pl.LazyFrame:
    """One table in the normalised columns (with the file column ``by`` first, when there is one)."""
    spec = COLUMNS[table]
    keep = (by,) if by is not None else ()
    if not [column for column in frame.columns if column not in keep]:
        # an empty table: selecting literals would invent one row
        index: dict[str, pl.DataType] = {by: FILE_INDEX} if by is not None else {}
        return pl.LazyFrame(schema={**index, **{name: dtype for name, (dtype, _) in spec.items()}})
    check_ids(table, frame, path=paths[0] if paths else "", by=by, paths=paths)
    schema = frame.schema
    picks = (_pick(schema, name, dtype, candidates) for name, (dtype, candidates) in spec.items())
    return frame.lazy().select(*keep, *picks)


def normalise(
    tables: dict[str, pl.DataFrame], export_format: str, *, path: object = ""
) -> dict[str, pl.DataFrame]:
    """Map one file's raw tables onto the normalised columns, recovering ids carried by urls.

    ``path`` names the file in the error for an id that is not a whole number.
    """
    return normalise_files(tables, export_format, paths=[path])


def normalise_files(
    tables: dict[str, pl.DataFrame],
    export_format: str,
    *,
    paths: Sequence[object],
    by: str | None = None,
) -> dict[str, pl.DataFrame]:
    """:func:`normalise` for the rows of several files of one format at once (one query per table).

    ``by`` names a column of every table holding each row's file, an index into ``paths`` (of type
    :data:`FILE_INDEX`); it is kept in the output. Anything that depends on a file (ids recovered
    from another table of it) stays within the file. Without ``by``, all rows are of ``paths[0]``.
    """
    keep = (by,) if by is not None else ()
    if export_format == "A":
        tables = {name: _flatten_django(frame, keep) for name, frame in tables.items()}
    out = {name: _select(name, tables.get(name, pl.DataFrame()), by, paths) for name in COLUMNS}
    out["profiles"] = out["profiles"].with_columns(
        pl.col("is_bot").fill_null(pl.col("username").str.ends_with("[bot]").fill_null(False))
    )
    out["notes"] = out["notes"].with_columns(
        pl.coalesce(pl.col("note_id"), pl.col("url").str.extract(NOTE_ID_IN_URL).cast(pl.Int64)).alias(
            "note_id"
        ),
        pl.col("url").str.extract(THREAD_ID_IN_URL).cast(pl.Int64).alias("thread_id"),
    )
    if export_format == "B":
        # Review threads (/doc/<document id>/review) carry no thread id in their url, but their
        # comments' `thread` key does: map the comment url (without #n) to the thread id.
        by_url = (
            out["comments"]
            .select(*keep, pl.col("url").str.replace(r"#.*$", "").alias("url"), "thread_id")
            .drop_nulls()
            .unique([*keep, "url"], keep="first", maintain_order=True)
        )
        out["threads"] = (
            out["threads"]
            .join(
                by_url.rename({"thread_id": "_from_comments"}),
                on=[*keep, "url"],
                how="left",
                maintain_order="left",
            )
            .with_columns(
                pl.coalesce(
                    pl.col("url").str.extract(THREAD_ID_IN_URL).cast(pl.Int64), pl.col("_from_comments")
                ).alias("thread_id")
            )
            .drop("_from_comments")
        )
    names = list(out)
    return dict(zip(names, pl.collect_all([out[name] for name in names]), strict=True))
