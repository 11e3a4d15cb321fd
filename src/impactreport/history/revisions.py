"""What the versioned tables say happened between snapshots: revisions, re-renders, deletions.

Definitions (README, "History"):

- A **post** is a comment, note or document (a document's text is its introduction + body). Its
  **source text** is the markdown its author typed where the export has it (``body_md``; documents
  ``intro_md`` + ``body_md``), else the HTML. Two versions are compared on markdown when both have it,
  else on HTML; an empty markdown field beside non-empty HTML is no markdown (:func:`_markdown`).
- A **revision** is a snapshot in which a post's source text differs from its text in the previous
  snapshot that held the post; the first appearance is not one.
- A change of the HTML without a change of the source text is a **re-render** (the site re-rendered
  the post), counted apart and never as a revision.
- Per revision, with L the length of the longest common subsequence of old and new text (code points,
  after CRLF → LF; rapidfuzz's ``LCSseq``), **inserted** = len(new) − L and **deleted** = len(old) − L.
- **Written** characters = each post's characters when first seen (its source text's code points) +
  every inserted character.
- Every character here is a **source-text character**: a code point of the source text (markdown as
  typed, else the HTML with its markup), what an edit changes. The impact sentence's characters
  (``summary``'s ``characters``, :mod:`impactreport.metrics.count`) are another count: the visible text
  of the HTML a reader saw (or ``body_md`` as stored on the markdown basis). The two differ for the same
  post, so neither stands in for the other.
- A **deleted post** is present in a snapshot and absent from every later snapshot of its project;
  it counts at the first snapshot that lacks it.
- The **author** of a revision is the post's author (Thinklab lets only authors edit), or the version's
  ``editor_id`` where a source records who edited (``author_id`` = coalesce(editor_id, profile_id)).

Versions whose text is the same (a change of views or of another column) are neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from impactreport.history.versions import Versions, with_times
from impactreport.settings import Period, iso_z

#: Keys of each ``"history"`` object, in order.
HISTORY_KEYS = (
    "snapshots",
    "first_snapshot",
    "last_snapshot",
    "revisions",
    "comment_revisions",
    "note_revisions",
    "document_revisions",
    "edited_posts",
    "inserted_characters",
    "deleted_characters",
    "written_characters",
    "rerenders",
    "deleted_posts",
)
KINDS = (("comments", "comment"), ("notes", "note"), ("documents", "document"))
POST_COLUMNS = (
    "source",
    "project",
    "kind",
    "key",
    "first_seq",
    "last_seq",
    "valid_from",
    "md",
    "html",
    "profile_id",
    "editor_id",
)


def _lf(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all("\r\n", "\n", literal=True)


def _joined(first: str, second: str) -> pl.Expr:
    """Introduction + body (null when both are)."""
    both_null = pl.col(first).is_null() & pl.col(second).is_null()
    joined = pl.concat_str([pl.col(first).fill_null(""), pl.col(second).fill_null("")], separator="\n\n")
    return pl.when(both_null).then(None).otherwise(joined)


def _optional_id(frame: pl.DataFrame, column: str) -> pl.Expr:
    """An id column of the version, or null where the table has none (documents have no author)."""
    if column in frame.columns:
        return pl.col(column).cast(pl.Int64)
    return pl.lit(None, pl.Int64).alias(column)


def _markdown(md: str, html: str) -> pl.Expr:
    """``md``, or null where it is empty while the HTML holds text: the export lacks the markdown.

    Why: a Discourse snapshot fetched without ``raw`` stores ``body_md: ""`` beside the HTML; read as
    markdown it would make the next snapshot (with ``raw``) a revision of every post.
    """
    missing = (pl.col(md) == "") & (pl.col(html).str.len_bytes() > 0)
    return pl.when(missing).then(None).otherwise(pl.col(md)).alias(md)


def post_versions(versions: Versions) -> pl.DataFrame:
    """One row per version of every post: where, which post, when first seen, its markdown and HTML,
    its author (``profile_id``) and who edited it where the source says (``editor_id``)."""
    frames = []
    for table, kind in KINDS:
        frame = versions.tables[table]
        if frame.height == 0:
            continue
        timed = with_times(versions, table).with_columns(
            pl.lit(kind).alias("kind"), _optional_id(frame, "profile_id"), _optional_id(frame, "editor_id")
        )
        timed = timed.with_columns(_markdown("body_md", "body_html"))
        if kind == "document":
            timed = timed.with_columns(_markdown("intro_md", "intro_html")).with_columns(
                _joined("intro_md", "body_md").alias("md"), _joined("intro_html", "body_html").alias("html")
            )
        else:
            timed = timed.with_columns(pl.col("body_md").alias("md"), pl.col("body_html").alias("html"))
        frames.append(timed.select(POST_COLUMNS))
    if not frames:
        schema: dict[str, pl.DataType] = {c: pl.String() for c in POST_COLUMNS} | {
            "first_seq": pl.Int32(),
            "last_seq": pl.Int32(),
            "valid_from": pl.Datetime("us", "UTC"),
            "profile_id": pl.Int64(),
            "editor_id": pl.Int64(),
        }
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical_relaxed").with_columns(_lf("md"), _lf("html"))


def _lcs(old: list[str], new: list[str]) -> list[int]:
    """Longest common subsequence lengths of pairs (rapidfuzz, element-wise, in C)."""
    if not old:
        return []
    from rapidfuzz.distance import LCSseq
    from rapidfuzz.process import cpdist

    return [int(x) for x in cpdist(old, new, scorer=LCSseq.similarity, workers=-1)]


def events(versions: Versions, posts: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per version change of a post: ``revision`` or ``rerender`` flags, inserted/deleted, and
    ``author_id`` (who made the change: the version's editor where known, else the post's author)."""
    posts = (post_versions(versions) if posts is None else posts).sort(
        "source", "project", "kind", "key", "first_seq"
    )
    post = ["source", "project", "kind", "key"]
    compared = posts.with_columns(
        pl.col("md").shift(1).over(post).alias("old_md"),
        pl.col("html").shift(1).over(post).alias("old_html"),
        (pl.int_range(pl.len()).over(post) > 0).alias("_later"),
    ).filter("_later")
    on_md = pl.col("md").is_not_null() & pl.col("old_md").is_not_null()
    new_text = pl.when(on_md).then(pl.col("md")).otherwise(pl.col("html")).fill_null("")
    old_text = pl.when(on_md).then(pl.col("old_md")).otherwise(pl.col("old_html")).fill_null("")
    compared = compared.with_columns(new_text.alias("new_text"), old_text.alias("old_text"))
    compared = compared.with_columns(
        (pl.col("new_text") != pl.col("old_text")).alias("revision"),
        pl.col("html").ne_missing(pl.col("old_html")).alias("_html_changed"),
    ).with_columns((~pl.col("revision") & pl.col("_html_changed")).alias("rerender"))
    changed = compared.filter(pl.col("revision") | pl.col("rerender"))
    revised = changed.filter("revision")
    lcs = pl.Series("lcs", _lcs(revised["old_text"].to_list(), revised["new_text"].to_list()), pl.Int64)
    revised = revised.with_columns(lcs).with_columns(
        (pl.col("new_text").str.len_chars() - pl.col("lcs")).alias("inserted"),
        (pl.col("old_text").str.len_chars() - pl.col("lcs")).alias("deleted"),
    )
    rerendered = changed.filter("rerender").with_columns(
        pl.lit(0, pl.Int64).alias("inserted"), pl.lit(0, pl.Int64).alias("deleted")
    )
    author = pl.coalesce("editor_id", "profile_id").alias("author_id")
    columns = [*post, pl.col("valid_from").alias("at"), "revision", "rerender", "inserted", "deleted", author]
    return pl.concat([revised.select(columns), rerendered.select(columns)])


def source_characters() -> pl.Expr:
    """A post version's source-text characters: the code points of its source text (markdown, else
    HTML), not the sentence's visible-text characters (see the module)."""
    return pl.coalesce("md", "html").fill_null("").str.len_chars()


def first_seen(versions: Versions, posts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each post's first version: when, its characters (source text's code points), its author
    (``posts``: :func:`post_versions` of ``versions`` when the caller has them)."""
    posts = post_versions(versions) if posts is None else posts
    return (
        posts.sort("first_seq")
        .group_by("source", "project", "kind", "key")
        .agg(
            pl.col("valid_from").first().alias("at"),
            source_characters().first().alias("characters"),
            pl.col("profile_id").first(),
        )
    )


def deletions(versions: Versions, posts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Posts absent from every snapshot after their last one: when first missed (project, kind, key, at)."""
    posts = post_versions(versions) if posts is None else posts
    last = posts.group_by("source", "project", "kind", "key").agg(pl.col("last_seq").max())
    snapshots = versions.snapshots
    ends = snapshots.group_by("source", "project").agg(pl.col("seq").max().alias("_end"))
    missed = snapshots.select("source", "project", (pl.col("seq") - 1).alias("last_seq"), pl.col("retrieved"))
    return (
        last.join(ends, on=["source", "project"])
        .filter(pl.col("last_seq") < pl.col("_end"))
        .join(missed, on=["source", "project", "last_seq"], how="left")
        .select("source", "project", "kind", "key", pl.col("retrieved").alias("at"))
    )


def _iso(value: datetime | None) -> str | None:
    return iso_z(value) if value is not None else None


def summarise(
    versions: Versions,
    period: Period | None = None,
    *,
    changes: pl.DataFrame | None = None,
    posts: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """``{"overall": {...}, "projects": {name: {...}}}`` with exactly :data:`HISTORY_KEYS` in each,
    counting what happened in ``period`` (snapshots retrieved, revisions, first sightings, deletions).

    ``changes`` is :func:`events` of ``versions`` and ``posts`` its :func:`post_versions` when the
    caller has them already (the LCS of every revision is the slow part).
    """
    period = period or Period()
    within = period.contains("at")
    posts = post_versions(versions) if posts is None else posts
    changes = (events(versions, posts) if changes is None else changes).filter(within)
    seen = first_seen(versions, posts).filter(within)
    deleted = deletions(versions, posts).filter(within)
    snapshots = versions.snapshots.filter(period.contains("retrieved"))
    names = sorted(versions.snapshots["project"].unique().to_list(), key=lambda n: (n.lower(), n))
    parts = (snapshots, changes, seen, deleted)
    overall = _levels([OVERALL], *(part.with_columns(pl.lit(OVERALL).alias(GROUP)) for part in parts))
    projects = _levels(names, *(part.with_columns(pl.col("project").alias(GROUP)) for part in parts))
    return {"overall": overall[OVERALL], "projects": projects}


#: The column the levels are grouped by: the project, or one group of everything for the overall level.
GROUP = "_group"
OVERALL = ""


def _levels(
    names: list[str],
    snapshots: pl.DataFrame,
    changes: pl.DataFrame,
    seen: pl.DataFrame,
    deleted: pl.DataFrame,
) -> dict[str, dict[str, Any]]:
    """:data:`HISTORY_KEYS` of each group in ``names`` (the :data:`GROUP` column), from one aggregation per
    table: the snapshots retrieved, revisions by kind, posts edited, characters inserted, deleted and
    written, re-renders and deletions. Why grouped: five filters per project took 12 s on 10,000
    projects of one snapshot each; the overall level is the same query over one group."""
    revisions = changes.filter("revision")
    kind = pl.col("kind")
    columns: dict[str, dict[str, Any]] = {}
    for frame, aggregations in (
        (snapshots, [pl.len().alias("snapshots"), pl.col("retrieved").min().alias("first"),
                     pl.col("retrieved").max().alias("last")]),
        (revisions, [pl.len().alias("revisions"), (kind == "comment").sum().alias("comment_revisions"),
                     (kind == "note").sum().alias("note_revisions"),
                     (kind == "document").sum().alias("document_revisions"),
                     pl.struct("source", "project", "kind", "key").n_unique().alias("edited_posts"),
                     pl.col("inserted").sum().alias("inserted_characters"),
                     pl.col("deleted").sum().alias("deleted_characters")]),
        (changes, [pl.col("rerender").sum().alias("rerenders")]),
        (seen, [pl.col("characters").sum().alias("seen_characters")]),
        (deleted, [pl.len().alias("deleted_posts")]),
    ):  # fmt: skip
        if frame.height:
            for row in frame.group_by(GROUP).agg(aggregations).iter_rows(named=True):
                columns.setdefault(row.pop(GROUP), {}).update(row)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        got = columns.get(name, {})

        def count(key: str, got: dict[str, Any] = got) -> int:
            return int(got.get(key) or 0)

        inserted = count("inserted_characters")
        out[name] = {
            "snapshots": count("snapshots"),
            "first_snapshot": _iso(got.get("first")),
            "last_snapshot": _iso(got.get("last")),
            "revisions": count("revisions"),
            "comment_revisions": count("comment_revisions"),
            "note_revisions": count("note_revisions"),
            "document_revisions": count("document_revisions"),
            "edited_posts": count("edited_posts"),
            "inserted_characters": inserted,
            "deleted_characters": count("deleted_characters"),
            "written_characters": count("seen_characters") + inserted,
            "rerenders": count("rerenders"),
            "deleted_posts": count("deleted_posts"),
        }
    return out
