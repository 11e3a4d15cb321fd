"""Results derived from the data, kept in the user's cache folder under a key of everything they came from.

Why: a closed period never moves, so once its numbers are counted from a given store they need not be
counted again; a team re-renders last year's report beside this year's, and a comparison or award-year
run counts several periods. :mod:`impactreport.counting` keeps two kinds of result here: the views of
the snapshots that bracket a period (``views``) and each period's numbers (``period``).

A result is found only under its key: the sha256 of what it was derived from, as the caller lists it
(:mod:`impactreport.counting` lists every file of the store with its size, times and inode, the period
and every counting parameter), plus the package's version and source files and the versions of Python,
its Unicode tables, polars and the HTML parser, so new data, another parameter or other code never meets
an old result.

Layout: ``<cache home>/memo/<kind>/<key>.zip`` (stored, not compressed), holding ``meta.json``
(``{"format", "key", "meta", "meta_sha256", "sha256": {frame: sha256 of its file}}``) and one Arrow IPC
file per frame. Written atomically (mode 0o600 in a 0o700 folder, no link followed); read only when the
key inside matches and the meta and every frame match their sha256 (else counted afresh, as without
the file: a damaged or hand-edited result is never trusted); a kind keeps its
:data:`KEEP` newest results. Deleting the folder loses nothing. Nothing here is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sys
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from impactreport import __version__
from impactreport.cache_home import cache_home, private_folder
from impactreport.files import no_follow_opener, write_atomic

#: Bump when what a result holds changes meaning: results of another format are never read.
FORMAT = 1
FOLDER = "memo"
#: Results kept per kind (the oldest written go first).
KEEP = 256
#: A larger result is neither written nor read (a store of very many projects is counted afresh).
MAX_BYTES = 64 << 20
_NAME = re.compile(r"^[0-9a-f]{64}\.zip\Z")
_FRAME = re.compile(r"^[a-z_]{1,40}\Z")


@dataclass(frozen=True)
class Entry:
    """One kept result: JSON ``meta`` and named frames."""

    meta: Any
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)


@cache
def code_signature() -> str:
    """The package's version and source files (name, size, time), and the versions of what else
    shapes a number (Python and its Unicode tables, polars, the HTML parser): a result made by other
    code is never used."""
    import selectolax  # the HTML parser behind words and characters (imported by the loader anyway)

    package = Path(__file__).resolve().parent
    lines = [
        __version__,
        sys.version,
        unicodedata.unidata_version,
        pl.__version__,
        str(getattr(selectolax, "__version__", "")),
    ] + [
        f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}"
        for path in sorted(package.rglob("*.py"))
        if (info := path.stat())
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def key_of(kind: str, parts: Any) -> str:
    """The key of a result of ``kind`` derived from ``parts`` (JSON-able; dates and paths as text)."""
    shape = {"format": FORMAT, "kind": kind, "code": code_signature(), "parts": parts}
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()


def _where(kind: str, key: str) -> Path:
    return cache_home() / FOLDER / kind / f"{key}.zip"


def load(kind: str, key: str) -> Entry | None:
    """The result kept under ``key``, or None (none kept, damaged, or not ours: then count afresh)."""
    where = _where(kind, key)
    try:
        with open(where, "rb", opener=no_follow_opener) as handle:
            data = handle.read(MAX_BYTES + 1)
    except Exception:  # missing, a link, a special file: as if none were kept
        return None
    if len(data) > MAX_BYTES:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            head = json.loads(archive.read("meta.json"))
            if head.get("format") != FORMAT or head.get("key") != key:
                return None
            if _digest(head["meta"]) != head["meta_sha256"]:
                return None
            frames = {}
            for name, digest in head["sha256"].items():
                raw = archive.read(f"{name}.arrow")
                if not _FRAME.match(name) or hashlib.sha256(raw).hexdigest() != digest:
                    return None
                frames[name] = pl.read_ipc(io.BytesIO(raw))
    except Exception:  # any damage: never trusted
        return None
    return Entry(head["meta"], frames)


def save(kind: str, key: str, meta: Any, frames: Mapping[str, pl.DataFrame] | None = None) -> None:
    """Keep a result under ``key`` (a failure, such as a read-only cache folder, only costs the reuse)."""
    folder = private_folder(FOLDER, kind)
    if folder is None:
        return
    with contextlib.suppress(Exception):  # a full disk, a frame IPC cannot hold: no reuse, same numbers
        files: dict[str, bytes] = {}
        for name, frame in (frames or {}).items():
            buffer = io.BytesIO()
            frame.write_ipc(buffer)
            files[name] = buffer.getvalue()
        head = {
            "format": FORMAT,
            "key": key,
            "meta": meta,
            "meta_sha256": _digest(meta),
            "sha256": {name: hashlib.sha256(raw).hexdigest() for name, raw in files.items()},
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("meta.json", json.dumps(head))
            for name, raw in files.items():
                archive.writestr(f"{name}.arrow", raw)
        if buffer.tell() > MAX_BYTES:
            return
        write_atomic(_where(kind, key), buffer.getvalue(), mode=0o600)
        _prune(folder)


def _digest(meta: Any) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def _prune(folder: Path) -> None:
    """Keep the :data:`KEEP` newest results of a kind (only files of our own naming pattern go)."""
    entries = [
        entry
        for entry in os.scandir(folder)
        if _NAME.match(entry.name) and entry.is_file(follow_symlinks=False)
    ]
    if len(entries) <= KEEP:
        return
    entries.sort(key=lambda entry: entry.stat(follow_symlinks=False).st_mtime_ns)
    for entry in entries[: len(entries) - KEEP]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
