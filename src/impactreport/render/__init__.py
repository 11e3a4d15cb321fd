"""Render the Quarto report (``report/index.qmd``) to HTML and PDF.

``engine="quarto"`` runs the real ``quarto render``; ``"builtin"`` renders the same ``.qmd`` with a
small renderer of our own (Jupyter kernel + Pandoc + Typst); ``"auto"`` uses Quarto when a binary is found
(``PATH`` or ``$QUARTO_PATH``) and the built-in renderer otherwise. Both write ``<output_dir>/index.html``,
``<output_dir>/index.pdf`` and, from the report's code, ``<output_dir>/figures/<name>.{svg,png,pdf}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from impactreport.errors import InputError

from .builtin import FORMATS, render_builtin
from .qmd import check_parameters, parse
from .quarto import find_quarto, render_quarto

REPORT = Path("report") / "index.qmd"
ENGINES = ("auto", "quarto", "builtin")
#: Environment variable that tells the report's code where ``figures/`` goes (set by both engines).
OUTPUT_DIR_ENV = "IMPACTREPORT_OUTPUT_DIR"
#: ... and which renderer runs it (for the report's provenance section).
ENGINE_ENV = "IMPACTREPORT_ENGINE"

__all__ = ["ENGINES", "FORMATS", "REPORT", "find_project_root", "find_quarto", "render"]


def _builtin_name() -> str:
    import pypandoc

    return f"impactreport built-in renderer (Pandoc {pypandoc.get_pandoc_version()}, Typst)"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder (from ``start``, default the current one, upwards) with ``_quarto.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file() and (folder / REPORT).is_file():
            return folder
    raise InputError(
        f"{here}: no _quarto.yml with {REPORT} here or in a parent folder (run from the project)"
    )


def render(
    to: Sequence[str] = FORMATS,
    params: dict[str, Any] | None = None,
    output_dir: str | Path | None = None,
    engine: str = "auto",
    *,
    root: str | Path | None = None,
) -> list[Path]:
    """Render the report; return the files written (HTML and/or PDF).

    ``output_dir`` defaults to ``<project root>/_output``; relative paths are taken from the current folder.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    project = find_project_root(Path(root) if root else None)
    target = Path(output_dir).resolve() if output_dir else project / "_output"
    formats = tuple(dict.fromkeys(to))
    binary = find_quarto() if engine in ("auto", "quarto") else None
    if engine == "quarto" and binary is None:
        raise InputError("quarto not found: install Quarto or set QUARTO_PATH (or use --engine builtin)")
    env = {OUTPUT_DIR_ENV: str(target), ENGINE_ENV: "Quarto" if binary else _builtin_name()}
    source = project / REPORT
    if binary is not None:
        check_parameters(parse(source.read_text(encoding="utf-8"), str(source)), params or {}, str(REPORT))
        return render_quarto(
            source, to=formats, params=params, output_dir=target, root=project, env=env, binary=binary
        )
    return render_builtin(source, to=formats, params=params, output_dir=target, root=project, env=env)
