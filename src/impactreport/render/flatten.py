"""Quarto post-render step: move the report from ``<output-dir>/report/`` up to ``<output-dir>/``; the
Word file on an A4 page.

Quarto keeps an input's folder inside the output folder, so ``report/index.qmd`` would become
``_output/report/index.html``; the report is published from ``_output/index.html`` (the site's root page),
next to ``_output/figures/``. ``_quarto.yml`` runs this file as ``post-render``; it uses only the standard
library because Quarto runs it as a plain script (with ``QUARTO_PYTHON``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__:
    from .docx_page import a4_docx
else:  # run by Quarto as a plain script: its folder is on sys.path
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from docx_page import a4_docx  # type: ignore[import-not-found,no-redef]
    except ModuleNotFoundError:  # this script copied alone: the installed package's
        from impactreport.render.docx_page import a4_docx


def flatten(project: Path, output_dir: Path, files: list[str]) -> list[Path]:
    """Move each rendered file that sits in a sub-folder of ``output_dir`` to ``output_dir`` itself."""
    moved = []
    for name in files:
        path = (project / name).resolve()
        if path.parent == output_dir or output_dir not in path.parents or not path.is_file():
            continue
        target = output_dir / path.name
        os.replace(path, target)
        moved.append(target)
        folder = path.parent
        while folder != output_dir and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return moved


def main() -> None:
    project = Path.cwd()
    output_dir = (project / os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "_output")).resolve()
    listing = os.environ.get("QUARTO_USE_FILE_FOR_PROJECT_OUTPUT_FILES")
    text = (
        Path(listing).read_text(encoding="utf-8")
        if listing
        else os.environ.get("QUARTO_PROJECT_OUTPUT_FILES", "")
    )
    for path in flatten(project, output_dir, [line for line in text.splitlines() if line.strip()]):
        print(f"moved to {path}")
    for path in output_dir.glob("*.docx"):
        set_a4(path)


def set_a4(path: Path) -> None:
    """The Word report on an A4 page (:mod:`docx_page`), replaced atomically."""
    data = path.read_bytes()
    patched = a4_docx(data)
    if patched != data:
        temporary = path.with_name(f".{path.name}.a4")
        temporary.write_bytes(patched)
        os.replace(temporary, path)


if __name__ == "__main__":
    main()
