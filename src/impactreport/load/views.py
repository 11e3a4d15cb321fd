"""Views of every thread and document in every snapshot, reading only what views need.

Hundreds of daily snapshots make the full loader too slow for a views-over-time chart, so this
reads each file once, decompresses it, and JSON-decodes only the ``threads`` and ``documents``
arrays (located by their top-level key: inside a JSON string a quote is always escaped, so
``"threads":`` can only be the key) and the ``retrieved`` value. Files are read in parallel.

Formats (see the Thinklab README): A has no views (its snapshots are skipped); B has no ids (thread
ids come from the url ``/discussion/<slug>/<id>``; review threads ``/doc/<id>/review`` and documents
``/p/<project>…`` get their id from another snapshot with the same url, else stay null and are keyed
by url); B′ has ``id``; C has ``thread_id`` / ``document_id``.

Files are read through :func:`impactreport.load.read.export_bytes` (the same size limit as the
loader), and a ``views`` value is read by the loader's rule (:func:`~impactreport.load.read.whole_number`):
a row whose views are not a whole number is left out and counted in a warning naming the file and field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl

from impactreport.errors import InputError
from impactreport.load.read import counter_warning, export_bytes, whole_number
from impactreport.schema import UTC_TIME

from .snapshots import SnapshotFile, discover, retrieved_time

SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "project": pl.String(),
        "retrieved": UTC_TIME,
        "kind": pl.String(),
        "id": pl.Int64(),
        "url": pl.String(),
        "views": pl.Int64(),
    }
)

_DECODER = json.JSONDecoder()
_THREAD_URL = re.compile(r"/discussion/[^/]*/(\d+)")
_RETRIEVED = re.compile(rb'"retrieved"\s*:\s*"([^"]*)"')
_ARRAY_OPEN = re.compile(rb"\s*:\s*\[")
#: Below this many files a process pool costs more than it saves.
PARALLEL_MIN_FILES = 64

Row = tuple[str, int | None, str | None, int]
#: table.field -> [how many values were not whole numbers, the first of them]
Odd = dict[str, list]


def _key_start(data: bytes, key: bytes) -> int | None:
    """Offset of the ``[`` opening the top-level array under ``key``, searching from the end.

    Sorted keys put ``threads`` last and ``documents`` after the (large) ``comments``, so a reverse
    search scans little. A match must be ``"key"`` followed by ``:`` and ``[``: inside a JSON string
    a quote is always escaped, and a string value equal to the key is not followed by a colon.
    """
    quoted = b'"' + key + b'"'
    end = len(data)
    while (found := data.rfind(quoted, 0, end)) != -1:
        match = _ARRAY_OPEN.match(data, found + len(quoted))
        if match:
            return match.end() - 1
        end = found
    return None


def _array(data: bytes, key: str, path: Path) -> list[dict] | None:
    """The top-level array under ``key``, decoded alone; None when the key is absent.

    Pretty-printed exports (indent 2) close a top-level array with a newline and two spaces: that
    slice is parsed directly. Anything else falls back to decoding from the array to the end.
    """
    start = _key_start(data, key.encode())
    if start is None:
        return None
    close = data.find(b"\n  ]", start)
    if close != -1:
        try:
            value = json.loads(data[start : close + 4])
            return value if isinstance(value, list) else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    try:
        value, _ = _DECODER.raw_decode(data[start:].decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: broken JSON in {key!r} ({error})") from None
    return value if isinstance(value, list) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rows(table: list[dict], kind: str, odd: Odd) -> list[Row]:
    """(kind, id, url, views) of each row with views; views that are not whole numbers go to ``odd``."""
    rows: list[Row] = []
    id_key = "thread_id" if kind == "thread" else "document_id"
    for item in table:
        if not isinstance(item, dict) or "model" in item:
            return []  # format A: no views
        value = item.get("views")
        views = whole_number(value)
        if views is None:
            if value is not None:
                odd.setdefault(f"{kind}s.views", [0, value])[0] += 1
            continue
        url = item.get("url") if isinstance(item.get("url"), str) else None
        ident = _int(item.get(id_key, item.get("id")))
        if ident is None and kind == "thread" and url:
            found = _THREAD_URL.search(url)
            ident = int(found.group(1)) if found else None
        rows.append((kind, ident, url, views))
    return rows


def read_views(path: str) -> tuple[str | None, list[Row], list[str]]:
    """``retrieved``, (kind, id, url, views) rows and warnings of one export file."""
    file = Path(path)
    data = export_bytes(file)
    found = _RETRIEVED.search(data, max(0, len(data) - 65536)) or _RETRIEVED.search(data)
    retrieved = found.group(1).decode("utf-8", "replace") if found else None
    rows: list[Row] = []
    odd: Odd = {}
    for key, kind in (("threads", "thread"), ("documents", "document")):
        table = _array(data, key, file)
        if table:
            rows.extend(_rows(table, kind, odd))
    warnings = [counter_warning(file, field, *odd[field]) for field in sorted(odd)]
    return retrieved, rows, warnings


def read_file(path: str) -> tuple[str | None, list[Row]]:
    """``retrieved`` and (kind, id, url, views) rows of one export file (see :func:`read_views`)."""
    retrieved, rows, _ = read_views(path)
    return retrieved, rows


def _read_all(
    files: list[SnapshotFile], workers: int | None
) -> list[tuple[str | None, list[Row], list[str]]]:
    paths = [str(file.path) for file in files]
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 1 or len(paths) < PARALLEL_MIN_FILES:
        return [read_views(path) for path in paths]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(read_views, paths, chunksize=max(1, len(paths) // (workers * 8))))


def load_views(
    paths: Sequence[str | Path], *, workers: int | None = None, warnings: list[str] | None = None
) -> pl.DataFrame:
    """One row per thread or document per snapshot: source, project, retrieved, kind, id, url, views.

    Every snapshot under ``paths`` is read (format A files contribute nothing). Ids missing in
    format B are filled from snapshots that have them, matching project, kind and url. Views that are
    not whole numbers are left out; ``warnings``, when given, gets one line per file and field
    (a line already in it is not repeated: the loader may have said the same of the newest snapshot).
    """
    files = discover(paths, all_snapshots=True)
    columns: dict[str, list] = {name: [] for name in SCHEMA}
    for file, (retrieved, rows, said) in zip(files, _read_all(files, workers), strict=True):
        if warnings is not None:
            warnings.extend(line for line in said if line not in warnings)
        when = retrieved_time(retrieved, file)
        for kind, ident, url, views in rows:
            columns["source"].append(file.source)
            columns["project"].append(file.project)
            columns["retrieved"].append(when)
            columns["kind"].append(kind)
            columns["id"].append(ident)
            columns["url"].append(url)
            columns["views"].append(views)
    frame = pl.DataFrame(columns, schema=SCHEMA)
    known = (
        frame.filter(pl.col("id").is_not_null() & pl.col("url").is_not_null())
        .group_by("source", "project", "kind", "url")
        .agg(known_id=pl.col("id").last())
    )
    return (
        frame.join(known, on=["source", "project", "kind", "url"], how="left", nulls_equal=False)
        .with_columns(id=pl.coalesce("id", "known_id"))
        .drop("known_id")
        .sort("retrieved", "project", "kind", "id", nulls_last=True)
    )
