"""Render the Quarto report (``report/index.qmd``) to HTML, PDF and Word.

``engine="quarto"`` runs the real ``quarto render``; ``"builtin"`` renders the same ``.qmd`` with a
small renderer of our own (Jupyter kernel + Pandoc + Typst); ``"auto"`` uses Quarto when a binary is found
(``PATH`` or ``$QUARTO_PATH``) and the built-in renderer otherwise. Both write ``<output_dir>/index.html``,
``<output_dir>/index.pdf``, ``<output_dir>/index.docx`` (the formats asked for) and, from the report's
code, ``<output_dir>/figures/<name>.{svg,png,pdf}``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from impactreport.errors import InputError
from impactreport.project import OUTPUT_DIR, OUTPUT_DIR_ENV, REPORT, find_project_root
from impactreport.settings import ReportParams

from . import notes
from .builtin import DEFAULT_FORMATS, FORMATS, render_builtin
from .execute import TIMEOUT
from .notes import Message
from .qmd import check_parameters, parse
from .quarto import find_quarto, render_quarto

ENGINES = ("auto", "quarto", "builtin")
#: ... and which renderer runs it (for the report's provenance section).
ENGINE_ENV = "IMPACTREPORT_ENGINE"

__all__ = [
    "DEFAULT_FORMATS",
    "ENGINES",
    "FORMATS",
    "REPORT",
    "TIMEOUT",
    "check",
    "check_output_dir",
    "find_project_root",
    "find_quarto",
    "render",
]


def _builtin_name() -> str:
    import pypandoc

    return f"impactreport built-in renderer (Pandoc {pypandoc.get_pandoc_version()}, Typst)"


def check_output_dir(target: Path, label: str = "--output-dir") -> None:
    """Refuse, before any slow work, an output folder that cannot be written, or one holding a folder
    where the report goes or a file where its figures go (:func:`impactreport.figures.save.check_folder`
    probes the folder and leaves nothing behind)."""
    from impactreport.figures.save import check_folder

    if target.is_dir():
        for name in ("figures", *(f"index.{fmt}" for fmt in FORMATS)):
            inside = target / name
            if inside.exists() and inside.is_dir() != (name == "figures"):
                kind = "a file" if name == "figures" else "a folder"
                raise InputError(
                    f"{label} {target}: {inside} is {kind}; move it away or choose another folder"
                )
    check_folder(target, label)


def check(params: dict[str, Any], project: Path, target: Path, source: Path | None = None) -> ReportParams:
    """Every check a user's input gets before a kernel or Quarto starts; the first problem is an
    :class:`InputError` of one line naming the parameter (as typed after ``-P``) or the folder."""
    source = source or project / REPORT
    document = parse(source.read_text(encoding="utf-8"), str(source))
    check_parameters(document, params, str(REPORT))
    checked = ReportParams.from_mapping(params, prefix="parameter ")
    check_output_dir(target)  # before preflight, which may generate the demo data
    # The layer below (cli → render → report → pipeline), imported here, not at the top: importing the
    # renderer does not import the report, the pipeline and all they count with (a third of a second).
    from impactreport.report import preflight

    preflight(checked, project)
    return checked


def _quiet(_: str) -> None:
    """The default progress: say nothing (library use)."""


def _ignore(_: Message) -> None:
    """The default for the report's messages: they are in the report (library use)."""


def render(
    to: Sequence[str] = DEFAULT_FORMATS,
    params: dict[str, Any] | None = None,
    output_dir: str | Path | None = None,
    engine: str = "auto",
    *,
    root: str | Path | None = None,
    timeout: int = TIMEOUT,
    progress: Callable[[str], None] = _quiet,
    messages: Callable[[Message], None] = _ignore,
) -> list[Path]:
    """Render the report to each format in ``to`` (``html``, ``pdf``, ``docx``); return the files written.

    ``output_dir`` defaults to ``<project root>/_output``; relative paths are taken from the current folder.
    Every parameter and the output folder are checked first (:func:`check`), so a mistake is one line
    within a second, not after a kernel start. ``timeout`` (seconds) bounds the report's execution;
    ``progress`` is called with one line per stage, ``messages`` with each warning and note the report
    shows (:mod:`.notes`), once each, when the render ends.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    unknown = sorted(set(to) - set(FORMATS))
    if unknown:
        raise InputError(f"unknown output format {unknown[0]!r} (expected html, pdf or docx)")
    project = find_project_root(Path(root) if root else None)
    target = Path(output_dir).resolve() if output_dir else project / OUTPUT_DIR
    formats = tuple(dict.fromkeys(to))
    binary = find_quarto() if engine in ("auto", "quarto") else None
    if engine == "quarto" and binary is None:
        raise InputError("quarto not found: install Quarto or set QUARTO_PATH (or use --engine builtin)")
    params = dict(params or {})
    source = project / REPORT
    check(params, project, target, source)
    progress(f"checked {len(params)} parameter{'s' * (len(params) != 1)} and the output folder {target}")
    env = {OUTPUT_DIR_ENV: str(target), ENGINE_ENV: "Quarto" if binary else _builtin_name()}
    with tempfile.TemporaryDirectory(prefix="impactreport-messages-") as scratch:
        inbox = Path(scratch) / "messages.jsonl"
        env[notes.MESSAGES_ENV] = str(inbox)
        try:
            if binary is not None:
                return render_quarto(
                    source,
                    to=formats,
                    params=params,
                    output_dir=target,
                    root=project,
                    env=env,
                    binary=binary,
                    timeout=timeout,
                    progress=progress,
                )
            return render_builtin(
                source,
                to=formats,
                params=params,
                output_dir=target,
                root=project,
                env=env,
                timeout=timeout,
                progress=progress,
            )
        finally:  # also when the render failed: a warning may say why
            for message in notes.read(inbox):
                messages(message)
