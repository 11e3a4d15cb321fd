"""The report's assembly: its parameters → one pipeline request → the :class:`Report` the document
(``report/index.qmd``) prints, with its figures, copy-ready files and citation written beside it.

Why apart from :mod:`impactreport.pipeline`: the pipeline turns a request into numbers for every
caller (``summary``, ``figures``, the report); finding the report's data and demo, its project root,
its output folder and what it says about the software that made it concern only the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from impactreport import layout
from impactreport.comparison import AwardColumn, Comparison, comparison_rows
from impactreport.errors import InputError
from impactreport.identities import describe_team, resolve_identities
from impactreport.people import Team
from impactreport.pipeline import REPORT_NAMES, Request, Result, check_projects, run
from impactreport.project import DATA_DIR, OUTPUT_DIR, OUTPUT_DIR_ENV, project_root
from impactreport.report import reuse
from impactreport.report.sentences import community_sentences
from impactreport.report.software import tool_versions, versions
from impactreport.schema import Dataset
from impactreport.settings import ReportParams
from impactreport.stats import ImpactStats

if TYPE_CHECKING:
    from impactreport.citation import Citation, Manifest, Terms
    from impactreport.history.edits import EditHistory

#: Data folder of the project (relative to the project root) and where fetch stores exports in it.
EXPORTS = DATA_DIR / layout.EXPORTS_DIR
DEMO = DATA_DIR / layout.DEMO_DIR


@dataclass(frozen=True)
class Report:
    """What the report shows; ``figures`` maps a figure name to its saved SVG (only figures with data)."""

    params: ReportParams
    data_paths: tuple[Path, ...]
    demo: bool
    result: Result
    figures: dict[str, Path]
    versions: dict[str, str]
    #: how to cite the report (:mod:`impactreport.citation`)
    citation: Citation | None = None
    #: every snapshot file read, and their fingerprint
    manifest: Manifest | None = None
    #: ``git rev-parse HEAD`` of the project folder when it is a git checkout
    git_commit: str | None = None
    #: ``provenance.json`` as written
    provenance: bytes | None = None
    #: the copy-ready files written beside the report (:mod:`impactreport.outputs`), by name
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def stats(self) -> ImpactStats:
        return self.result.stats

    @property
    def dataset(self) -> Dataset:
        return self.result.dataset

    @property
    def frames(self) -> dict[str, pl.DataFrame]:
        return self.result.frames

    @property
    def team(self) -> Team:
        return self.result.request.team

    @property
    def snapshot_dates(self) -> int:
        return self.result.snapshot_dates

    @property
    def comparison(self) -> Comparison | None:
        return self.result.comparison

    @property
    def notes(self) -> tuple[str, ...]:
        """How to read some numbers (views gained or all-time; an empty previous period)."""
        return self.result.notes

    @property
    def views_gained(self) -> bool:
        """True when the views figure shows views gained in the period (not all-time views)."""
        frame = self.frames.get("views")
        return frame is not None and "views_from" in frame.columns

    @property
    def history(self) -> EditHistory | None:
        """Revisions from the snapshot series (None when no project has two or more snapshots)."""
        return self.result.history

    def community(self) -> tuple[str, str]:
        """The Community section's sentences (:func:`community_sentences`)."""
        return community_sentences(self.stats, self.params.period)

    def comparison_rows(self) -> list[tuple[str, Any, Any, str]]:
        """The "this period / previous period / change" rows; empty without ``compare_previous``."""
        return [] if self.comparison is None else comparison_rows(self.stats, self.comparison)

    def team_line(self) -> str:
        """``team (2 people, 4 accounts): …``: the team as people (:func:`describe_team`)."""
        posts = (self.result.full or self.result.dataset).posts
        return describe_team(self.team, self.result.request.identities, posts)

    @property
    def awards(self) -> tuple[AwardColumn, ...]:
        """Award-year columns (``award_start``): Year 1 … Year N, then since the award start."""
        return self.result.awards

    def byline(self) -> str:
        """The authors as the title block names them (``authors``, else ``author``; "" for none)."""
        from impactreport.citation import authors_of, byline

        return byline(authors_of(self.params.authors, self.params.author))

    def licenses(self) -> list[Terms]:
        """The licence or terms of each source in the data (:func:`impactreport.citation.source_licenses`)."""
        from impactreport.citation import source_licenses

        full = self.result.full or self.result.dataset
        forums = full.threads.filter(pl.col("source") == "discourse")["url"].drop_nulls().to_list()
        return source_licenses(full.snapshots["source"].to_list(), forums)


def has_exports(folder: Path) -> bool:
    """True when ``folder`` holds at least one export file (hidden files do not count)."""
    if not folder.is_dir():
        return False
    return any(
        not any(part.startswith(".") for part in path.relative_to(folder).parts)
        for suffix in ("*.json", "*.json.gz")
        for path in folder.rglob(suffix)
    )


def resolve_data(params: ReportParams, root: Path, *, generate: bool = True) -> tuple[tuple[Path, ...], bool]:
    """The export paths to read and whether they are the demo data.

    Relative paths are taken from the project root (not from ``report/``, where the code runs). With no
    ``data`` parameter: ``data/exports`` when it holds exports, else the demo data (generated once, only
    in this case: a real data folder is never touched).
    """
    if params.data:
        paths = tuple(Path(p) if Path(p).is_absolute() else root / p for p in params.data)
        for path in paths:
            if not path.exists():
                raise InputError(f"parameter data: {path}: no such file or folder")
        return paths, False
    if has_exports(root / EXPORTS):
        return (root / EXPORTS,), False
    demo = root / DEMO
    if generate and not has_exports(demo):
        from impactreport.demo import write_demo

        write_demo(demo)
    return (demo,), True


def report_request(params: ReportParams, root: Path) -> tuple[Request, bool]:
    """The pipeline request a report's parameters describe, and whether it reads the demo data."""
    from impactreport.analyses import AnalysisParams

    paths, demo = resolve_data(params, root)
    team_file = Path(params.team_file) if params.team_file else None
    if team_file is not None and not team_file.is_absolute():
        team_file = root / team_file
    team = Team.of(params.team, team_file)
    identities = resolve_identities(params.identities, root, name=REPORT_NAMES["identities"])
    if demo and not team and not identities.team_accounts():
        from impactreport.demo import DEMO_TEAM

        team = Team.of(DEMO_TEAM)
    analysis = AnalysisParams(
        bandwidth=params.bandwidth,
        char_bandwidth=params.char_bandwidth,
        label_threshold=params.label_threshold,
    )
    request = Request(
        paths=paths,
        projects=params.projects,
        team=team,
        period=params.period,
        text_basis=params.text_basis,
        thresholds=params.thresholds,
        analysis=analysis,
        compare_previous=params.compare_previous,
        previous_period=params.previous_period,
        as_of=params.day("as_of"),
        award_start=params.day("award_start"),
        years=params.years if params.award_start else None,
        identities=identities,
        names=REPORT_NAMES,
    )
    return request, demo


def preflight(params: ReportParams, root: Path) -> None:
    """Every check that needs no slow work: data paths, projects, team file (before a kernel starts)."""
    request, _ = report_request(params, root)
    check_projects(request)


def prepare_report(
    params: Mapping[str, Any] | ReportParams, *, root: Path | None = None, output_dir: Path | None = None
) -> Report:
    """Run the pipeline for the report; save every figure with data under ``<output>/figures`` (PNG at
    300 dpi, :data:`impactreport.outputs.PNG_SCALE`), and beside them the copy-ready tables, summaries
    and ``provenance.json``, with the report's citation (:func:`impactreport.outputs.complete`)."""
    from impactreport import citation, outputs
    from impactreport.figures.write import write_figures  # altair: only when the report is made

    checked = params if isinstance(params, ReportParams) else ReportParams.from_mapping(params)
    root = root or project_root()
    output = output_dir or Path(os.environ.get(OUTPUT_DIR_ENV) or root / OUTPUT_DIR)
    prepared = citation.prepared_on()  # a bad SOURCE_DATE_EPOCH fails before the slow work
    key = reuse.key_of(checked, root, output, prepared)
    again = reuse.load(key)  # the formats of one render share one prepared report
    if again is not None:
        return again
    request, demo = report_request(checked, root)
    software = versions()
    with ThreadPoolExecutor(1) as pool:  # git, quarto and pandoc are asked while the pipeline runs
        asking = pool.submit(tool_versions, root, software["renderer"])
        result = run(request, figures=True)
        written = write_figures(result, output / "figures", skip_empty=True, scale=outputs.PNG_SCALE)
        tools = asking.result()
    report = Report(
        params=checked,
        data_paths=request.paths,
        demo=demo,
        result=result,
        figures={name: paths[0] for name, paths in written.items()},
        versions=software | tools.versions(),
        git_commit=tools.git_commit,
    )
    report = outputs.complete(report, root=root, output=output, prepared=prepared, tools=tools)
    reuse.save(key, report)
    return report
