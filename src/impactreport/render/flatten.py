"""Quarto post-render step: move the report from ``<output-dir>/report/`` up to ``<output-dir>/``.

Quarto keeps an input's folder inside the output folder, so ``report/index.qmd`` would become
``_output/report/index.html``; the report is published from ``_output/index.html`` (the site's root page),
next to ``_output/figures/``. ``_quarto.yml`` runs this file as ``post-render``; it uses only the standard
library because Quarto runs it as a plain script (with ``QUARTO_PYTHON``).
"""

from __future__ import annotations

import os
from pathlib import Path


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


if __name__ == "__main__":
    main()
