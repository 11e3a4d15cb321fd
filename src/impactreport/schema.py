"""The one schema every source maps into, documented once.

Every loader (Thinklab formats A, B, B′, C; GitHub and Discourse snapshots, which are written in the
Thinklab table layout) returns a :class:`Dataset` whose frames have exactly these columns and types.
Statistics, analyses, figures and the report read only these frames, so a new source only has to
produce them.

Times are ``Datetime("us", "UTC")`` from load to figure. Ids are ``Int64`` and global within a source:
Thinklab ids are unique across projects, and a profile id is one person in every project of its source.
Ids of different sources share no space: a person is ``<source>:<profile id>``
(:mod:`impactreport.people`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from impactreport.sources import SOURCES

#: The sources, as the schema's documentation names them.
SOURCE_NAMES = ", ".join(f"`{name}`" for name in SOURCES)

UTC_TIME = pl.Datetime("us", "UTC")

#: column -> (dtype, meaning). The README's schema section is generated from these tables.
PROFILES: dict[str, tuple[pl.DataType, str]] = {
    "source": (pl.String(), f"where the export came from: {SOURCE_NAMES}"),
    "project": (pl.String(), "project the profile appears in (a person appears once per project)"),
    "profile_id": (pl.Int64(), "global person id; null only for an unresolved format-B profile"),
    "username": (pl.String(), "login name; the team list matches on it"),
    "name": (pl.String(), "full name (first and last name joined, trimmed), username when empty"),
    "url": (pl.String(), "profile page path or URL"),
    "is_bot": (
        pl.Boolean(),
        "an automated account (GitHub `type: Bot` or a `[bot]` login; GitLab `bot: true` or a bot user name)",
    ),
}

DOCUMENTS: dict[str, tuple[pl.DataType, str]] = {
    "source": (pl.String(), f"where the export came from: {SOURCE_NAMES}"),
    "project": (pl.String(), "project name"),
    "document_id": (pl.Int64(), "global document id"),
    "title": (pl.String(), "document title (often empty on Thinklab)"),
    "published": (UTC_TIME, "`doc_published`"),
    "doi": (pl.String(), "the document's own DOI, when it has one"),
    "url": (pl.String(), "path or URL of the document"),
    "views": (pl.Int64(), "page views at retrieval; null when the format has none"),
    "intro_md": (pl.String(), "markdown of the introduction shown above the body (often empty)"),
    "intro_html": (pl.String(), "rendered HTML of the introduction"),
    "body_md": (pl.String(), "markdown source of the body as stored"),
    "body_html": (pl.String(), "rendered HTML of the body as stored"),
}

THREADS: dict[str, tuple[pl.DataType, str]] = {
    "source": (pl.String(), f"where the export came from: {SOURCE_NAMES}"),
    "project": (pl.String(), "project name"),
    "thread_id": (pl.Int64(), "global thread (discussion) id"),
    "profile_id": (pl.Int64(), "who opened it; null for document-review threads"),
    "document_id": (pl.Int64(), "document a review thread belongs to, else null"),
    "subject": (pl.String(), "title of the discussion (plain text, not HTML-escaped)"),
    "published": (UTC_TIME, "when the thread was opened"),
    "doi": (pl.String(), "the discussion's own DOI, when it has one"),
    "url": (pl.String(), "path or URL of the discussion"),
    "views": (pl.Int64(), "page views at retrieval; null when the format has none"),
}

COMMENTS: dict[str, tuple[pl.DataType, str]] = {
    "source": (pl.String(), f"where the export came from: {SOURCE_NAMES}"),
    "project": (pl.String(), "project name"),
    "comment_id": (pl.Int64(), "global comment id; null when a format-B comment cannot be resolved"),
    "thread_id": (pl.Int64(), "thread the comment belongs to"),
    "profile_id": (pl.Int64(), "author"),
    "published": (UTC_TIME, "when it was posted"),
    "url": (pl.String(), "path or URL"),
    "body_md": (pl.String(), "markdown source as stored"),
    "body_html": (pl.String(), "rendered HTML as stored"),
}

NOTES: dict[str, tuple[pl.DataType, str]] = {
    "source": (pl.String(), f"where the export came from: {SOURCE_NAMES}"),
    "project": (pl.String(), "project name"),
    "note_id": (pl.Int64(), "global note id"),
    "comment_id": (pl.Int64(), "comment the note is attached to"),
    "thread_id": (pl.Int64(), "thread of that comment (from the comment, else from the note url)"),
    "profile_id": (pl.Int64(), "author"),
    "published": (UTC_TIME, "`added`: when it was posted"),
    "url": (pl.String(), "path or URL"),
    "body_md": (pl.String(), "markdown source as stored"),
    "body_html": (pl.String(), "rendered HTML as stored"),
}

POSTS: dict[str, tuple[pl.DataType, str]] = {
    "source": (pl.String(), f"where the export came from: {SOURCE_NAMES}"),
    "project": (pl.String(), "project name"),
    "kind": (pl.String(), "`comment`, `note` or `document`"),
    "post_id": (pl.Int64(), "comment_id, note_id or document_id"),
    "thread_id": (pl.Int64(), "thread of a comment or note; null for documents"),
    "profile_id": (pl.Int64(), "author; null for documents, whose author Thinklab does not export"),
    "person": (pl.String(), "the author as one person: `<source>:<profile id>` (see `impactreport.people`)"),
    "username": (pl.String(), "author's username; null when unknown (format B without a resolving snapshot)"),
    "name": (pl.String(), "author's full name; null when unknown"),
    "is_bot": (pl.Boolean(), "author is an automated account"),
    "published": (UTC_TIME, "when the text was posted"),
    "views": (pl.Int64(), "views of the document (documents only; thread views are in `threads`)"),
    "characters": (pl.Int64(), "characters on the dataset's text basis (documents: intro + body)"),
    "words": (pl.Int64(), "words on the dataset's text basis"),
    "dois": (pl.List(pl.String()), "distinct DOIs cited in the text, lowercased"),
}

SNAPSHOTS: dict[str, tuple[pl.DataType, str]] = {
    "source": (pl.String(), SOURCE_NAMES),
    "project": (pl.String(), "project name"),
    "path": (pl.String(), "file the rows were read from"),
    "format": (pl.String(), "export format: A, B, B′ or C (Thinklab), or the source name"),
    "retrieved": (UTC_TIME, "when the export was retrieved (the file's `retrieved` field)"),
    "sha256": (pl.String(), "sha256 of the file's bytes as stored"),
    "rows": (pl.Int64(), "rows over the five tables"),
}

TABLES: dict[str, dict[str, tuple[pl.DataType, str]]] = {
    "profiles": PROFILES,
    "documents": DOCUMENTS,
    "threads": THREADS,
    "comments": COMMENTS,
    "notes": NOTES,
    "posts": POSTS,
    "snapshots": SNAPSHOTS,
}


def polars_schema(table: str) -> pl.Schema:
    """The polars schema of one table, for building empty frames and casting."""
    return pl.Schema({name: dtype for name, (dtype, _) in TABLES[table].items()})


def empty(table: str) -> pl.DataFrame:
    """An empty frame of one table: empty projects still have every column."""
    return pl.DataFrame(schema=polars_schema(table))


@dataclass(frozen=True)
class Dataset:
    """Everything loaded from one or more exports, in the documented schema.

    ``usernames_known`` is False when some author could not be resolved to a username (format B
    without a resolving snapshot): contributors are then counted by profile id and the team filter
    cannot apply. ``warnings`` lists recoverable problems met while loading (each with a count).
    """

    profiles: pl.DataFrame
    documents: pl.DataFrame
    threads: pl.DataFrame
    comments: pl.DataFrame
    notes: pl.DataFrame
    posts: pl.DataFrame
    snapshots: pl.DataFrame
    text_basis: str = "html"
    usernames_known: bool = True
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def projects(self) -> list[str]:
        """Project names, sorted case-insensitively (as the README tables list them)."""
        names = set(self.snapshots["project"].to_list()) | set(self.threads["project"].to_list())
        return sorted(names, key=str.lower)

    def select_projects(self, projects: list[str] | None) -> Dataset:
        """The same dataset restricted to some projects (None or empty = all)."""
        if not projects:
            return self
        keep = pl.col("project").is_in(list(projects))
        return Dataset(
            **{name: getattr(self, name).filter(keep) for name in TABLES},
            text_basis=self.text_basis,
            usernames_known=self.usernames_known,
            warnings=self.warnings,
        )
