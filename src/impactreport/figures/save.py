"""Write a chart as SVG, PNG and PDF through vl-convert (no browser), atomically.

A temporary hidden file next to the target is renamed over it, so a reader never sees half a file
and a failed render leaves the previous figure in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert as vlc

from impactreport.errors import InputError
from impactreport.files import write_atomic

from .provenance import USERMETA, pdf_with_info, png_with_text, svg_with_metadata

FORMATS = ("svg", "png", "pdf")


def check_folder(target: Path, label: str) -> None:
    """Refuse, before any slow work, an output folder that cannot be written: one line
    (:class:`InputError`) starting ``<label> <target>:``.

    Why probe rather than read mode bits: ``os.access`` and the mode say nothing true for root, ACLs,
    read-only mounts or ``/sys``. The folder (and any missing parents) is created, a file is written and
    removed, and whatever was created is removed again, so a refused command leaves nothing behind.
    """
    if target.exists() and not target.is_dir():
        raise InputError(f"{label} {target}: is a file, not a folder")
    missing: list[Path] = []
    folder = target
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if folder.is_symlink() and not folder.exists():
        raise InputError(f"{label} {target}: {folder} is a broken symbolic link")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{label} {target}: {folder} is a file, not a folder")
    created: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir()
            created.append(path)
        handle, probe = tempfile.mkstemp(prefix=".impactreport-probe-", dir=target)
        os.close(handle)
        os.unlink(probe)
    except PermissionError:
        raise InputError(f"{label} {target}: not permitted to write there") from None
    except OSError as error:
        raise InputError(f"{label} {target}: cannot write there ({write_reason(error)})") from None
    finally:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()


def write_reason(error: OSError) -> str:
    """Why a write failed, in a few words (``read-only file system``, ``No space left on device``)."""
    if error.errno == errno.EROFS:
        return "read-only file system"
    if isinstance(error, PermissionError):
        return "not permitted"
    return error.strerror or type(error).__name__


def vegalite_version() -> str:
    """The Vega-Lite version altair writes, as vl-convert names it (``6.4``), if vl-convert has it."""
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return version if version in vlc.get_vegalite_versions() else vlc.get_vegalite_versions()[-1]


def render(chart: alt.TopLevelMixin | dict, fmt: str, *, scale: float = 2) -> bytes:
    """The chart in one format (svg, png or pdf) as bytes."""
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    version = vegalite_version()
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec, vl_version=version).encode("utf-8")
    if fmt == "png":
        return vlc.vegalite_to_png(spec, vl_version=version, scale=72 / 96, ppi=96 * scale)  # as from_svg
    if fmt == "pdf":
        return vlc.vegalite_to_pdf(spec, vl_version=version)
    raise ValueError(f"unknown figure format {fmt!r}; use one of {', '.join(FORMATS)}")


def save_chart(
    chart: alt.TopLevelMixin | dict,
    out_dir: str | Path,
    name: str,
    *,
    formats: Sequence[str] = FORMATS,
    scale: float = 2,
) -> list[Path]:
    """Write ``out_dir/<name>.<format>`` for each format; returns the paths written.

    The chart's metadata (``usermeta``, :func:`.provenance.figure_metadata`: title, alt text, period,
    version, data fingerprint, parameters, citation) goes into every file: PNG text chunks, an SVG
    ``<metadata>`` block, the PDF's information dictionary.
    """
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format(s) {', '.join(unknown)}; use {', '.join(FORMATS)}")
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    svg = render(spec, "svg").decode("utf-8")
    entries = metadata_of(spec)
    written: list[Path] = []
    for fmt in formats:
        path = Path(out_dir) / f"{name}.{fmt}"
        write_atomic(path, from_svg(svg, fmt, scale=scale, metadata=entries))
        written.append(path)
    return written


def metadata_of(spec: Mapping[str, Any]) -> dict[str, str]:
    """The metadata a chart carries (``spec["usermeta"]["impactreport"]``; empty when none)."""
    meta = spec.get("usermeta")
    entries = meta.get(USERMETA) if isinstance(meta, Mapping) else None
    return {str(k): str(v) for k, v in entries.items()} if isinstance(entries, Mapping) else {}


def from_svg(svg: str, fmt: str, *, scale: float = 2, metadata: Mapping[str, str] | None = None) -> bytes:
    """Convert a rendered SVG (Vega runs once per chart, not once per format), with ``metadata`` written
    into the file (:mod:`.provenance`)."""
    if fmt == "svg":
        return (svg_with_metadata(svg, metadata) if metadata else svg).encode("utf-8")
    if fmt == "png":
        # the same pixels (the SVG's CSS px × scale), and the file says so: 96 × scale dots per inch, so a
        # word processor inserts the figure at its natural size (vl-convert's ppi is per 72 SVG units)
        png = vlc.svg_to_png(svg, scale=72 / 96, ppi=96 * scale)
        return png_with_text(png, metadata) if metadata else png
    pdf = vlc.svg_to_pdf(svg)
    return pdf_with_info(pdf, metadata) if metadata else pdf
