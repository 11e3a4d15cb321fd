"""The built-in renderer: the report's ``.qmd`` to HTML and PDF without Quarto.

parse (:mod:`.qmd`) → run in a Jupyter kernel with the parameters injected (:mod:`.execute`) →
Pandoc markdown with figures, tables and cross-references (:mod:`.document`) → standalone HTML and
Typst PDF (:mod:`.pandoc`). The code runs once; both formats are written from the same outputs, to the
paths Quarto would use (``<output_dir>/<stem>.html`` and ``<output_dir>/<stem>.pdf``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from impactreport.errors import InputError

from . import document, execute, pandoc, qmd

FORMATS = ("html", "pdf")
#: Called with one line per stage (``executing …``, ``writing …``); the CLI prints it on stderr.
Progress = Callable[[str], None]


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
    to: tuple[str, ...] = FORMATS,
    params: dict[str, Any] | None = None,
    output_dir: Path,
    root: Path,
    env: dict[str, str] | None = None,
    timeout: int = execute.TIMEOUT,
    progress: Progress = _quiet,
) -> list[Path]:
    """Render ``source`` to each format in ``to`` (``html``, ``pdf``); return the files written.

    ``timeout`` bounds the report's code (seconds, all cells together); ``progress`` hears each stage.
    """
    unknown = sorted(set(to) - set(FORMATS))
    if unknown:
        raise InputError(f"unknown output format {unknown[0]!r} (expected html or pdf)")
    name = str(source.relative_to(root)) if source.is_relative_to(root) else str(source)
    parsed = qmd.parse(source.read_text(encoding="utf-8"), name=name)
    qmd.check_parameters(parsed, params or {}, name)
    options = project_options(root)
    progress(f"executing {source.name} in a Jupyter kernel (built-in renderer)")
    executed = execute.execute(parsed, params or {}, cwd=source.parent, name=name, env=env, timeout=timeout)
    echo = _echo(parsed.front_matter, options)
    written: list[Path] = []
    output_dir.mkdir(parents=True, exist_ok=True)
    for fmt in to:
        with tempfile.TemporaryDirectory(prefix="impactreport-render-") as scratch:
            media = Path(scratch)
            body = document.assemble(
                executed, to="html" if fmt == "html" else "typst", media_dir=media, echo=echo
            )
            target = output_dir / f"{source.stem}.{fmt}"
            progress(f"writing {'HTML' if fmt == 'html' else 'PDF (Typst)'}: {target}")
            if fmt == "html":
                toc = _toc(parsed.front_matter, options)
                pandoc.to_html(body.markdown, parsed.front_matter, media_dir=media, output=target, toc=toc)
            else:
                pandoc.to_pdf(body.markdown, parsed.front_matter, media_dir=media, output=target)
            written.append(target)
    return written
