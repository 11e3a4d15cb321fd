"""The built-in renderer: the report's ``.qmd`` to HTML, PDF and Word without Quarto.

parse (:mod:`.qmd`) → run in a Jupyter kernel with the parameters injected (:mod:`.execute`) →
Pandoc markdown with figures, tables and cross-references (:mod:`.document`) → standalone HTML, Typst
PDF and Word (:mod:`.pandoc`). The code runs once; every format is written from the same outputs, to
the paths Quarto would use (``<output_dir>/<stem>.html``, ``.pdf``, ``.docx``).

Figures: the kernel is told which image formats to display through ``QUARTO_FIG_FORMAT``, the variable
Quarto sets from a format's ``fig-format`` (``svg`` for HTML and PDF, ``png`` for Word). When one run
writes Word and another format, it is ``svg,png``: the report's ``show()`` then displays both in one
output, and each format takes its own (:mod:`.document`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from impactreport.errors import InputError

from . import document, execute, pandoc, qmd

#: Every format the renderer writes, in the order it writes them.
FORMATS = ("html", "pdf", "docx")
#: What a render writes when not told (``impactreport render --to all``): Word costs the built-in
#: engine one more Pandoc run (under a second), Quarto one more execution of the report.
DEFAULT_FORMATS = ("html", "pdf", "docx")
#: Each format's Pandoc target in :func:`document.assemble`, and its name in messages.
TARGETS = {"html": "html", "pdf": "typst", "docx": "docx"}
LABELS = {"html": "HTML", "pdf": "PDF (Typst)", "docx": "Word (DOCX)"}
#: How each format is linked from the HTML (Quarto: ``format-links`` in ``_quarto.yml``).
LINK_TEXT = {"pdf": "PDF", "docx": "Word"}
#: The variable telling the report's code which image formats to display (Quarto sets it too).
FIG_FORMAT_ENV = "QUARTO_FIG_FORMAT"
#: Called with one line per stage (``executing …``, ``writing …``); the CLI prints it on stderr.
Progress = Callable[[str], None]


def figure_formats(to: tuple[str, ...]) -> str:
    """``QUARTO_FIG_FORMAT`` for a run writing ``to``: ``svg`` (vector, HTML and PDF), ``png`` (Word
    only) or ``svg,png`` (both, each format taking its own)."""
    raster = "docx" in to
    vector = any(fmt != "docx" for fmt in to)
    return ",".join(kind for kind, wanted in (("svg", vector), ("png", raster)) if wanted) or "svg"


def _quiet(_: str) -> None:
    """The default progress: say nothing (library use)."""


def project_options(root: Path) -> dict[str, Any]:
    """``_quarto.yml`` of the project (empty when absent): it sets defaults such as ``execute.echo``."""
    path = root / "_quarto.yml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML: {error}") from None
    return data if isinstance(data, dict) else {}


def _echo(front: dict[str, Any], project: dict[str, Any]) -> bool:
    for source in (front, project):
        execute_options = source.get("execute")
        if isinstance(execute_options, dict) and "echo" in execute_options:
            return bool(execute_options["echo"])
    return True  # Quarto's default


def _toc(front: dict[str, Any], project: dict[str, Any]) -> bool:
    for source in (front, project):
        formats = source.get("format")
        if isinstance(formats, dict) and isinstance(formats.get("html"), dict) and "toc" in formats["html"]:
            return bool(formats["html"]["toc"])
        if "toc" in source:
            return bool(source["toc"])
    return False


def render_builtin(
    source: Path,
    *,
    to: tuple[str, ...] = ("html", "pdf"),
    params: dict[str, Any] | None = None,
    output_dir: Path,
    root: Path,
    env: dict[str, str] | None = None,
    timeout: int = execute.TIMEOUT,
    progress: Progress = _quiet,
) -> list[Path]:
    """Render ``source`` to each format in ``to`` (``html``, ``pdf``, ``docx``); return the files written.

    ``timeout`` bounds the report's code (seconds, all cells together); ``progress`` hears each stage.
    """
    unknown = sorted(set(to) - set(FORMATS))
    if unknown:
        raise InputError(f"unknown output format {unknown[0]!r} (expected html, pdf or docx)")
    name = str(source.relative_to(root)) if source.is_relative_to(root) else str(source)
    parsed = qmd.parse(source.read_text(encoding="utf-8"), name=name)
    qmd.check_parameters(parsed, params or {}, name)
    options = project_options(root)
    progress(f"executing {source.name} in a Jupyter kernel (built-in renderer)")
    kernel_env = {**(env or {}), FIG_FORMAT_ENV: figure_formats(to)}
    executed = execute.execute(
        parsed, params or {}, cwd=source.parent, name=name, env=kernel_env, timeout=timeout
    )
    echo = _echo(parsed.front_matter, options)
    written: list[Path] = []
    output_dir.mkdir(parents=True, exist_ok=True)
    for fmt in to:
        with tempfile.TemporaryDirectory(prefix="impactreport-render-") as scratch:
            media = Path(scratch)
            body = document.assemble(executed, to=TARGETS[fmt], media_dir=media, echo=echo)
            target = output_dir / f"{source.stem}.{fmt}"
            progress(f"writing {LABELS[fmt]}: {target}")
            if fmt == "html":
                toc = _toc(parsed.front_matter, options)
                links = [(LINK_TEXT[other], f"{source.stem}.{other}") for other in to if other in LINK_TEXT]
                pandoc.to_html(
                    body.markdown, parsed.front_matter, media_dir=media, output=target, toc=toc, links=links
                )
            elif fmt == "pdf":
                pandoc.to_pdf(body.markdown, parsed.front_matter, media_dir=media, output=target)
            else:
                pandoc.to_docx(body.markdown, parsed.front_matter, media_dir=media, output=target)
            written.append(target)
    return written
