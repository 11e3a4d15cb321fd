"""What a figure shows and where it comes from, written into every file of the figure.

Each chart carries (in its Vega-Lite ``usermeta``, so the figure cache key covers it) its title, alt
text, period, the package version, the data's fingerprint, the parameters that shape that figure and a
one-line citation (:func:`figure_metadata`). :mod:`.save` writes them into each format:

- PNG: one text chunk per entry right after ``IHDR`` (``tEXt`` when the text is Latin-1, else UTF-8
  ``iTXt``), keywords as in :func:`figure_metadata` (``Title``, ``Description``, ``Software`` are the PNG
  specification's own);
- SVG: ``<title>`` and ``<desc>`` (the alt text), and a ``<metadata>`` block (RDF: Dublin Core for title,
  description, period, source and citation; every entry also under :data:`NAMESPACE`);
- PDF: a new document information dictionary (``/Title``, ``/Subject`` = the alt text, ``/Keywords``,
  ``/Creator``, and every entry under its own key, e.g. ``/DataFingerprint``), appended to the file
  vl-convert wrote as an incremental update (the original bytes stay as they are).

The data fingerprint (:func:`data_fingerprint`) is the SHA-256 over the sorted (path relative to the data
folder, SHA-256) of every export file read, made by :func:`impactreport.citation.fingerprint` as the
report's is: two runs on the same files, wherever the data folder lies, have the same fingerprint.
"""

from __future__ import annotations

import functools
import os
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from impactreport.settings import Period, day_text

from .registry import BY_NAME

if TYPE_CHECKING:
    from impactreport.analyses import AnalysisParams

#: The namespace of the SVG metadata's own elements.
NAMESPACE = "urn:x-impactreport:figure"
#: Where a chart keeps its metadata: ``spec["usermeta"][USERMETA]``.
USERMETA = "impactreport"
#: How the metadata is written into the files; part of the figure cache key (raise it when that changes).
EMBEDDING = 1

DataPaths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

SCOPE_SCHEMA = pl.Schema(
    {
        "period": pl.String(),
        "closed": pl.Boolean(),
        "fingerprint": pl.String(),
        "files": pl.Int64(),
        "text_basis": pl.String(),
    }
)


@functools.cache
def package_version() -> str:
    """The installed impactreport's version (``unknown`` when run from a tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("impactreport")
    except PackageNotFoundError:
        return "unknown"


def data_fingerprint(snapshots: pl.DataFrame, base: DataPaths) -> str:
    """``sha256:<hex>``: the report's data fingerprint (:func:`impactreport.citation.fingerprint`) of the
    export files in ``snapshots`` (tables of files with columns ``path`` and ``sha256``, e.g. the
    dataset's and the versioned tables' together; a file listed twice counts once), each named relative
    to the data folder ``base`` (or the paths the run was given) by
    :func:`impactreport.citation.relative_path`: the same number the report's cite block and
    ``provenance.json`` give for the same files.
    """
    from impactreport.citation import fingerprint, relative_path

    bases = [Path(b) for b in as_list(base)]
    return fingerprint(
        (relative_path(path, bases), digest)
        for path, digest in snapshots.select("path", "sha256").iter_rows()
    )


def as_list(base: DataPaths) -> list[str | os.PathLike[str]]:
    return [base] if isinstance(base, str | os.PathLike) else list(base)


def period_label(period: Period | None, newest: date | None) -> tuple[str, bool]:
    """What a figure shows, and whether it is a period the user asked for: ``1 Sep 2016 to 31 Aug 2017``,
    ``all data up to 9 Sep 2017`` (``newest``: the newest retrieval), ``since 1 Sep 2016, data up to …``."""
    upto = f"all data up to {day_text(newest)}" if newest is not None else "all data"
    if period is None or period.is_open:
        return upto, False
    if period.since is not None and period.until is not None:
        return period.describe(), True
    if period.since is not None:
        tail = f", data up to {day_text(newest)}" if newest is not None else ""
        return f"since {day_text(period.since)}{tail}", True
    assert period.until is not None
    return f"all data up to {day_text(period.until)}", True


@dataclass(frozen=True)
class Scope:
    """The period every figure of a run shows and the data it was drawn from."""

    period: str = ""
    closed: bool = False
    fingerprint: str = ""
    files: int = 0
    text_basis: str = ""

    @classmethod
    def of(
        cls,
        counted: pl.DataFrame,
        period: Period | None,
        base: DataPaths = (),
        text_basis: str = "",
        read: Sequence[pl.DataFrame] = (),
    ) -> Scope:
        """The scope of a run for ``period`` that counted the files ``counted`` (a dataset's ``snapshots``:
        the newest retrieval among them ends an open period) and read those and ``read`` (e.g. every
        snapshot of the versioned tables: the data fingerprint covers them all)."""
        newest = counted["retrieved"].max() if counted.height else None
        day = newest.date() if isinstance(newest, datetime) else newest if isinstance(newest, date) else None
        label, closed = period_label(period, day)
        frames = [frame.select("path", "sha256") for frame in (counted, *read) if frame.height]
        if not frames:
            return cls(label, closed, "", 0, text_basis)
        files = pl.concat(frames)
        from impactreport.citation import relative_path

        bases = [Path(b) for b in as_list(base)]
        count = len({relative_path(path, bases) for path in files["path"].to_list()})
        return cls(label, closed, data_fingerprint(files, bases), count, text_basis)

    def to_frame(self) -> pl.DataFrame:
        """One row (a run's frames are polars frames: ``frames["scope"]``)."""
        row = [self.period, self.closed, self.fingerprint, self.files, self.text_basis]
        return pl.DataFrame([row], schema=SCOPE_SCHEMA, orient="row")

    @classmethod
    def from_frame(cls, frame: pl.DataFrame | None) -> Scope:
        if frame is None or frame.is_empty():
            return cls()
        row = frame.row(0, named=True)
        return cls(
            row["period"], bool(row["closed"]), row["fingerprint"], int(row["files"]), row["text_basis"]
        )

    @property
    def short_fingerprint(self) -> str:
        """The first 12 hex digits of the fingerprint (what a citation names)."""
        return self.fingerprint.removeprefix("sha256:")[:12]

    @property
    def line(self) -> str:
        """The subtitle line (and last sentence of the alt text): ``Period: 1 Sep 2016 to 31 Aug 2017`` or
        ``All data up to 9 Sep 2017``; empty when unknown."""
        if not self.period:
            return ""
        return f"Period: {self.period}" if self.closed else self.period[0].upper() + self.period[1:]


def parameters(params: AnalysisParams, text_basis: str = "") -> dict[str, str]:
    """Every knob a figure can depend on, as ``name → value`` text."""
    w = params.weights
    return {
        "weights": (
            f"threads {w.get('threads', 3):g}, comments {w.get('comments', 2):g}, notes {w.get('notes', 1):g}"
        ),
        "histogram_bin": params.histogram_bin,
        "bandwidth": f"{params.bandwidth:g} days",
        "char_bandwidth": f"{params.char_bandwidth:g} days",
        "stream_bandwidth": f"{params.stream_days:g} days",
        "cumulative_bandwidth": f"{params.cumulative_bandwidth:g} days",
        "thresholds": ", ".join(f"{t:,}" for t in params.thresholds) + " characters",
        "stream_threshold": f"{params.stream_min:,} characters",
        "label_threshold": f"{params.label_min:,} characters",
        "exclude_users": ", ".join(params.exclude_users) or "none",
        "sqrt": "yes" if params.sqrt else "no",
        "team_size": f"{len(params.team.entries):,}",
        "bots": "left out" if params.exclude_bots else "counted",
        "text_basis": text_basis or "html",
        "top_threads": f"{params.top_threads:,}",
    }


def citation(title: str, scope: Scope, version: str | None = None) -> str:
    """``<title>, impactreport <version>, <period>, data <fingerprint[:12]>``: one line to cite a figure."""
    parts = [title, f"impactreport {version or package_version()}"]
    parts += [scope.period] if scope.period else []
    parts += [f"data {scope.short_fingerprint}"] if scope.fingerprint else []
    return ", ".join(parts)


def figure_metadata(
    name: str, title: str, description: str, scope: Scope, params: AnalysisParams
) -> dict[str, str]:
    """The entries written into each file of figure ``name`` (in this order)."""
    known = parameters(params, scope.text_basis)
    figure = BY_NAME.get(name)
    shaping = "; ".join(f"{key}={known[key]}" for key in (figure.parameters if figure else ())) or "none"
    version = package_version()
    entries = {
        "Title": title,
        "Description": description,
        "Software": f"impactreport {version}",
        "Figure": name,
        "Period": scope.period or "unknown",
        "Data fingerprint": scope.fingerprint or "unknown",
        "Data files": f"{scope.files:,}",
        "Parameters": shaping,
        "Citation": citation(title, scope, version),
    }
    return entries


# -- writing the entries into the files ---------------------------------------------------------------
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_text_chunks(entries: Mapping[str, str]) -> bytes:
    """One text chunk per entry: ``tEXt`` when keyword and text are Latin-1, else ``iTXt`` (UTF-8)."""
    chunks = []
    for key, text in entries.items():
        keyword = key.encode("latin-1")[:79]
        try:
            chunks.append(_chunk(b"tEXt", keyword + b"\x00" + text.encode("latin-1")))
        except UnicodeEncodeError:
            # keyword, compression flag and method, empty language tag and translated keyword, text
            chunks.append(_chunk(b"iTXt", keyword + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")))
    return b"".join(chunks)


def png_with_text(png: bytes, entries: Mapping[str, str]) -> bytes:
    """``png`` with :func:`png_text_chunks` inserted right after its ``IHDR`` chunk."""
    if not png.startswith(PNG_MAGIC) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file (no IHDR chunk after the signature)")
    end = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    return png[:end] + png_text_chunks(entries) + png[end:]


def png_text(png: bytes) -> dict[str, str]:
    """The ``tEXt``/``iTXt`` entries of a PNG (the reader of what :func:`png_with_text` writes)."""
    found: dict[str, str] = {}
    at = 8
    while at + 8 <= len(png):
        length = struct.unpack(">I", png[at : at + 4])[0]
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            key, _, text = data.partition(b"\x00")
            found[key.decode("latin-1")] = text.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = data.partition(b"\x00")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\x00")  # language tag
            _, _, text = rest.partition(b"\x00")  # translated keyword
            found[key.decode("latin-1")] = (zlib.decompress(text) if compressed else text).decode("utf-8")
        if kind == b"IEND":
            break
        at += 12 + length
    return found


#: Dublin Core terms for the entries that have one.
DUBLIN_CORE = {
    "Title": "dc:title",
    "Description": "dc:description",
    "Period": "dc:coverage",
    "Data fingerprint": "dc:source",
    "Citation": "dcterms:bibliographicCitation",
}


def element_name(key: str) -> str:
    """``Data fingerprint`` → ``data-fingerprint`` (the name of an entry's element in the SVG metadata)."""
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


def svg_metadata(entries: Mapping[str, str]) -> str:
    """``<title>``, ``<desc>`` and a ``<metadata>`` block (RDF) holding every entry."""
    lines = [
        f"<{DUBLIN_CORE[key]}>{escape(text, quote=False)}</{DUBLIN_CORE[key]}>"
        for key, text in entries.items()
        if key in DUBLIN_CORE
    ]
    lines += [
        f"<ir:{element_name(key)}>{escape(text, quote=False)}</ir:{element_name(key)}>"
        for key, text in entries.items()
    ]
    title = f"<title>{escape(entries.get('Title', ''), quote=False)}</title>" if "Title" in entries else ""
    desc = (
        f"<desc>{escape(entries.get('Description', ''), quote=False)}</desc>"
        if "Description" in entries
        else ""
    )
    return (
        f"{title}{desc}<metadata>"
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        f'xmlns:ir="{NAMESPACE}"><rdf:Description rdf:about="">'
        + "".join(lines)
        + "</rdf:Description></rdf:RDF></metadata>"
    )


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def svg_with_metadata(svg: str, entries: Mapping[str, str]) -> str:
    """``svg`` with :func:`svg_metadata` as the first children of its root element."""
    opening = _SVG_OPEN.search(svg)
    if opening is None:
        raise ValueError("not an SVG document (no <svg> element)")
    return svg[: opening.end()] + svg_metadata(entries) + svg[opening.end() :]


#: PDF document information keys of the entries (the standard ones first; the others our own).
PDF_KEYS = {
    "Title": "Title",
    "Description": "Subject",
    "Software": "Creator",
    "Figure": "Figure",
    "Period": "Period",
    "Data fingerprint": "DataFingerprint",
    "Data files": "DataFiles",
    "Parameters": "Parameters",
    "Citation": "Citation",
}


def _pdf_text(text: str) -> bytes:
    """A PDF text string that holds any character: UTF-16BE with its byte-order mark, in hex."""
    return b"<" + ("\ufeff" + text).encode("utf-16-be").hex().upper().encode("ascii") + b">"


def pdf_info(entries: Mapping[str, str]) -> dict[str, str]:
    """The information dictionary of a figure's PDF: each entry under :data:`PDF_KEYS` (others by their
    name without spaces), ``/Keywords`` listing period, software, data and parameters, and ``/Producer``."""
    info = {PDF_KEYS.get(key, re.sub(r"\W+", "", key.title())): text for key, text in entries.items()}
    keywords = [entries.get("Period"), entries.get("Software"), entries.get("Data fingerprint")]
    keywords += [entries["Parameters"]] if entries.get("Parameters") not in (None, "none") else []
    info["Keywords"] = "; ".join(k for k in keywords if k)
    info["Producer"] = f"{entries.get('Software', 'impactreport')} (vl-convert, svg2pdf)"
    return info


_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_REF = rb"(\d+)\s+(\d+)\s+R"


def pdf_with_info(pdf: bytes, entries: Mapping[str, str]) -> bytes:
    """``pdf`` with a new document information dictionary (:func:`pdf_info`), appended as an incremental
    update: a new version of the old ``/Info`` object (or a new object), its cross-reference section
    (a table, or a stream when the file uses cross-reference streams) and a trailer pointing back at the
    previous one. The original bytes are kept as they are."""
    tail = _STARTXREF.search(pdf[-1024:])
    if tail is None:
        raise ValueError("not a PDF file (no startxref at its end)")
    previous = int(tail.group(1))
    section = pdf[previous : previous + 4096]
    if section.startswith(b"xref"):
        at = pdf.rfind(b"trailer", previous)
        if at < 0:
            raise ValueError("PDF cross-reference table without a trailer")
        dictionary = pdf[at : pdf.find(b"startxref", at)]
    else:  # a cross-reference stream: its dictionary holds the trailer's entries
        dictionary = section[: section.find(b"stream")]
    root = re.search(rb"/Root\s+" + _REF, dictionary)
    size = re.search(rb"/Size\s+(\d+)", dictionary)
    if root is None or size is None:
        raise ValueError("PDF trailer without /Root or /Size")
    old_info = re.search(rb"/Info\s+" + _REF, dictionary)
    ids = re.search(rb"/ID\s*(\[[^\]]*\])", dictionary)
    total = int(size.group(1))
    number = int(old_info.group(1)) if old_info else total
    info = pdf_info(entries)
    body = b"".join(b"/" + key.encode("ascii") + b" " + _pdf_text(text) + b"\n" for key, text in info.items())
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offset = len(out)
    out += f"{number} 0 obj\n<<\n".encode() + body + b">>\nendobj\n"
    new_size = max(total, number + 1)
    refs = b"/Root " + root.group(1) + b" " + root.group(2) + b" R /Info " + str(number).encode() + b" 0 R"
    refs += (b" /ID " + ids.group(1)) if ids else b""
    xref_at = len(out)
    if section.startswith(b"xref"):
        out += f"xref\n{number} 1\n{offset:010d} 00000 n\r\n".encode()
        out += f"trailer\n<< /Size {new_size} /Prev {previous} ".encode() + refs + b" >>\n"
    else:
        stream_number = new_size
        new_size += 1
        rows = struct.pack(">BIH", 1, offset, 0) + struct.pack(">BIH", 1, xref_at, 0)
        head = (
            f"{stream_number} 0 obj\n<< /Type /XRef /Size {new_size} /Prev {previous} "
            f"/W [1 4 2] /Index [{number} 1 {stream_number} 1] /Length {len(rows)} "
        ).encode()
        out += head + refs + b" >>\nstream\n" + rows + b"\nendstream\nendobj\n"
    out += f"startxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)
