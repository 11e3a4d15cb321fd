"""The snapshot store's tree, defined once: what ``fetch`` writes and ``load`` reads.

Why one module: the writer (:mod:`impactreport.fetch.store`) and the reader
(:mod:`impactreport.load.snapshots`) must agree on every name, so neither defines its own.

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


def stamp(moment: datetime) -> str:
    """``2017-09-09T232937Z``: the stamp of a retrieval time."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def stamp_name(moment: datetime) -> str:
    """File name of the snapshot retrieved at ``moment``."""
    return stamp(moment) + ".json.gz"


def parse_stamp(text: str) -> datetime:
    """The retrieval time a stamp names (aware, UTC)."""
    return datetime.strptime(text, STAMP_FORMAT).replace(tzinfo=UTC)
