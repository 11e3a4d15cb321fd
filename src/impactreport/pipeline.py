"""The one pipeline: load → restrict (projects, period) → statistics → analyses → figures.

Why one module: ``summary``, ``figures`` and the report used to each wire these steps themselves, with
their own defaults, team handling and period filter, and so could disagree on the same data. Every
caller now builds one :class:`Request` (defaults and checks from :mod:`impactreport.settings`) and calls
the steps here; the report calls :func:`prepare_report`, which uses the same steps.

The steps are pure functions of data, except :func:`load` (reads files) and :func:`write_figures`
(writes files).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from impactreport import layout, settings
from impactreport.errors import InputError
from impactreport.people import Team
from impactreport.schema import TABLES, Dataset
from impactreport.settings import Period, ReportParams
from impactreport.stats import ImpactStats, summarise

if TYPE_CHECKING:  # analyses and figures import altair, which `summary` need not pay for
    from impactreport.analyses import AnalysisParams

Stage = Callable[[str], None]
#: Data folder of the project (relative to the project root) and where fetch stores exports in it.
DATA_DIR = Path("data")
EXPORTS = DATA_DIR / layout.EXPORTS_DIR
DEMO = DATA_DIR / layout.DEMO_DIR
OUTPUT_DIR_ENV = "IMPACTREPORT_OUTPUT_DIR"
ENGINE_ENV = "IMPACTREPORT_ENGINE"
REPORT_FORMATS = ("svg", "png", "pdf")


@dataclass(frozen=True)
class Request:
    """What one run reads and how it counts; the only parameter object of the pipeline.

    ``names`` says how the user typed each option, so errors name it as typed (``--project`` on the
    command line, ``parameter projects`` in the report).
    """

    paths: tuple[Path, ...]
    projects: tuple[str, ...] = ()
    team: Team = field(default_factory=Team)
    period: Period = field(default_factory=Period)
    text_basis: str = settings.TEXT_BASIS
    all_snapshots: bool = False
    include_bots: bool = False
    thresholds: tuple[int, ...] = settings.THRESHOLDS
    words_per_publication: float = settings.WORDS_PER_PUBLICATION
    #: analysis knobs beyond the ones above (bandwidths, label threshold, ...); None = defaults
    analysis: AnalysisParams | None = None
    names: Mapping[str, str] = field(default_factory=lambda: {"projects": "--project"})

    def analysis_params(self) -> AnalysisParams:
        """The analyses' parameters, agreeing with this request on thresholds, team and bots."""
        from impactreport.analyses import AnalysisParams

        base = self.analysis or AnalysisParams()
        return replace(base, thresholds=self.thresholds, team=self.team, exclude_bots=not self.include_bots)


@dataclass(frozen=True)
class Result:
    """Everything a run computed (``frames``/``charts`` only when analyses were asked for)."""

    request: Request
    dataset: Dataset
    stats: ImpactStats
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
    views: pl.DataFrame | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.stats.warnings

    @property
    def snapshot_dates(self) -> int:
        """Distinct snapshot dates the views over time are drawn from."""
        if self.views is None or self.views.height == 0:
            return 0
        return int(self.views["retrieved"].dt.date().n_unique())


# -- steps ------------------------------------------------------------------------------------------
def check_projects(request: Request) -> None:
    """Each asked-for project is in the data; the error names the option as the user typed it."""
    if not request.projects:
        return
    from impactreport.load import discover

    found = {file.project for file in discover(list(request.paths), all_snapshots=request.all_snapshots)}
    unknown = [name for name in request.projects if name not in found]
    if unknown:
        option = request.names.get("projects", "--project")
        known = ", ".join(sorted(found, key=str.lower)[:12]) + (", …" if len(found) > 12 else "")
        raise InputError(
            f"{option} {', '.join(unknown)}: not among the projects in "
            f"{', '.join(map(str, request.paths))} (found: {known})"
        )


def load(request: Request, on_file: Callable[[Any], None] | None = None) -> Dataset:
    """Read the exports of the request's projects (the newest snapshot of each, or every one)."""
    from impactreport.load import load_dataset

    check_projects(request)
    return load_dataset(
        list(request.paths),
        text_basis=request.text_basis,
        all_snapshots=request.all_snapshots,
        projects=list(request.projects) or None,
        on_file=on_file,
    )


def restrict(dataset: Dataset, period: Period) -> Dataset:
    """Texts posted in the period, and the discussions opened in it or commented on in it."""
    if period.is_open:
        return dataset
    in_period = period.contains("published")
    frames = {name: getattr(dataset, name) for name in TABLES}
    for name in ("comments", "notes", "documents", "posts"):
        frames[name] = frames[name].filter(in_period)
    active = frames["comments"].select("source", "project", "thread_id").unique()
    opened = frames["threads"].filter(in_period).select("source", "project", "thread_id")
    keep = pl.concat([active, opened]).unique()
    frames["threads"] = frames["threads"].join(
        keep, on=["source", "project", "thread_id"], how="semi", nulls_equal=True
    )
    return Dataset(
        **frames,
        text_basis=dataset.text_basis,
        usernames_known=dataset.usernames_known,
        warnings=dataset.warnings,
    )


def statistics(dataset: Dataset, request: Request) -> ImpactStats:
    """The impact sentence's numbers, per project and overall."""
    return summarise(
        dataset,
        team=request.team,
        thresholds=request.thresholds,
        words_per_publication=request.words_per_publication,
        exclude_bots=not request.include_bots,
    )


def views_series(request: Request) -> pl.DataFrame:
    """Views of every snapshot under the request's paths (for views over time), of its projects."""
    from impactreport.load.views import load_views

    series = load_views(list(request.paths))
    if request.projects:
        series = series.filter(pl.col("project").is_in(list(request.projects)))
    return series


def analyses(dataset: Dataset, request: Request, views: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    """The frame behind every figure (views over time only from two snapshot dates on)."""
    from impactreport.analyses import compute_all

    several = views is not None and views.height > 0 and views["retrieved"].dt.date().n_unique() > 1
    return compute_all(dataset, request.analysis_params(), views_series=views if several else None)


def charts(frames: dict[str, pl.DataFrame], request: Request) -> dict[str, Any]:
    """One altair chart per figure."""
    from impactreport.figures import build_all

    return build_all(frames, request.analysis_params())


def write_figures(
    result: Result,
    out: Path,
    *,
    formats: Sequence[str] = REPORT_FORMATS,
    scale: float = 2,
    skip_empty: bool = False,
    progress: Stage | None = None,
) -> dict[str, list[Path]]:
    """Write each chart as ``out/<name>.<format>`` and its frame as ``out/<name>.csv``."""
    from impactreport.figures import csv_bytes, save_chart
    from impactreport.files import write_atomic

    written: dict[str, list[Path]] = {}
    for name, chart in result.charts.items():
        frame = result.frames[name]
        if skip_empty and frame.height == 0:
            continue
        paths = save_chart(chart, out, name, formats=formats, scale=scale)
        csv_path = out / f"{name}.csv"
        write_atomic(csv_path, csv_bytes(frame))
        written[name] = [*paths, csv_path]
        if progress is not None:
            progress(name)
    return written


def run(
    request: Request,
    *,
    figures: bool = False,
    on_file: Callable[[Any], None] | None = None,
    stage: Stage | None = None,
) -> Result:
    """Load → restrict → statistics, then (``figures``) views → analyses → charts."""

    def say(text: str) -> None:
        if stage is not None:
            stage(text)

    say("Reading exports")
    dataset = restrict(load(request, on_file=on_file), request.period)
    say("Computing statistics")
    stats = statistics(dataset, request)
    if not figures:
        return Result(request, dataset, stats)
    say("Reading views of every snapshot")
    views = views_series(request)
    say("Computing the data behind each figure")
    frames = analyses(dataset, request, views)
    say("Drawing figures")
    return Result(request, dataset, stats, frames=frames, charts=charts(frames, request), views=views)


# -- the report ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """What the report shows; ``figures`` maps a figure name to its saved SVG (only figures with data)."""

    params: ReportParams
    data_paths: tuple[Path, ...]
    demo: bool
    result: Result
    figures: dict[str, Path]
    versions: dict[str, str]

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


def project_root(start: Path | None = None) -> Path:
    """The folder with ``_quarto.yml`` (Quarto runs the report's code in ``report/``)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    return here


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
    if demo and not team:
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
        names={"projects": "parameter projects"},
    )
    return request, demo


def preflight(params: ReportParams, root: Path) -> None:
    """Every check that needs no slow work: data paths, projects, team file (before a kernel starts)."""
    request, _ = report_request(params, root)
    check_projects(request)


def versions() -> dict[str, str]:
    """Software that made the report (for the provenance section)."""
    found = {"Python": platform.python_version()}
    for package in (
        "impactreport",
        "polars",
        "altair",
        "vl-convert-python",
        "nbclient",
        "pypandoc-binary",
        "typst",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    found["renderer"] = os.environ.get(ENGINE_ENV) or "Quarto"  # unset: quarto render run directly
    return found


def prepare_report(
    params: Mapping[str, Any] | ReportParams, *, root: Path | None = None, output_dir: Path | None = None
) -> Report:
    """Run the pipeline for the report; save every figure with data under ``<output>/figures``."""
    checked = params if isinstance(params, ReportParams) else ReportParams.from_mapping(params)
    root = root or project_root()
    output = output_dir or Path(os.environ.get(OUTPUT_DIR_ENV) or root / "_output")
    request, demo = report_request(checked, root)
    result = run(request, figures=True)
    written = write_figures(result, output / "figures", skip_empty=True)
    figures = {name: paths[0] for name, paths in written.items()}
    return Report(
        params=checked,
        data_paths=request.paths,
        demo=demo,
        result=result,
        figures=figures,
        versions=versions(),
    )
