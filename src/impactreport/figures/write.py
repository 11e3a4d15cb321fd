"""Writing the figures of a run to files: each chart in its formats with its data as CSV, skipped when
the files already hold the same drawing (the figure key).

Why here and not in the pipeline: writing is the figures' business (the pipeline computes, the caller
writes where it likes); the key cache lets the report's two executions (HTML, then PDF) and a new
snapshot that changed few figures redraw only what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from impactreport.figures import csv_bytes
from impactreport.figures.provenance import EMBEDDING
from impactreport.figures.registry import has_data
from impactreport.figures.save import save_chart
from impactreport.files import write_atomic

#: The formats the report writes each figure in.
REPORT_FORMATS = ("svg", "png", "pdf")


class Drawn(Protocol):
    """What :func:`write_figures` writes: a run's charts and the frame behind each
    (:class:`impactreport.pipeline.Result`)."""

    @property
    def charts(self) -> dict[str, Any]: ...

    @property
    def frames(self) -> dict[str, pl.DataFrame]: ...


#: Figures drawn at once: vl-convert renders outside the GIL, so threads overlap the rendering.
FIGURE_THREADS = max(1, min(4, os.cpu_count() or 1))
#: The comment closing a written SVG: the key of what was drawn (see :func:`write_figures`).
FIGURE_KEY = "<!-- impactreport figure {key} -->\n"


def figure_key(spec: Mapping[str, Any], formats: Sequence[str], scale: float) -> str:
    """What a figure's files are a function of: its Vega-Lite spec (data included, and its metadata in
    ``usermeta``: period, version, data fingerprint, parameters, citation), the formats, the PNG scale,
    the renderer's version and how the metadata is written into the files."""
    what = json.dumps(
        [spec, list(formats), scale, version("vl-convert-python"), EMBEDDING], sort_keys=True, default=str
    )
    return hashlib.sha256(what.encode("utf-8")).hexdigest()


def _current(out: Path, name: str, formats: Sequence[str], key: str) -> bool:
    """True when ``out`` holds this figure drawn from the same key in every format (the SVG ends with
    the key, written after the other formats)."""
    svg = out / f"{name}.svg"
    if "svg" not in formats or not all((out / f"{name}.{fmt}").is_file() for fmt in formats):
        return False
    with open(svg, "rb") as handle:
        handle.seek(max(0, svg.stat().st_size - 200))
        return handle.read().endswith(FIGURE_KEY.format(key=key).encode())


#: The cache folder's sub-folder of figures (``<cache>/figures/<key>/``).
FIGURE_CACHE = "figures"
#: Figures kept in the user's cache folder, oldest removed past this.
CACHED_FIGURES = 400
_KEY_NAME = re.compile(r"^[0-9a-f]{64}$")


def _figure_cache() -> Path:
    from impactreport.cache_home import cache_home

    return cache_home() / FIGURE_CACHE


def _from_cache(key: str, out: Path, name: str, formats: Sequence[str]) -> bool:
    """Copy this figure's files from the user's cache folder when it holds them under ``key``.

    Why: the key cache in ``out`` only helps a render into the same folder; a report rendered into a
    new folder (a CI job, a second award year) drew every figure again (about 12 s of the award-year
    report). The cache folder is private (0o700); its files are named by the key that covers the spec,
    data, metadata, formats, scale and renderer version, and an SVG is used only when it ends with it.
    """
    folder = _figure_cache() / key
    files = [folder / f"figure.{fmt}" for fmt in formats]
    try:
        if not all(path.is_file() and not path.is_symlink() for path in files):
            return False
        contents = [path.read_bytes() for path in files]
    except OSError:
        return False
    if "svg" in formats and not contents[list(formats).index("svg")].endswith(
        FIGURE_KEY.format(key=key).encode()
    ):
        return False
    out.mkdir(parents=True, exist_ok=True)
    for fmt, data in zip(formats, contents, strict=True):
        write_atomic(out / f"{name}.{fmt}", data)
    return True


def _to_cache(key: str, out: Path, name: str, formats: Sequence[str]) -> None:
    """Keep this figure's files under ``key`` in the user's cache folder (a failure only costs reuse)."""
    from impactreport.cache_home import private_folder

    home = private_folder(FIGURE_CACHE)
    if home is None:
        return
    with contextlib.suppress(OSError):
        folder = home / key
        folder.mkdir(mode=0o700, exist_ok=True)
        for fmt in formats:
            write_atomic(folder / f"figure.{fmt}", (out / f"{name}.{fmt}").read_bytes(), mode=0o600)
        kept = sorted(
            (
                entry
                for entry in os.scandir(home)
                if _KEY_NAME.match(entry.name) and entry.is_dir(follow_symlinks=False)
            ),
            key=lambda entry: entry.stat(follow_symlinks=False).st_mtime_ns,
        )
        for entry in kept[: max(0, len(kept) - CACHED_FIGURES)]:
            shutil.rmtree(entry.path, ignore_errors=True)


def write_figures(
    result: Drawn,
    out: Path,
    *,
    formats: Sequence[str] = REPORT_FORMATS,
    scale: float = 2,
    skip_empty: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[Path]]:
    """Write each chart as ``out/<name>.<format>`` and its frame as ``out/<name>.csv`` (``skip_empty``:
    only figures that have data: :func:`.registry.has_data`), a few charts at a time; ``progress`` gets
    each name as it is done.

    A figure whose files in ``out`` were drawn from the same spec, formats and scale (:func:`figure_key`,
    kept as a comment closing the SVG) is not drawn again: the report executes twice (HTML, then PDF)
    and a new snapshot leaves most figures as they were.
    """

    def one(name: str) -> list[Path]:
        chart = result.charts[name]
        key = figure_key(chart.to_dict(validate=False), formats, scale)  # validated when drawn
        paths = [out / f"{name}.{fmt}" for fmt in formats]
        if not _current(out, name, formats, key) and not _from_cache(key, out, name, formats):
            paths = save_chart(chart, out, name, formats=formats, scale=scale)
            if "svg" in formats:
                svg = out / f"{name}.svg"
                write_atomic(
                    svg, svg.read_bytes().rstrip(b"\n") + b"\n" + FIGURE_KEY.format(key=key).encode()
                )
            _to_cache(key, out, name, formats)
        csv_path = out / f"{name}.csv"
        write_atomic(csv_path, csv_bytes(result.frames[name]))
        return [*paths, csv_path]

    names = [name for name in result.charts if not skip_empty or has_data(name, result.frames[name])]
    done: dict[str, list[Path]] = {}
    with ThreadPoolExecutor(FIGURE_THREADS) as pool:
        futures = {pool.submit(one, name): name for name in names}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if progress is not None:
                progress(futures[future])
    return {name: done[name] for name in names}
