"""``impactreport fetch archive``: import the public Thinklab archive (every daily export) as snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from impactreport.fetch.archive import ArchiveSource
from impactreport.fetch.sync import ProjectResult, SyncRun

from .console import err_console, inert, notice, warn
from .fetch_options import THINKLAB_DATA_HELP, data_option, output_options, run, show_result


def project_counts(item: ProjectResult) -> dict[str, Any]:
    """One project's record in ``--json``: versions seen, stored, unchanged, invalid, bytes, rows, dates."""
    return {
        "project": item.project,
        "versions": item.versions,
        "stored": item.stored,
        "unchanged": item.unchanged,
        "invalid": item.invalid,
        "bytes": item.bytes_written,
        "rows": sum(item.rows.values()),
        "first": item.first,
        "last": item.last,
    }


def summary_table(records: list[dict[str, Any]], commits: int, data_dir: Path, seconds: float) -> Table:
    """One row per project: versions seen, snapshots stored, unchanged, rows, MB written, date range."""
    table = Table(
        title=inert(f"Thinklab archive → {data_dir} ({commits} commits, {seconds:.1f} s)"),
        title_justify="left",
    )
    table.add_column("Project", no_wrap=True)
    headers = ["Versions", "Stored", "Unchanged", "Rows", "MB"]
    invalid = any(item["invalid"] for item in records)
    if invalid:
        headers.insert(3, "Invalid")
    for header in headers:
        table.add_column(header, justify="right")
    table.add_column("From", no_wrap=True)
    table.add_column("To", no_wrap=True)
    for item in sorted(records, key=lambda p: p["project"].lower()):
        cells = [f"{item[key]:,}" for key in ("versions", "stored", "unchanged", "rows")]
        if invalid:
            cells.insert(3, f"{item['invalid']:,}")
        cells.append(f"{item['bytes'] / 1e6:,.1f}")
        table.add_row(inert(item["project"]), *cells, item["first"] or "–", item["last"] or "–")
    return table


@click.command(name="archive")
@click.option(
    "--from",
    "location",
    required=True,
    help="Folder of exports, git repository, git bundle, or repository URL.",
)
@data_option(THINKLAB_DATA_HELP)
@output_options(json_help="Print per-project counts as JSON.")
def command(location: str, data_dir: Path, quiet: bool, as_json: bool) -> None:
    """Import every historical version of each project's export as a dated snapshot.

    A version whose content equals the snapshot before it (``retrieved`` aside) is not stored again,
    so re-running the import stores nothing new. From a folder, hidden files and folders (``.git``,
    ``.history``) are never imported, and JSON that is not a project export is skipped with a note.
    """
    with ArchiveSource.open(location) as archive:
        for note in archive.notes:  # what a folder's scan left out: hidden files are never said
            notice(err_console(), note)
        done: SyncRun = run(archive, data_dir, quiet=quiet, as_json=as_json)
    records = [project_counts(item) for item in done.results]
    payload = {
        "commits": archive.commits,
        "seconds": round(done.seconds, 3),
        "projects": records,
        "problems": done.problems,
    }
    show_result(
        payload,
        lambda: summary_table(records, archive.commits, data_dir, done.seconds),
        quiet=quiet,
        as_json=as_json,
    )
    err = err_console()
    for problem in done.problems:
        warn(err, problem)
