"""The figure registry is the one list of figures: the report and the docs have each entry (issue 21).

A figure added to :data:`impactreport.figures.registry.FIGURES` without its report section, or with a
caption the report does not print, or without its row in ``docs/figures.md``, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from impactreport.analyses import AnalysisScope
from impactreport.figures.registry import (
    BY_NAME,
    DOCS_BEGIN,
    DOCS_END,
    FIGURE_NAMES,
    FIGURES,
    TABLES,
    docs_table,
    frames_of,
    has_data,
)
from impactreport.render import qmd
from tests.community_data import rules_dataset

REPO = Path(__file__).resolve().parents[1]


def _report_cells() -> dict[str, qmd.Cell]:
    parsed = qmd.parse((REPO / "report" / "index.qmd").read_text(encoding="utf-8"), "index.qmd")
    return {
        cell.options["label"].removeprefix("fig-"): cell
        for cell in parsed.cells
        if str(cell.options.get("label", "")).startswith("fig-")
    }


def test_names_are_unique_and_stable() -> None:
    assert len(set(FIGURE_NAMES)) == len(FIGURE_NAMES) == len(BY_NAME)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", name) for name in FIGURE_NAMES)
    assert not set(TABLES) & set(FIGURE_NAMES)


def test_every_figure_has_its_report_section() -> None:
    cells = _report_cells()
    assert list(cells) == list(FIGURE_NAMES)  # the report's order is the registry's
    for figure in FIGURES:
        cell = cells[figure.name]
        assert cell.options["fig-cap"] == figure.caption, figure.name
        assert f'show("{figure.name}")' in cell.code, figure.name


def test_every_figure_has_its_row_in_the_docs() -> None:
    text = (REPO / "docs" / "figures.md").read_text(encoding="utf-8")
    block = text.split(DOCS_BEGIN, 1)[1].split(DOCS_END, 1)[0].strip()
    assert block == docs_table(), "regenerate with impactreport.figures.registry.docs_table()"
    for name in FIGURE_NAMES:
        assert f"\n## `{name}`\n" in text, name


def test_has_data() -> None:
    empty = pl.DataFrame(schema={"revisions": pl.Int64, "rerenders": pl.Int64})
    quiet = pl.DataFrame({"revisions": [0], "rerenders": [0]})
    assert not has_data("edits", empty) and not has_data("edits", quiet)
    assert has_data("edits", quiet.with_columns(rerenders=pl.lit(1)))
    assert has_data("views", quiet) and not has_data("views", empty)


def test_frames_of_computes_every_frame_the_analyses_own(tmp_path: Path) -> None:
    frames = frames_of(AnalysisScope(rules_dataset(tmp_path)))
    owned = [figure.name for figure in FIGURES if figure.frame is not None]
    assert list(frames) == [*owned, *TABLES]
    assert "edits" not in frames  # from the snapshot series (impactreport.pipeline.edit_frames)
