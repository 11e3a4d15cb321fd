"""Thinklab format-C exports for tests, built in one place.

A test that needs data writes the few rows its case is about and leaves the rest to these helpers, so a
new test does not copy another file's forty-line export dict (issue 21: the suite had eleven of them).
The rows are the format-C rows the loader reads (:mod:`impactreport.load.formats`; the columns are
documented in :mod:`impactreport.schema`): flat rows with ``*_id`` keys in five tables, ``documents``,
``threads``, ``comments``, ``notes`` and ``profiles``, plus the file's ``retrieved`` time and, for the
sources written in the Thinklab layout (GitHub, Discourse, …), its ``source``.

    from tests.builders import comment, export, profile, thread, write_export

    data = export(
        threads=[thread(1, profile=1)],
        comments=[comment(10, thread=1, profile=1, body="hello")],
        profiles=[profile(1, "ann")],
        retrieved="2017-01-01T00:00:00.000000Z",
    )
    write_export(tmp_path / "project.json", data)

Every row helper takes ``**extra``: keys added to (or replacing) the row's defaults, for the case a test
is about (a ``views`` count, a ``document_id``, an unknown column, a hostile subject).

The store layout (``DATA/exports/<source>/<project>/<YYYY-MM-DDTHHMMSSZ>.json.gz``) is written by
:func:`write_snapshot`; the CLI runners are in :mod:`tests.runner`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

#: The five tables of an export, in the order the files list them.
TABLES = ("documents", "threads", "comments", "notes", "profiles")

#: A time inside the Thinklab years, for rows whose date the test does not care about.
PUBLISHED = "2017-01-01T00:00:00.000000Z"

Row = dict[str, Any]


def export(
    *,
    threads: Iterable[Row] = (),
    comments: Iterable[Row] = (),
    notes: Iterable[Row] = (),
    profiles: Iterable[Row] = (),
    documents: Iterable[Row] = (),
    retrieved: str | None = None,
    source: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A format-C export: the five tables (empty unless given), then ``retrieved`` and ``source`` when
    given (an export without ``retrieved`` is dated by its file name or not at all; without ``source``
    it is Thinklab), then ``extra`` top-level keys."""
    data: dict[str, Any] = {
        "documents": list(documents),
        "threads": list(threads),
        "comments": list(comments),
        "notes": list(notes),
        "profiles": list(profiles),
    }
    if retrieved is not None:
        data["retrieved"] = retrieved
    if source is not None:
        data["source"] = source
    data.update(extra)
    return data


def thread(thread_id: int, profile: int | None = 1, published: str = PUBLISHED, **extra: Any) -> Row:
    """A discussion opened by ``profile`` (``None`` for a document's review thread)."""
    row: Row = {
        "thread_id": thread_id,
        "profile_id": profile,
        "document_id": None,
        "subject": "s",
        "published": published,
        "url": f"/discussion/t/{thread_id}",
        "views": 1,
    }
    return row | extra


def comment(
    comment_id: int,
    thread: int = 1,
    profile: int = 1,
    published: str = PUBLISHED,
    body: str = "hi",
    **extra: Any,
) -> Row:
    """A comment in ``thread`` by ``profile``: ``body`` is its markdown, ``<p>body</p>`` its HTML."""
    row: Row = {
        "comment_id": comment_id,
        "thread_id": thread,
        "profile_id": profile,
        "published": published,
        "url": f"/discussion/t/{thread}#{comment_id}",
        "body_md": body,
        "body_html": f"<p>{body}</p>",
    }
    return row | extra


def note(
    note_id: int, comment: int = 10, profile: int = 1, added: str = PUBLISHED, body: str = "ok", **extra: Any
) -> Row:
    """A note on ``comment`` by ``profile``; format C dates a note by ``added``, not ``published``."""
    row: Row = {
        "note_id": note_id,
        "comment_id": comment,
        "profile_id": profile,
        "added": added,
        "url": f"/discussion/t#note-{note_id}",
        "body_md": body,
        "body_html": f"<p>{body}</p>",
    }
    return row | extra


def profile(profile_id: int, username: str, first: str = "", last: str = "", **extra: Any) -> Row:
    """A person: the loader joins ``first`` and ``last`` into the name (the username when both are empty)."""
    row: Row = {
        "profile_id": profile_id,
        "username": username,
        "first_name": first,
        "last_name": last,
        "url": f"/u/{username}",
    }
    return row | extra


def document(document_id: int, published: str = PUBLISHED, body: str = "text", **extra: Any) -> Row:
    """A document (Thinklab exports no author for it)."""
    row: Row = {
        "document_id": document_id,
        "title": "",
        "published": published,
        "url": f"/doc/{document_id}",
        "views": 1,
        "intro_md": "",
        "intro_html": "",
        "body_md": body,
        "body_html": f"<p>{body}</p>",
    }
    return row | extra


def one_comment(retrieved: str | None = "2017-01-01T00:00:00.000000Z", **extra: Any) -> dict[str, Any]:
    """The smallest export with a contributor: thread 1 by ``ann`` (profile 1) and her comment 10."""
    return export(
        threads=[thread(1)],
        comments=[comment(10)],
        profiles=[profile(1, "ann")],
        retrieved=retrieved,
        **extra,
    )


def encode(data: dict[str, Any] | bytes, *, gz: bool = False) -> bytes:
    """The bytes of an export file: JSON (bytes are taken as they are), gzip-compressed when ``gz``."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode("utf-8")
    return gzip.compress(raw) if gz else raw


def write_export(path: Path, data: dict[str, Any] | bytes, gz: bool | None = None) -> Path:
    """Write an export file (creating its folder) and return its path; compressed when ``gz``, or, when
    ``gz`` is not given, when the name ends in ``.gz``. Bytes are written as they are (then compressed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(data, gz=path.name.endswith(".gz") if gz is None else gz))
    return path


def snapshot_path(data_dir: Path, source: str, project: str, stamp: str | datetime) -> Path:
    """Where the store keeps one snapshot: ``DATA/exports/<source>/<project>/<stamp>.json.gz``; a
    datetime is written as the store names it (``2017-01-01T000000Z``)."""
    if isinstance(stamp, datetime):
        stamp = stamp.strftime("%Y-%m-%dT%H%M%SZ")
    return data_dir / "exports" / source / project / f"{stamp}.json.gz"


def write_snapshot(
    data_dir: Path, source: str, project: str, stamp: str | datetime, data: dict[str, Any] | bytes
) -> Path:
    """Write one snapshot into the store below ``data_dir`` (gzip-compressed, as the store keeps it)."""
    return write_export(snapshot_path(data_dir, source, project, stamp), data, gz=True)
