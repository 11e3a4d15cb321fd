"""Import the public Thinklab archive: every historical version of every project's export as a snapshot.

The daily exports of 2016–2017 were committed to a git repository (``export/json/<project>.json``,
earlier ``export/``, ``exported/``, ``Data/exported/``). Each version of a file becomes a snapshot dated by
its own ``retrieved`` field; the store drops versions whose content equals the one before.

Why git itself, in two processes: the history is 421 commits × 10 files (1.7 GB of JSON in all). One
``git log --raw`` lists every (commit, path, blob) and one ``git cat-file --batch`` streams the blobs, so
there is no process per file. Versions whose text (minus the ``retrieved`` line) equals the project's
previous version are skipped before parsing (by :func:`impactreport.fetch.sync.sync`); only the
~1,700 distinct ones are parsed and stored.

PATH may be a folder of exports (``<project>.json[.gz]``), a git checkout or bare repository, a git bundle
(cloned bare into a temporary folder), or a repository URL.

A folder is scanned as the loader scans one (:func:`impactreport.snapshots.find`): hidden files and
folders (``.git``, ``.history``, a fetcher's temporary files) and symbolic links below it are never
imported, and a JSON file that is not a project export (no ``documents``, ``threads``, ``comments``,
``notes`` or ``profiles`` table: a ``package.json``, a cache's ``manifest.json``) is skipped with a note,
never imported as a project named after it. A folder counts as a git checkout only when its ``.git`` is
one (a ``.git`` folder with a ``HEAD``, or a ``.git`` file pointing at one).

File names are taken as they are: the history is listed with ``-z`` (NUL-separated, never quoted), so a
name with a space, a quote, a tab or non-ASCII letters is one project name; paths are passed to git after
``--`` and never through a shell. Every export is read within the loader's size limit
(:func:`impactreport.capped.max_export_bytes`).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from impactreport.capped import export_bytes, max_export_bytes, too_large
from impactreport.errors import InputError
from impactreport.fetch.ratelimits import Reporter
from impactreport.fetch.sync import Since, Snapshot
from impactreport.layout import TABLE_NAMES
from impactreport.snapshots import find

__all__ = [
    "EXPORT_PATH",
    "ArchiveSource",
    "Version",
    "check_source",
    "folder_versions",
    "list_versions",
]

SOURCE = "thinklab"
#: An export file in the archive: ``<folder>/<project>.json`` directly inside one of the export folders.
EXPORT_PATH = re.compile(r"^(?:export/json|export|exported|Data/exported)/([^/]+)\.json\Z")
URL_PREFIXES = ("http://", "https://", "git@", "ssh://", "git://", "file://")
#: A table of an export: a project export has at least one (the loader's rule for "not an export").
TABLE_KEY = re.compile(rb'"(?:' + "|".join(TABLE_NAMES).encode() + rb')"\s*:\s*\[')
NOT_AN_EXPORT = f"not a project export (none of the tables {', '.join(TABLE_NAMES)}), skipped"
#: The start of a JSON object (after a byte-order mark and white space).
OBJECT_START = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*\{")


@dataclass(frozen=True)
class Version:
    """One version of one project's export: a blob in a commit."""

    project: str
    blob: str
    commit: str
    committed: datetime
    path: str


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", "-c", "core.quotepath=off", f"--git-dir={repo}", *args]


def _run_bytes(command: list[str], what: str) -> bytes:
    try:
        done = subprocess.run(command, capture_output=True, check=False)
    except FileNotFoundError:
        raise InputError("git is not installed; it is needed to read an archive repository") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        message = (stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(f"{what}: {message}")
    return done.stdout


def _run(command: list[str], what: str) -> str:
    return _run_bytes(command, what).decode("utf-8", "surrogateescape")


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
    dot_git = path / ".git"
    checkout = dot_git.is_file() or (dot_git / "HEAD").is_file()  # not any folder named .git
    return checkout or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def list_versions(repo: Path) -> tuple[list[Version], int]:
    """Every added or modified export file in the history, oldest commit first, and the commit count.

    One ``git log --raw -z`` over all refs; merge commits show no diff, so each version appears once.
    """
    log = _run_bytes(
        _git(
            repo,
            "log",
            "--all",
            "--reverse",
            "--date-order",
            "--raw",
            "-z",
            "--no-abbrev",
            "--no-renames",
            "--root",
            "--format=%H %ct",
            "--",
            "export",
            "exported",
            "Data/exported",
        ),
        f"{repo}: cannot read the history",
    )
    return parse_log(log)


def parse_log(log: bytes) -> tuple[list[Version], int]:
    """Versions and commit count from ``git log --raw -z --format='%H %ct'`` output.

    With ``-z`` every field ends in NUL: a commit line ``<sha> <seconds>``, then for each file a raw
    line ``:<mode> <mode> <blob> <blob> <status>`` followed by the path as it is, unquoted (a space,
    quote, tab or newline in it is just a byte). Paths are UTF-8; other bytes survive as surrogates.
    """
    versions: list[Version] = []
    commits = 0
    commit, committed = "", datetime.fromtimestamp(0, UTC)
    items = iter(log.split(b"\x00"))
    for item in items:
        text = item.lstrip(b"\n").decode("utf-8", "surrogateescape")
        if text.startswith(":"):
            meta = text.split()
            path = next(items, b"").decode("utf-8", "surrogateescape")
            match = EXPORT_PATH.match(path)
            if match and meta[4][0] in "AMT" and meta[1] != "160000":
                versions.append(Version(match.group(1), meta[3], commit, committed, path))
        elif text:
            commit, seconds = text.split()
            committed = datetime.fromtimestamp(int(seconds), UTC)
            commits += 1
    return versions, commits


def read_blobs(repo: Path, blobs: list[str], limit: int | None = None) -> Iterator[tuple[str, bytes]]:
    """(sha, content) for each blob, in order, from one ``git cat-file --batch`` process.

    A blob larger than the export size limit is refused from its header, before it is read.
    """
    limit = max_export_bytes() if limit is None else limit
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
            if size > limit:
                raise too_large(f"{repo}: object {blob}", limit, decompressed=False)
            content = stdout.read(size)
            stdout.read(1)
            yield header[0], content
    finally:
        stdout.close()
        process.kill()
        process.wait()
        writer.join()


@dataclass
class ArchiveSource:
    """The archive as a :class:`~impactreport.fetch.sync.Source`: each project's versions, oldest first.

    Open it with :meth:`open` (a bundle or URL is cloned into a temporary folder for the duration). A
    version is handed to the store as raw text dated by its own ``retrieved`` (the commit or file time
    when that is unreadable), so an already stored one is recognised without parsing it.
    """

    location: str | Path
    repo: Path | None = None  # the git directory; None for a folder of exports
    reporter: Reporter = field(default_factory=Reporter)
    commits: int = 0
    source: str = SOURCE
    #: what the folder scan left out, one line each (non-export JSON files, links, demo data)
    notes: list[str] = field(default_factory=list)
    _versions: dict[str, list[Version]] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    @contextmanager
    def open(cls, location: str | Path, reporter: Reporter | None = None) -> Iterator[ArchiveSource]:
        check_source(location)
        made = reporter or Reporter()
        if is_git_source(location):
            with open_repository(location) as repo:
                yield cls(location, repo, made)
        else:
            archive = cls(location, None, made)
            archive._scan_folder()  # before the store is opened: a bad folder creates nothing
            yield archive

    def _scan_folder(self) -> None:
        for version in folder_versions(Path(self.location), self.notes):
            self._versions.setdefault(version.project, []).append(version)

    @property
    def options(self) -> None:
        return None

    def projects(self) -> list[str]:
        """Read the history (or the folder): projects in order of their first version."""
        self.reporter.stage("reading history", None)
        if self.repo is not None:
            versions, self.commits = list_versions(self.repo)
            if not versions:
                raise InputError(f"{self.repo}: no export files (export/json/<project>.json) in the history")
            seen: set[str] = set()
            for version in versions:  # the same blob twice (a revert, another branch) is one version
                if version.blob not in seen:
                    seen.add(version.blob)
                    self._versions.setdefault(version.project, []).append(version)
        elif not self._versions:
            self._scan_folder()
        return list(self._versions)

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        versions = self._versions[project]
        self.reporter.stage(project, len(versions))
        if self.repo is not None:
            texts = (raw for _, raw in read_blobs(self.repo, [v.blob for v in versions]))
        else:
            texts = (export_bytes(Path(v.path)) for v in versions)
        for version, raw in zip(versions, texts, strict=True):
            label = f"{version.commit[:10]}:{version.path}" if version.commit else version.path
            yield Snapshot(text=raw, retrieved=version.committed, own_date=True, label=label)
            self.reporter.advance(1)


def folder_versions(folder: Path, notes: list[str] | None = None) -> list[Version]:
    """A folder's exports, found as the loader finds them (hidden files and folders, links and demo data
    left out), each project's oldest first, dated by their modification times (a version's own
    ``retrieved`` replaces that when it is stored). A JSON file that is not a project export is skipped;
    ``notes`` gets one line for each file left out."""
    found = find([folder], all_snapshots=True, duplicate_notices=False)
    if notes is not None:
        notes.extend(found.notices)
    versions = []
    for file in found.files:
        if not is_export_text(export_bytes(file.path)):
            if notes is not None:
                notes.append(f"{file.path}: {NOT_AN_EXPORT}")
            continue
        moment = datetime.fromtimestamp(file.path.stat().st_mtime, UTC)
        versions.append(Version(file.project, "", "", moment, str(file.path)))
    if not versions:
        raise InputError(f"{folder}: no project export among the .json and .json.gz files in this folder")
    return versions


def is_export_text(raw: bytes) -> bool:
    """Whether an export file's bytes can be a project export: a JSON object naming at least one table
    (a damaged export still can, and is reported when it is stored; a ``package.json`` cannot)."""
    return OBJECT_START.match(raw) is not None and TABLE_KEY.search(raw) is not None


def check_source(source: str | Path) -> None:
    """Refuse a PATH that does not exist (before any progress display starts)."""
    if not str(source).startswith(URL_PREFIXES) and not Path(source).exists():
        raise InputError(f"{source}: no such file or folder")
