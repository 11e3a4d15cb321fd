"""The snapshot store's tree, defined once: what ``fetch`` writes and ``load`` reads.

Why one module: the writer (:mod:`impactreport.fetch.store`) and the reader
(:mod:`impactreport.snapshots`) must agree on every name, so neither defines its own.

Layout::

    DIR/exports/<source>/<project>/<retrieved UTC as YYYY-MM-DDTHHMMSSZ>.json.gz
    DIR/exports/manifest.jsonl      one JSON line per stored file (append-only)
    DIR/exports/.lock               held (flock) by the run that writes
    DIR/demo/.impactreport-demo     marks the generated demo tree (never read unless asked for)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

#: Folder under the data folder that holds the store.
EXPORTS_DIR = "exports"
#: Folder under the data folder that ``impactreport demo`` writes by default.
DEMO_DIR = "demo"
#: File that marks a folder as generated demo data: a scan of a parent folder skips it with a notice.
DEMO_MARKER = ".impactreport-demo"
#: Between a Discourse forum's host and a category in its project folder (``<host>__<category>``): the
#: forum is what comes before it (its users are numbered per forum).
FORUM_CATEGORY_SEPARATOR = "__"
MANIFEST_NAME = "manifest.jsonl"
LOCK_NAME = ".lock"

#: strftime/strptime format of a snapshot's stamp (its retrieval time in UTC).
STAMP_FORMAT = "%Y-%m-%dT%H%M%SZ"
#: File name of a stored snapshot (the writer always gzips; the reader also accepts plain ``.json``).
STAMP_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}Z)\.json\.gz$")
STAMP_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}Z)\.json(?:\.gz)?$")
EXPORT_SUFFIXES = (".json", ".json.gz")
#: The five tables of an export, in their order: what the store holds, the loader reads and the cache keeps.
TABLE_NAMES = ("documents", "threads", "comments", "notes", "profiles")


def stamp(moment: datetime) -> str:
    """``2017-09-09T232937Z``: the stamp of a retrieval time."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def stamp_name(moment: datetime) -> str:
    """File name of the snapshot retrieved at ``moment``."""
    return stamp(moment) + ".json.gz"


def parse_stamp(text: str) -> datetime:
    """The retrieval time a stamp names (aware, UTC).

    Sliced by hand, not ``strptime``: a store listing parses one stamp per file (thousands per run),
    and ``strptime`` costs ten times more. An impossible stamp is a ``ValueError`` as before."""
    if (
        len(text) != 18
        or text[10] != "T"
        or text[17] != "Z"
        or not (text[:4] + text[5:7] + text[8:10] + text[11:17]).isdigit()
    ):
        raise ValueError(f"not a stamp {STAMP_FORMAT!r}: {text!r}")
    return datetime(
        int(text[:4]),
        int(text[5:7]),
        int(text[8:10]),
        int(text[11:13]),
        int(text[13:15]),
        int(text[15:17]),
        tzinfo=UTC,
    )
