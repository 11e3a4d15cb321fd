"""Where a project's folders are, defined once: its root, its data folder and its output folder.

Why one module: the report (run by Quarto in ``report/``), the renderer, the CLI defaults and the
identities file all look for the same three places; each once had its own spelling of them.

    <root>/_quarto.yml            marks the root (with report/index.qmd beside it)
    <root>/data/                  the data folder: exports, the demo tree, identities.yml
    <root>/_output/               the output folder: index.html, index.pdf, figures/
"""

from __future__ import annotations

from pathlib import Path

from impactreport.errors import InputError

#: The file that marks the project's root folder.
QUARTO_FILE = "_quarto.yml"
#: The report's source, relative to the root.
REPORT = Path("report") / "index.qmd"
#: The data folder, relative to the root (or the current folder, for the CLI's defaults).
DATA_DIR = Path("data")
#: The output folder, relative to the root.
OUTPUT_DIR = "_output"
#: Environment variable that tells the report's code where the output folder is (set by both engines).
OUTPUT_DIR_ENV = "IMPACTREPORT_OUTPUT_DIR"


def find_root(start: Path | None = None, *, with_report: bool = False) -> Path | None:
    """The nearest folder (from ``start``, default the current one, upwards) with ``_quarto.yml`` (and
    ``report/index.qmd`` when ``with_report``), or None: the one search both finders below make."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / QUARTO_FILE).is_file() and (not with_report or (folder / REPORT).is_file()):
            return folder
    return None


def project_root(start: Path | None = None) -> Path:
    """The folder with ``_quarto.yml`` (Quarto runs the report's code in ``report/``); ``start`` (default
    the current folder) when there is none, so the report's code also runs outside a project."""
    return find_root(start) or (start or Path.cwd()).resolve()


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder with ``_quarto.yml`` and ``report/index.qmd``: what ``render`` renders; a one-line
    :class:`InputError` when there is none."""
    found = find_root(start, with_report=True)
    if found is None:
        here = (start or Path.cwd()).resolve()
        raise InputError(
            f"{here}: no {QUARTO_FILE} with {REPORT} here or in a parent folder (run from the project)"
        )
    return found
