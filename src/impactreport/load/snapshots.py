"""Find export files: a single file, a folder of them, or the snapshot store written by ``fetch``.

The store's tree is ``<data>/exports/<source>/<project>/<retrieved UTC as YYYY-MM-DDTHHMMSSZ>.json.gz``
(see ``data/README.md``). Files outside that layout are one export per project, project = file stem.
Hidden files (``.name``: the fetcher's temporary files) and ``manifest.jsonl`` are never read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from impactreport.errors import InputError

#: Name of a stored snapshot: its retrieval time in UTC.
STAMP_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}Z)\.json(?:\.gz)?$")
STAMP_FORMAT = "%Y-%m-%dT%H%M%SZ"
EXPORT_SUFFIXES = (".json", ".json.gz")


@dataclass(frozen=True, order=True)
class SnapshotFile:
    """One export file and what its place in the tree says about it.

    ``stamp`` is the retrieval time from a store file name (None outside the store: the file's own
    ``retrieved`` field is read when it is loaded). ``order`` sorts files of one project oldest first.
    """

    project: str
    order: str
    path: Path
    source: str = "thinklab"
    stamp: datetime | None = None


def project_name(path: Path) -> str:
    """Project of a file outside the store: its name without ``.json`` or ``.json.gz``."""
    name = path.name
    for suffix in (".json.gz", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def is_export_file(path: Path) -> bool:
    """An export file the loader should read (not hidden, not the manifest, not a temporary file)."""
    return path.is_file() and not path.name.startswith(".") and path.name.endswith(EXPORT_SUFFIXES)


def describe(path: Path) -> SnapshotFile:
    """Where a file sits: a store snapshot (source/project/stamp) or a plain per-project export."""
    match = STAMP_PATTERN.match(path.name)
    if match and path.parent.parent.name:
        stamp = datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
        return SnapshotFile(
            project=path.parent.name,
            order=match.group(1),
            path=path,
            source=path.parent.parent.name,
            stamp=stamp,
        )
    return SnapshotFile(project=project_name(path), order=str(path), path=path)


def _walk(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if any(part.startswith(".") for part in relative):
            continue
        if is_export_file(path):
            yield path


def discover(paths: Sequence[str | Path], *, all_snapshots: bool = False) -> list[SnapshotFile]:
    """Export files under ``paths``: the newest per (source, project), or every one when asked.

    Raises :class:`InputError` naming a path that does not exist or holds no export.
    """
    found: list[SnapshotFile] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_file():
            if not path.name.endswith(EXPORT_SUFFIXES):
                raise InputError(f"{path}: not an export file (expected .json or .json.gz)")
            found.append(describe(path))
            continue
        files = [describe(file) for file in _walk(path)]
        if not files:
            raise InputError(f"{path}: no export files (.json or .json.gz) in this folder")
        found.extend(files)
    unique = {file.path.resolve(): file for file in found}
    ordered = sorted(unique.values(), key=lambda f: (f.source, f.project.lower(), f.project, f.order))
    if all_snapshots:
        return ordered
    newest: dict[tuple[str, str], SnapshotFile] = {}
    for file in ordered:
        newest[(file.source, file.project)] = file
    return list(newest.values())
