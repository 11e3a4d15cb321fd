"""Making the report citable: the data fingerprint, the cite block (text and BibTeX), the sources'
licences and the provenance manifest (authors with ORCIDs: :mod:`impactreport.authors`, re-exported).

Why one module: the fingerprint printed in the cite block, the one in ``provenance.json`` and the one a
reader recomputes must be the same number, made one way (:func:`fingerprint`). The same holds for the
prepared-on date (:func:`prepared_on`), which every output states.

**The data fingerprint** is ``sha256:`` followed by the SHA-256 (hex) of the UTF-8 text made of one
line ``<path>\\t<sha256>\\n`` per snapshot file read, sorted by path, where ``<path>`` is the file's path
relative to its data folder (forward slashes) and ``<sha256>`` the hex SHA-256 of its bytes as stored.
Anyone holding the same files recomputes it with a few lines of any language (see ``docs/report.md``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

# Re-exported: the cite block's authors are checked and named there (callers import them from here too).
from impactreport.authors import ORCID as ORCID
from impactreport.authors import Author as Author
from impactreport.authors import authors_of as authors_of
from impactreport.authors import byline as byline
from impactreport.authors import check_orcid as check_orcid
from impactreport.authors import orcid_check_digit as orcid_check_digit
from impactreport.authors import parse_author as parse_author
from impactreport.authors import parse_authors as parse_authors
from impactreport.errors import InputError
from impactreport.settings import REPORT_LICENSE, iso_z
from impactreport.sources import SOURCES

#: Licences named by their usual short name, and the page that states them.
LICENSE_URLS: Mapping[str, str] = {
    "CC BY 4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC BY-SA 4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC BY-NC 4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC BY-ND 4.0": "https://creativecommons.org/licenses/by-nd/4.0/",
    "CC0 1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
#: What each source's content may be reused under (the report quotes titles and counts their texts).

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


# -- when and from what ----------------------------------------------------------------------------------
def prepared_on(environ: Mapping[str, str] | None = None) -> date:
    """Today's date in UTC, or the day of ``$SOURCE_DATE_EPOCH`` (seconds since 1970) when set, so a
    rebuild of the same data gives the same report (https://reproducible-builds.org/specs/source-date-epoch/)."""
    environ = os.environ if environ is None else environ
    epoch = environ.get(SOURCE_DATE_EPOCH, "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC).date()
        except (ValueError, OverflowError, OSError):
            raise InputError(f"{SOURCE_DATE_EPOCH} {epoch!r}: expected whole seconds since 1970") from None
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class SnapshotFile:
    """One snapshot file the report read: its path relative to its data folder, and what it holds."""

    path: str
    source: str
    project: str
    format: str
    retrieved: datetime | None
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "project": self.project,
            "format": self.format,
            "retrieved": iso(self.retrieved),
            "sha256": self.sha256,
        }


def iso(moment: datetime | None) -> str | None:
    """``2017-09-09T23:29:47.925703Z`` (UTC), None for no time."""
    if moment is None:
        return None
    return iso_z(moment)


def data_labels(data_paths: Sequence[Path]) -> list[str]:
    """How each data folder is named in the manifest: ``""`` for the only one, else its own name (made
    unique with ``-2``, ``-3`` … when two share it)."""
    if len(data_paths) <= 1:
        return [""] * len(data_paths)
    labels: list[str] = []
    for path in data_paths:
        base = Path(os.path.normpath(path)).name or "data"
        label, number = base, 2
        while label in labels:
            label, number = f"{base}-{number}", number + 1
        labels.append(label)
    return labels


def relative_path(path: str | Path, data_paths: Sequence[Path]) -> str:
    """``path`` from the data folder holding it (forward slashes): ``exports/thinklab/meta/….json.gz``.

    A data path that is a file gives its name; with several data folders the path starts with the
    folder's label (:func:`data_labels`). A path under none of them keeps its name only (never a local
    absolute path in a published file). String operations on bases normalised once: a report names
    thousands of snapshots (5,030 calls took 2 s with ``Path`` objects)."""
    target = os.path.normpath(os.path.abspath(path))
    for base, label in _bases(tuple(Path(folder) for folder in data_paths)):
        if target == base:
            inside = os.path.basename(target)
        elif target.startswith(base if base.endswith(os.sep) else base + os.sep):
            inside = target[len(base) :].lstrip(os.sep).replace(os.sep, "/")
        else:
            continue
        return f"{label}/{inside}" if label else inside
    return os.path.basename(target)


@functools.lru_cache(maxsize=32)
def _bases(data_paths: tuple[Path, ...]) -> tuple[tuple[str, str], ...]:
    """Each data folder normalised (absolute, no ``..``) with its label."""
    labels = data_labels(data_paths)
    return tuple(
        (os.path.normpath(os.path.abspath(folder)), label)
        for folder, label in zip(data_paths, labels, strict=True)
    )


def fingerprint(files: Iterable[tuple[str, str]]) -> str:
    """``sha256:<hex>`` over the sorted ``(path relative to the data folder, sha256)`` of every file read
    (one line ``path\\tsha256\\n`` each, UTF-8); see the module's docstring."""
    lines = "".join(f"{path}\t{digest}\n" for path, digest in sorted(set(files)))
    return "sha256:" + hashlib.sha256(lines.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """Every snapshot file read, in path order, and their fingerprint."""

    files: tuple[SnapshotFile, ...]

    @property
    def fingerprint(self) -> str:
        return fingerprint((file.path, file.sha256) for file in self.files)

    @property
    def short_fingerprint(self) -> str:
        """The first 16 hex digits: enough to tell two data states apart in a citation."""
        return self.fingerprint.removeprefix("sha256:")[:16]

    def retrieved(self) -> list[datetime]:
        return sorted(file.retrieved for file in self.files if file.retrieved is not None)

    def first(self) -> datetime | None:
        times = self.retrieved()
        return times[0] if times else None

    def last(self) -> datetime | None:
        times = self.retrieved()
        return times[-1] if times else None

    def projects(self) -> list[dict[str, Any]]:
        """Per source and project: snapshots read, first and last retrieval, formats (for the appendix)."""
        grouped: dict[tuple[str, str], list[SnapshotFile]] = {}
        for file in self.files:
            grouped.setdefault((file.source, file.project), []).append(file)
        rows = []
        for (source, project), files in sorted(
            grouped.items(), key=lambda item: (item[0][1].lower(), item[0])
        ):
            times = sorted(file.retrieved for file in files if file.retrieved is not None)
            rows.append(
                {
                    "source": source,
                    "project": project,
                    "snapshots": len(files),
                    "first": times[0] if times else None,
                    "last": times[-1] if times else None,
                    "formats": sorted({file.format for file in files}),
                }
            )
        return rows


def manifest_of(frames: Iterable[Any], data_paths: Sequence[Path]) -> Manifest:
    """The files of snapshot tables (polars frames with ``source``, ``project``, ``path``, ``format``,
    ``retrieved``, ``sha256``: the dataset's and the versioned tables'), once each."""
    seen: dict[str, SnapshotFile] = {}
    for frame in frames:
        if frame is None or frame.height == 0:
            continue
        columns = ["source", "project", "path", "format", "retrieved", "sha256"]
        for row in frame.select(columns).iter_rows(named=True):
            path = relative_path(row["path"], data_paths)
            if path not in seen:
                seen[path] = SnapshotFile(
                    path, row["source"], row["project"], row["format"], row["retrieved"], row["sha256"]
                )
    return Manifest(tuple(seen[path] for path in sorted(seen)))


# -- the cite block --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Citation:
    """What a citation of the report names."""

    title: str
    authors: tuple[Author, ...]
    period: str
    prepared_on: date
    package_version: str
    fingerprint: str
    license: str = REPORT_LICENSE
    funder: str = ""
    award: str = ""

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint.removeprefix("sha256:")[:16]

    @property
    def license_url(self) -> str:
        return LICENSE_URLS.get(self.license.strip(), "")

    def funding(self) -> str:
        """``Funded by Sloan (award G-2016-1234).``, or ""."""
        if self.funder and self.award:
            return f"Funded by {self.funder} (award {self.award})."
        if self.funder:
            return f"Funded by {self.funder}."
        return f"Award {self.award}." if self.award else ""

    def text(self) -> str:
        """The citation as one paragraph (plain text)."""
        who = byline(self.authors)
        lead = f"{who} ({self.prepared_on.year}). " if who else ""
        parts = [
            f"{lead}{self.title}: {self.period}.",
            f"Prepared on {self.prepared_on.isoformat()} with impactreport {self.package_version};",
            f"data fingerprint {self.fingerprint}.",
        ]
        if self.funding():
            parts.append(self.funding())
        parts.append(f"Licence: {self.license}.")
        return " ".join(parts)

    def key(self) -> str:
        """The BibTeX key: first author's family name (letters only), year, the fingerprint's start."""
        family = self.authors[0].bibtex_name().split(",")[0] if self.authors else "impactreport"
        letters = re.sub(r"[^A-Za-z0-9]", "", family).lower() or "impactreport"
        return f"{letters}{self.prepared_on.year}-{self.short_fingerprint[:8]}"

    def bibtex(self) -> str:
        """A ``@misc`` entry (every value in braces, BibTeX's special characters escaped)."""
        fields: list[tuple[str, str]] = [("title", f"{self.title}: {self.period}")]
        if self.authors:
            fields.append(("author", " and ".join(author.bibtex_name() for author in self.authors)))
        fields += [
            ("year", str(self.prepared_on.year)),
            ("month", str(self.prepared_on.month)),
            ("date", self.prepared_on.isoformat()),
            ("howpublished", f"Report prepared with impactreport {self.package_version}"),
        ]
        notes = [f"Data fingerprint {self.fingerprint}."]
        if self.funding():
            notes.append(self.funding())
        orcids = [f"{author.name}: ORCID {author.orcid}" for author in self.authors if author.orcid]
        if orcids:
            notes.append("; ".join(orcids) + ".")
        notes.append(f"Licence: {self.license}.")
        fields.append(("note", " ".join(notes)))
        body = ",\n".join(f"  {name} = {{{bibtex_escape(value)}}}" for name, value in fields)
        return f"@misc{{{self.key()},\n{body}\n}}"

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "authors": [{"name": a.name, "orcid": a.orcid or None} for a in self.authors],
            "period": self.period,
            "prepared_on": self.prepared_on.isoformat(),
            "package_version": self.package_version,
            "data_fingerprint": self.fingerprint,
            "license": self.license,
            "license_url": self.license_url or None,
            "funder": self.funder or None,
            "award": self.award or None,
            "text": self.text(),
            "bibtex": self.bibtex(),
        }


_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bibtex_escape(text: str) -> str:
    """``text`` safe inside a braced BibTeX value (special characters escaped, braces balanced)."""
    return "".join(_BIBTEX_SPECIAL.get(char, char) for char in " ".join(text.split()))


# -- licences of the sources --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Terms:
    """What one source's content may be reused under: a sentence and the page that states it."""

    source: str
    text: str
    url: str

    def __str__(self) -> str:
        return f"{self.text} ({self.url})"


def source_licenses(sources: Iterable[str], forum_urls: Iterable[str] = ()) -> list[Terms]:
    """The terms of each source in the data: Thinklab's CC BY 4.0; GitHub's terms of service; each
    Discourse forum's own terms (``https://host/tos``, the hosts from its threads' ``forum_urls``)."""
    present = set(sources)
    terms: list[Terms] = []
    order = list(SOURCES)
    for name in sorted(
        present, key=lambda name: (order.index(name) if name in SOURCES else len(order), name)
    ):
        if name == "discourse":
            hosts = sorted(
                {m.group(1) for url in forum_urls if (m := re.match(r"^(https?://[^/\s]+)/", url))}
            )
            for host in hosts or [""]:
                where = f" of {host.split('//', 1)[-1]}" if host else ""
                text = f"Discourse content is under the terms of service of the forum{where}"
                terms.append(Terms("discourse", text, f"{host}/tos" if host else ""))
        elif name in SOURCES and SOURCES[name].terms:
            terms.append(Terms(name, SOURCES[name].terms, SOURCES[name].terms_url))
        else:
            terms.append(Terms(name, f"{name} content is under that site's own terms", ""))
    return terms


def code_block(text: str, language: str = "") -> str:
    """``text`` as a fenced markdown code block, the fence longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def manifest_json(
    manifest: Manifest,
    *,
    citation: Citation,
    parameters: Mapping[str, Any],
    software: Mapping[str, Any],
    git: str | None,
    licenses: Sequence[Terms],
) -> bytes:
    """``provenance.json``: the report, its parameters, the software, the project's commit, the
    sources' licences and every snapshot read (path, source, project, format, retrieval time, sha256)."""
    document = {
        "report": citation.to_json(),
        "parameters": dict(parameters),
        "software": dict(software),
        "project": {"git_commit": git},
        "sources": [{"source": t.source, "terms": t.text, "url": t.url or None} for t in licenses],
        "data": {
            "fingerprint": manifest.fingerprint,
            "fingerprint_rule": (
                "sha256 of the lines '<path>\\t<sha256>\\n', one per file, sorted by path "
                "(path relative to the data folder, sha256 of the file's bytes)"
            ),
            "snapshots": len(manifest.files),
            "first_retrieved": iso(manifest.first()),
            "last_retrieved": iso(manifest.last()),
            "files": [file.to_json() for file in manifest.files],
        },
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
