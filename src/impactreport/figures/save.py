"""Write a chart as SVG, PNG and PDF through vl-convert (no browser), atomically.

A temporary hidden file next to the target is renamed over it, so a reader never sees half a file
and a failed render leaves the previous figure in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import altair as alt
import vl_convert as vlc

from impactreport.errors import InputError
from impactreport.files import write_atomic

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
        return vlc.vegalite_to_png(spec, vl_version=version, scale=scale)
    if fmt == "pdf":
        return vlc.vegalite_to_pdf(spec, vl_version=version)
    raise ValueError(f"unknown figure format {fmt!r}; use one of {', '.join(FORMATS)}")


def save_chart(
    chart: alt.TopLevelMixin,
    out_dir: str | Path,
    name: str,
    *,
    formats: Sequence[str] = FORMATS,
    scale: float = 2,
) -> list[Path]:
    """Write ``out_dir/<name>.<format>`` for each format; returns the paths written."""
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format(s) {', '.join(unknown)}; use {', '.join(FORMATS)}")
    svg = render(chart, "svg").decode("utf-8")
    written: list[Path] = []
    for fmt in formats:
        path = Path(out_dir) / f"{name}.{fmt}"
        write_atomic(path, from_svg(svg, fmt, scale=scale))
        written.append(path)
    return written


def from_svg(svg: str, fmt: str, *, scale: float = 2) -> bytes:
    """Convert a rendered SVG (Vega runs once per chart, not once per format)."""
    if fmt == "svg":
        return svg.encode("utf-8")
    if fmt == "png":
        return vlc.svg_to_png(svg, scale=scale)
    return vlc.svg_to_pdf(svg)
