"""``impactreport figures``: every figure as SVG/PNG/PDF plus the data behind it as CSV.

Views over time read every snapshot under PATHS (only their views); everything else reads the
newest snapshot of each project.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import click
import polars as pl
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from impactreport import settings
from impactreport.analyses import AnalysisParams
from impactreport.errors import InputError
from impactreport.figures import FIGURE_NAMES, FORMATS
from impactreport.figures.save import check_folder, write_reason
from impactreport.figures.write import write_figures
from impactreport.pipeline import Request, run
from impactreport.settings import parse_thresholds, positive_days

from .console import err_console, inert, notice, out_console, warn
from .selection import selection, selection_options


def parse_formats(text: str) -> tuple[str, ...]:
    """``"svg,png"`` → ``("svg", "png")``; unknown formats are a one-line error."""
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if not formats or unknown:
        raise InputError(f"--formats {text!r}: choose from {', '.join(FORMATS)} (comma-separated)")
    return formats


def check_out(out: Path, formats: Sequence[str]) -> None:
    """Refuse, before reading any export, an ``--out`` that cannot take the figures: a file, a folder
    under a file, one not writable, or one holding a folder where a figure or its CSV goes."""
    check_folder(out, "--out")
    for name in FIGURE_NAMES:
        for suffix in (*formats, "csv"):
            inside = out / f"{name}.{suffix}"
            if inside.is_dir():
                raise InputError(f"--out {out}: {inside} is a folder; move it away or choose another folder")


def _names(out: Path) -> set[str]:
    """The names in ``out`` now (none when it does not exist yet)."""
    try:
        return set(os.listdir(out))
    except OSError:
        return set()


def _remove_new(out: Path, before: set[str]) -> int:
    """Remove the figure files a failed run added to ``out`` (regular files of our names only; a file
    that was there before keeps its newest complete version: every write is atomic). Why: a full disk
    once left 17 of 42 figures behind, which looked like a finished run."""
    ours = {f"{name}.{suffix}" for name in FIGURE_NAMES for suffix in (*FORMATS, "csv")}
    removed = 0
    for name in _names(out) - before:
        path = out / name
        if name in ours and path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    if not before:
        with contextlib.suppress(OSError):
            out.rmdir()  # made by this run and now empty
    return removed


def files_table(written: dict[str, list[Path]], out: Path) -> Table:
    """One row per figure: the formats written (``out/<name>.<format>``) and their total size."""
    table = Table(title=inert(f"Figures written to {out}/<name>.<format>"), title_justify="left")
    table.add_column("Figure", no_wrap=True)
    table.add_column("Formats", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    for name, paths in written.items():
        size = sum(path.stat().st_size for path in paths)
        formats = ", ".join(path.suffix.lstrip(".") for path in paths)
        table.add_row(inert(name), formats, f"{size / 1024:,.0f} KiB")
    return table


@click.command(name="figures")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("figures"),
    show_default=True,
    help="Folder for the figures and their CSV data.",
)
@selection_options
@click.option(
    "--bandwidth",
    type=float,
    default=settings.BANDWIDTH,
    show_default=True,
    help="Kernel bandwidth (days) for weighted activity and the user streams.",
)
@click.option(
    "--char-bandwidth",
    type=float,
    default=settings.CHAR_BANDWIDTH,
    show_default=True,
    help="Kernel bandwidth (days) for characters per day.",
)
@click.option(
    "--cumulative-bandwidth",
    type=float,
    default=settings.CUMULATIVE_BANDWIDTH,
    show_default=True,
    help="Kernel bandwidth (days) for the cumulative contribution chart.",
)
@click.option(
    "--histogram-bin",
    default=settings.HISTOGRAM_BIN,
    show_default=True,
    help="Bin width of the activity histogram (polars duration: 1mo, 3mo, 2w).",
)
@click.option(
    "--thresholds",
    default=",".join(map(str, settings.THRESHOLDS)),
    show_default=True,
    help=f"Contributors with {settings.THRESHOLD_RULE} this many characters (comma-separated).",
)
@click.option(
    "--label-threshold",
    type=int,
    default=settings.LABEL_THRESHOLD,
    help=f"Name users with {settings.THRESHOLD_RULE} this many characters in the cumulative chart "
    "[default: the highest of --thresholds].",
)
@click.option(
    "--stream-threshold",
    type=int,
    default=None,
    help=f"Stream chart users: {settings.THRESHOLD_RULE} this many characters [default: highest threshold].",
)
@click.option(
    "--exclude-user",
    "exclude_users",
    multiple=True,
    help="Leave this username or name out of the stream chart (repeatable).",
)
@click.option("--no-sqrt", is_flag=True, help="Cumulative chart without the square-root transform.")
@click.option(
    "--formats",
    "formats_text",
    default=",".join(FORMATS),
    show_default=True,
    help="Comma-separated: svg, png, pdf.",
)
@click.option("--scale", type=float, default=2.0, show_default=True, help="PNG pixels per SVG pixel.")
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
def command(
    paths: tuple[Path, ...],
    out: Path,
    projects: tuple[str, ...],
    team: tuple[str, ...],
    team_file: Path | None,
    since: str | None,
    until: str | None,
    text_basis: str,
    bandwidth: float,
    char_bandwidth: float,
    cumulative_bandwidth: float,
    histogram_bin: str,
    thresholds: str,
    label_threshold: int | None,
    stream_threshold: int | None,
    exclude_users: tuple[str, ...],
    no_sqrt: bool,
    formats_text: str,
    scale: float,
    as_json: bool,
) -> None:
    """Write every figure of the exports at PATHS to DIR/<name>.<format> and DIR/<name>.csv.

    Figures: imbalance, activity-histogram, activity-density, characters-density, contributors,
    user-stream, cumulative-contribution, views, views-over-time.
    """
    formats = parse_formats(formats_text)
    try:
        analysis = AnalysisParams(
            histogram_bin=histogram_bin,
            bandwidth=positive_days(bandwidth, "--bandwidth"),
            char_bandwidth=positive_days(char_bandwidth, "--char-bandwidth"),
            cumulative_bandwidth=positive_days(cumulative_bandwidth, "--cumulative-bandwidth"),
            label_threshold=label_threshold,
            stream_threshold=stream_threshold,
            exclude_users=exclude_users,
            sqrt=not no_sqrt,
        )
    except ValueError as error:
        raise InputError(f"invalid option: {error}") from None
    try:
        pl.datetime_range(pl.datetime(2000, 1, 1), pl.datetime(2000, 2, 1), histogram_bin, eager=True)
    except (ValueError, pl.exceptions.PolarsError):
        raise InputError(
            f"--histogram-bin {histogram_bin!r}: expected a duration such as 1mo, 3mo, 2w or 1y"
        ) from None
    if scale <= 0:
        raise InputError(f"--scale {scale:g}: must be positive")
    check_out(out, formats)
    request = Request(
        paths=paths,
        **selection(projects, team, team_file, since, until, text_basis),
        thresholds=parse_thresholds(thresholds),
        analysis=analysis,
    )
    console = err_console()
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=True, disable=as_json or not console.is_terminal,
    )  # fmt: skip
    with progress:
        task = progress.add_task("Reading exports", total=None)
        result = run(
            request, figures=True,
            on_file=lambda file: progress.update(task, description=f"Reading {file.path.name}"),
            stage=lambda text: progress.update(task, description=text),
        )  # fmt: skip
        progress.update(task, description="Writing figures", total=len(FIGURE_NAMES), completed=0)
        before = _names(out)
        try:
            written = write_figures(
                result, out, formats=formats, scale=scale,
                progress=lambda name: progress.update(task, advance=1, description=f"Wrote {name}"),
            )  # fmt: skip
        except OSError as error:  # the folder changed since check_out, or the disk is full
            where = f" {error.filename}" if error.filename else ""
            removed = _remove_new(out, before)
            left = f"; the {removed} file(s) this run had added were removed" if removed else ""
            raise InputError(f"--out {out}: cannot write{where} ({write_reason(error)}){left}") from None
    for warning in result.warnings:
        warn(console, warning)
    for note in result.notes:
        notice(console, note)
    if as_json:
        payload = {
            "out": str(out),
            "figures": {name: [str(path) for path in files] for name, files in written.items()},
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    out_console().print(files_table(written, out))
