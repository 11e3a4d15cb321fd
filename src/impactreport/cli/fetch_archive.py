"""``impactreport fetch archive``: import the public Thinklab archive (every daily export) as snapshots."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from impactreport.fetch.archive import ArchiveSummary, Version, check_source, import_archive

from .fetch_options import THINKLAB_DATA_HELP, data_option, output_options, show_result


def summary_table(summary: ArchiveSummary, data_dir: Path, seconds: float) -> Table:
    """One row per project: versions seen, snapshots stored, unchanged, bytes written, date range."""
    table = Table(
        title=f"Thinklab archive → {data_dir} ({summary.commits} commits, {seconds:.1f} s)",
        title_justify="left",
    )
    table.add_column("Project", no_wrap=True)
    headers = ["Versions", "Stored", "Unchanged", "Rows", "MB"]
    invalid = any(item.invalid for item in summary.projects.values())
    if invalid:
        headers.insert(3, "Invalid")
    for header in headers:
        table.add_column(header, justify="right")
    table.add_column("From", no_wrap=True)
    table.add_column("To", no_wrap=True)
    for item in sorted(summary.projects.values(), key=lambda p: p.project.lower()):
        cells = [f"{item.versions:,}", f"{item.stored:,}", f"{item.unchanged:,}", f"{item.rows:,}"]
        if invalid:
            cells.insert(3, f"{item.invalid:,}")
        cells.append(f"{item.bytes / 1e6:,.1f}")
        table.add_row(item.project, *cells, item.first or "–", item.last or "–")
    return table


@click.command(name="archive")
@click.option(
    "--from",
    "source",
    required=True,
    help="Folder of exports, git repository, git bundle, or repository URL.",
)
@data_option(THINKLAB_DATA_HELP)
@output_options(json_help="Print per-project counts as JSON.")
def command(source: str, data_dir: Path, quiet: bool, as_json: bool) -> None:
    """Import every historical version of each project's export as a dated snapshot.

    A version whose content equals the snapshot before it (``retrieved`` aside) is not stored again,
    so re-running the import stores nothing new.
    """
    err = Console(stderr=True)
    check_source(source)
    start = time.monotonic()
    progress = None
    if not quiet:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[project]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
    task = progress.add_task("reading history", total=None, project="") if progress else None

    def on_total(total: int) -> None:
        if progress is not None:
            progress.update(task, total=total, description="importing versions")

    def on_version(version: Version) -> None:
        if progress is not None:
            progress.update(task, advance=1, project=version.project)

    if progress is not None:
        with progress:
            summary = import_archive(data_dir, source, on_total=on_total, on_version=on_version)
    else:
        summary = import_archive(data_dir, source)
    seconds = time.monotonic() - start
    rows = {
        "commits": summary.commits,
        "seconds": round(seconds, 3),
        "projects": [asdict(item) for item in summary.projects.values()],
        "problems": summary.problems,
    }
    show_result(rows, lambda: summary_table(summary, data_dir, seconds), quiet=quiet, as_json=as_json)
    for problem in summary.problems:
        click.echo(f"impactreport: warning: {problem}", err=True)
