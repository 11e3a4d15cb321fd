"""Import the public Thinklab archive: every historical version of every project's export as a snapshot.

The daily exports of 2016–2017 were committed to a git repository (``export/json/<project>.json``,
earlier ``export/``, ``exported/``, ``Data/exported/``). Each version of a file becomes a snapshot dated by
its own ``retrieved`` field; the store drops versions whose content equals the one before.

Why git itself, in two processes: the history is 421 commits × 10 files (1.7 GB of JSON in all). One
``git log --raw`` lists every (commit, path, blob) and one ``git cat-file --batch`` streams the blobs, so
there is no process per file. Versions whose text (minus the ``retrieved`` line) equals the project's
previous version are skipped before parsing; only the ~1,700 distinct ones are parsed and stored.

PATH may be a folder of exports (``<project>.json[.gz]``), a git checkout or bare repository, a git bundle
(cloned bare into a temporary folder), or a repository URL.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from impactreport.errors import InputError
from impactreport.fetch.store import (
    SaveResult,
    SnapshotStore,
    parse_retrieved,
    row_counts,
    store_lock,
)
from impactreport.load.snapshots import describe

__all__ = [
    "EXPORT_PATH",
    "ArchiveSummary",
    "Version",
    "check_source",
    "import_archive",
    "list_versions",
]

SOURCE = "thinklab"
#: An export file in the archive: ``<folder>/<project>.json`` directly inside one of the export folders.
EXPORT_PATH = re.compile(r"^(?:export/json|export|exported|Data/exported)/([^/]+)\.json$")
URL_PREFIXES = ("http://", "https://", "git@", "ssh://", "git://", "file://")


@dataclass(frozen=True)
class Version:
    """One version of one project's export: a blob in a commit."""

    project: str
    blob: str
    commit: str
    committed: datetime
    path: str


@dataclass
class ProjectSummary:
    """What the import did for one project."""

    project: str
    versions: int = 0
    stored: int = 0
    unchanged: int = 0
    invalid: int = 0
    bytes: int = 0
    rows: int = 0
    first: str | None = None
    last: str | None = None


@dataclass
class ArchiveSummary:
    """The whole import: per-project counts plus any versions that could not be read."""

    projects: dict[str, ProjectSummary] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    commits: int = 0

    def project(self, name: str) -> ProjectSummary:
        return self.projects.setdefault(name, ProjectSummary(name))


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", "-c", "core.quotepath=off", f"--git-dir={repo}", *args]


def _run(command: list[str], what: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InputError("git is not installed; it is needed to read an archive repository") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(f"{what}: {message}")
    return done.stdout


@contextmanager
def open_repository(source: str | Path) -> Iterator[Path]:
    """The git directory to read: the repository itself, or a bare clone of a bundle or URL (temporary)."""
    text = str(source)
    path = Path(source)
    if text.startswith(URL_PREFIXES) or path.is_file():
        if path.is_file():
            _run(["git", "bundle", "list-heads", str(path)], f"{path}: not a git bundle")
        with tempfile.TemporaryDirectory(prefix="impactreport-archive-") as temp:
            target = Path(temp) / "repo.git"
            _run(["git", "clone", "--quiet", "--bare", text, str(target)], f"{text}: cannot clone")
            yield target
        return
    found = _run(["git", "-C", str(path), "rev-parse", "--absolute-git-dir"], f"{path}: not a git repository")
    yield Path(found.strip())


def is_git_source(source: str | Path) -> bool:
    """A bundle, URL or repository (rather than a plain folder of exports)."""
    text = str(source)
    path = Path(source)
    if text.startswith(URL_PREFIXES) or path.is_file():
        return True
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def list_versions(repo: Path) -> tuple[list[Version], int]:
    """Every added or modified export file in the history, oldest commit first, and the commit count.

    One ``git log --raw`` over all refs; merge commits show no diff, so each version appears once.
    """
    log = _run(
        _git(
            repo,
            "log",
            "--all",
            "--reverse",
            "--date-order",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--root",
            "--format=%x00%H %ct",
            "--",
            "export",
            "exported",
            "Data/exported",
        ),
        f"{repo}: cannot read the history",
    )
    versions: list[Version] = []
    commits = 0
    commit, committed = "", datetime.fromtimestamp(0, UTC)
    for line in log.splitlines():
        if line.startswith("\x00"):
            commit, seconds = line[1:].split()
            committed = datetime.fromtimestamp(int(seconds), UTC)
            commits += 1
        elif line.startswith(":"):
            meta, _, path = line.partition("\t")
            fields = meta.split()
            match = EXPORT_PATH.match(path)
            if match and fields[4][0] in "AMT" and fields[1] != "160000":
                versions.append(Version(match.group(1), fields[3], commit, committed, path))
    return versions, commits


def read_blobs(repo: Path, blobs: list[str]) -> Iterator[tuple[str, bytes]]:
    """(sha, content) for each blob, in order, from one ``git cat-file --batch`` process."""
    process = subprocess.Popen(
        _git(repo, "cat-file", "--batch"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None

    def feed(stdin: IO[bytes]) -> None:
        try:
            for blob in blobs:
                stdin.write(f"{blob}\n".encode())
        except BrokenPipeError:
            pass
        finally:
            stdin.close()

    writer = threading.Thread(target=feed, args=(process.stdin,), daemon=True)
    writer.start()
    stdout = process.stdout
    try:
        for blob in blobs:
            header = stdout.readline().decode().split()
            if len(header) != 3:
                raise InputError(f"{repo}: git cat-file: cannot read object {blob} ({' '.join(header)})")
            size = int(header[2])
            content = stdout.read(size)
            stdout.read(1)
            yield header[0], content
    finally:
        stdout.close()
        process.kill()
        process.wait()
        writer.join()


def _import_one(
    store: SnapshotStore,
    summary: ArchiveSummary,
    project: str,
    raw: bytes,
    fallback: datetime,
    label: str,
) -> None:
    item = summary.project(project)
    shortcut = store.unchanged_text(SOURCE, project, raw)
    if shortcut is not None:  # already stored (a re-run): no need to parse
        item.unchanged += 1
        item.rows = sum(shortcut.rows.values())
        _dates(item, shortcut.retrieved)
        return
    try:
        payload = json.loads(raw)
    except ValueError as error:
        item.invalid += 1
        summary.problems.append(f"{label}: not valid JSON ({error})")
        return
    if not isinstance(payload, dict):
        item.invalid += 1
        summary.problems.append(f"{label}: not a JSON object")
        return
    retrieved = fallback
    if isinstance(payload.get("retrieved"), str):
        try:
            retrieved = parse_retrieved(payload["retrieved"])
        except ValueError:
            summary.problems.append(
                f"{label}: unreadable retrieved {payload['retrieved']!r}; using commit time"
            )
    result = store.save_async(SOURCE, project, payload, retrieved=retrieved, text=raw)
    if isinstance(result, Future):
        item.stored += 1
        result.add_done_callback(lambda done: _add_bytes(item, done))
        item.rows = sum(row_counts(payload).values())
    elif result.status == "stored":
        item.stored += 1
        item.bytes += result.bytes
        item.rows = sum(result.rows.values())
    else:
        item.unchanged += 1
        item.rows = sum(result.rows.values())
    _dates(item, retrieved)


def _add_bytes(item: ProjectSummary, done: Future[SaveResult]) -> None:
    if done.exception() is None:
        item.bytes += done.result().bytes


def _dates(item: ProjectSummary, retrieved: datetime) -> None:
    stamp = retrieved.strftime("%Y-%m-%d")
    item.first = item.first or stamp
    item.last = stamp


def import_git(
    store: SnapshotStore,
    repo: Path,
    *,
    on_total: Callable[[int], None] | None = None,
    on_version: Callable[[Version], None] | None = None,
) -> ArchiveSummary:
    """Import every version in a repository's history into the store (oldest first)."""
    summary = ArchiveSummary()
    versions, summary.commits = list_versions(repo)
    if not versions:
        raise InputError(f"{repo}: no export files (export/json/<project>.json) in the history")
    if on_total is not None:
        on_total(len(versions))
    seen_blobs: set[str] = set()
    wanted = []
    for version in versions:  # the same blob twice (a revert, another branch) is one version
        if version.blob not in seen_blobs:
            seen_blobs.add(version.blob)
            wanted.append(version)
    skipped = len(versions) - len(wanted)
    previous: dict[str, str] = {}
    for version, (_, raw) in zip(wanted, read_blobs(repo, [v.blob for v in wanted]), strict=True):
        item = summary.project(version.project)
        item.versions += 1
        key = store.digest(raw)
        if previous.get(version.project) == key:
            item.unchanged += 1  # equal to the version before, apart from `retrieved`: no need to parse
        else:
            label = f"{version.commit[:10]}:{version.path}"
            _import_one(store, summary, version.project, raw, version.committed, label)
            previous[version.project] = key
        if on_version is not None:
            on_version(version)
    if on_version is not None and skipped:
        for _ in range(skipped):
            on_version(versions[0])
    return summary


def import_folder(
    store: SnapshotStore,
    folder: Path,
    *,
    on_total: Callable[[int], None] | None = None,
    on_version: Callable[[Version], None] | None = None,
) -> ArchiveSummary:
    """Import a folder of exports (``<project>.json`` or ``.json.gz``, searched recursively)."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name.endswith((".json", ".json.gz"))
    )
    files = [p for p in files if p.name != "manifest.jsonl"]
    if not files:
        raise InputError(f"{folder}: no export files (.json or .json.gz) in this folder")
    if on_total is not None:
        on_total(len(files))
    summary = ArchiveSummary()
    loaded: list[tuple[datetime, str, bytes, Path]] = []
    for path in files:
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        project = describe(path).project
        moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        loaded.append((moment, project, raw, path))
    for moment, project, raw, path in loaded:
        summary.project(project).versions += 1
        _import_one(store, summary, project, raw, moment, str(path))
        if on_version is not None:
            on_version(Version(project, "", "", moment, str(path)))
    return summary


def check_source(source: str | Path) -> None:
    """Refuse a PATH that does not exist (before any progress display starts)."""
    if not str(source).startswith(URL_PREFIXES) and not Path(source).exists():
        raise InputError(f"{source}: no such file or folder")


def import_archive(
    data_dir: str | Path,
    source: str | Path,
    *,
    on_total: Callable[[int], None] | None = None,
    on_version: Callable[[Version], None] | None = None,
) -> ArchiveSummary:
    """Import an archive (folder, repository, bundle or URL) into ``DATA/exports/thinklab``."""
    check_source(source)
    with store_lock(data_dir):
        store = SnapshotStore(Path(data_dir))
        with store.background():
            if is_git_source(source):
                with open_repository(source) as repo:
                    return import_git(store, repo, on_total=on_total, on_version=on_version)
            return import_folder(store, Path(source), on_total=on_total, on_version=on_version)
