"""Everything ``report/index.qmd`` shows, computed by the package and handed to the report in one object.

The report only formats: this module reads the parameters, finds the data (``data/exports``, else the
demo data it generates), loads it, restricts it to the projects and period asked for, and calls
:func:`impactreport.stats.summarise`, :func:`impactreport.analyses.compute_all` and
:func:`impactreport.figures.build_all`, saving every figure to ``<output>/figures/<name>.{svg,png,pdf}``
(and its data as ``<name>.csv``).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

from impactreport.errors import InputError
from impactreport.schema import TABLES, Dataset

#: Defaults of the report's parameters (the ``parameters`` cell of report/index.qmd repeats them).
DEFAULTS: dict[str, Any] = {
    "data": "",
    "projects": [],
    "team": [],
    "team_file": "",
    "since": "",
    "until": "",
    "bandwidth": 30,
    "char_bandwidth": 7,
    "thresholds": [500, 4000],
    "label_threshold": 4500,
    "text_basis": "html",
    "title": "Impact report",
    "author": "",
}
EXPORTS = Path("data") / "exports"
DEMO = Path("data") / "demo"
OUTPUT_DIR_ENV = "IMPACTREPORT_OUTPUT_DIR"
ENGINE_ENV = "IMPACTREPORT_ENGINE"


@dataclass
class Report:
    """What the report shows; ``figures`` maps a figure name to its saved SVG (only figures with data)."""

    params: dict[str, Any]
    data_paths: list[Path]
    demo: bool
    dataset: Dataset
    stats: Any
    team: list[str]
    frames: dict[str, pl.DataFrame]
    figures: dict[str, Path] = field(default_factory=dict)
    snapshot_dates: int = 0
    versions: dict[str, str] = field(default_factory=dict)


def project_root(start: Path | None = None) -> Path:
    """The folder with ``_quarto.yml`` (Quarto runs the report's code in ``report/``)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    return here


def _as_list(value: Any, name: str) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    raise InputError(f"parameter {name}: expected a list, got {value!r}")


def _moment(value: Any, name: str, end: bool = False) -> datetime | None:
    """``since``/``until`` as an aware UTC datetime; a bare date means the whole day."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
        if end:
            return moment.replace(tzinfo=UTC) + (datetime(2000, 1, 2) - datetime(2000, 1, 1))
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"parameter {name}: {text!r} is not a date (YYYY-MM-DD)") from None
        if end and len(text) == 10:
            moment = moment + (datetime(2000, 1, 2) - datetime(2000, 1, 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters with defaults filled in and types checked (one-line errors naming the parameter)."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise InputError(f"unknown report parameter {unknown[0]!r} (known: {', '.join(DEFAULTS)})")
    merged = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    merged["projects"] = [str(p) for p in _as_list(merged["projects"], "projects")]
    merged["team"] = [str(p) for p in _as_list(merged["team"], "team")]
    try:
        merged["thresholds"] = sorted({int(t) for t in _as_list(merged["thresholds"], "thresholds")})
        for key in ("bandwidth", "char_bandwidth"):
            merged[key] = float(merged[key])
        merged["label_threshold"] = int(merged["label_threshold"])
    except (TypeError, ValueError) as error:
        raise InputError(f"report parameters: {error}") from None
    return merged


def has_exports(folder: Path) -> bool:
    """True when ``folder`` holds at least one export file (hidden files do not count)."""
    if not folder.is_dir():
        return False
    return any(
        not any(part.startswith(".") for part in path.relative_to(folder).parts)
        for suffix in ("*.json", "*.json.gz")
        for path in folder.rglob(suffix)
    )


def resolve_data(data: Any, root: Path) -> tuple[list[Path], bool]:
    """The export paths to read and whether they are the generated demo data.

    Relative paths are taken from the project root (not from ``report/``, where the code runs).
    Empty ``data``: ``data/exports`` when it holds exports, else the demo data (generated once).
    """
    paths = [Path(p) for p in _as_list(data, "data")]
    if paths:
        return [p if p.is_absolute() else root / p for p in paths], False
    if has_exports(root / EXPORTS):
        return [root / EXPORTS], False
    demo = root / DEMO
    if not has_exports(demo):
        from impactreport.demo import write_demo

        write_demo(demo)
    return [demo], True


def restrict_period(dataset: Dataset, since: datetime | None, until: datetime | None) -> Dataset:
    """Texts posted in ``[since, until)``, and the discussions opened then or with a comment then."""
    if since is None and until is None:
        return dataset
    in_period = pl.lit(True)
    if since is not None:
        in_period = in_period & (pl.col("published") >= since)
    if until is not None:
        in_period = in_period & (pl.col("published") < until)
    frames = {name: getattr(dataset, name) for name in TABLES}
    for name in ("comments", "notes", "documents", "posts"):
        frames[name] = frames[name].filter(in_period)
    active = frames["comments"]["thread_id"].unique().implode()
    frames["threads"] = frames["threads"].filter(in_period | pl.col("thread_id").is_in(active))
    return Dataset(
        **frames,
        text_basis=dataset.text_basis,
        usernames_known=dataset.usernames_known,
        warnings=dataset.warnings,
    )


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


def prepare(params: dict[str, Any], *, root: Path | None = None, output_dir: Path | None = None) -> Report:
    """Load, summarise, analyse and draw; save every figure; return what the report shows."""
    from impactreport.analyses import FIGURE_NAMES, AnalysisParams, compute_all
    from impactreport.figures import build_all, csv_bytes
    from impactreport.figures.save import save_chart
    from impactreport.files import write_atomic
    from impactreport.load import load_dataset
    from impactreport.load.views import load_views
    from impactreport.stats import read_team_file, summarise

    root = root or project_root()
    settings = normalise(params)
    output = output_dir or Path(os.environ.get(OUTPUT_DIR_ENV) or root / "_output")
    paths, demo = resolve_data(settings["data"], root)
    team = list(settings["team"])
    if settings["team_file"]:
        team_file = Path(settings["team_file"])
        team += read_team_file(team_file if team_file.is_absolute() else root / team_file)
    if demo and not team:
        from impactreport.demo import DEMO_TEAM

        team = list(DEMO_TEAM)
    team = list(dict.fromkeys(team))
    projects = settings["projects"] or None
    dataset = load_dataset(paths, text_basis=settings["text_basis"], projects=projects)
    since = _moment(settings["since"], "since")
    until = _moment(settings["until"], "until", end=True)
    dataset = restrict_period(dataset, since, until)
    stats = summarise(dataset, team=team, thresholds=tuple(settings["thresholds"]))
    views = load_views(paths)
    if projects:
        views = views.filter(pl.col("project").is_in(projects))
    snapshot_dates = views["retrieved"].dt.date().n_unique() if views.height else 0
    analysis = AnalysisParams(
        bandwidth=settings["bandwidth"],
        char_bandwidth=settings["char_bandwidth"],
        thresholds=tuple(settings["thresholds"]),
        label_threshold=settings["label_threshold"],
        team=tuple(team),
    )
    frames = compute_all(dataset, analysis, views_series=views if snapshot_dates > 1 else None)
    charts = build_all(frames, analysis)
    figures: dict[str, Path] = {}
    for name in FIGURE_NAMES:
        chart = charts.get(name)
        frame = frames.get(name)
        if chart is None or frame is None or frame.height == 0:
            continue
        save_chart(chart, output / "figures", name, formats=("svg", "png", "pdf"), scale=2)
        write_atomic(output / "figures" / f"{name}.csv", csv_bytes(frame))
        figures[name] = output / "figures" / f"{name}.svg"
    return Report(
        params=settings,
        data_paths=paths,
        demo=demo,
        dataset=dataset,
        stats=stats,
        team=team,
        frames=frames,
        figures=figures,
        snapshot_dates=snapshot_dates,
        versions=versions(),
    )
