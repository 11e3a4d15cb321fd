"""`impactreport demo`: write the deterministic synthetic Thinklab exports (see :mod:`impactreport.demo`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from impactreport.cli.console import err_console, inert, out_console
from impactreport.demo import DEMO_TEAM, MAX_SNAPSHOTS, MIN_POSTS, build_demo
from impactreport.errors import InputError
from impactreport.layout import DEMO_DIR, DEMO_MARKER, EXPORTS_DIR
from impactreport.project import DATA_DIR


@click.command(name="demo")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=DATA_DIR / DEMO_DIR)
@click.option(
    "--posts", type=click.IntRange(min=MIN_POSTS), default=2000, show_default=True, help="Comments + notes."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, byte-identical files.")
@click.option(
    "--snapshots",
    type=click.IntRange(1, MAX_SNAPSHOTS),
    default=6,
    show_default=True,
    help="Snapshots per project.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table.")
def command(directory: Path, posts: int, seed: int, snapshots: int, as_json: bool) -> None:
    """Write synthetic Thinklab exports (format C) to DIRECTORY/exports/thinklab/ (default data/demo)."""
    started = time.perf_counter()
    err = err_console()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("generating rows", total=None)
        try:
            result = build_demo(
                directory,
                posts=posts,
                seed=seed,
                snapshots=snapshots,
                progress=lambda text: progress.update(task, description=f"wrote {text}"),
            )
        except OSError as error:
            where = error.filename or directory
            raise InputError(f"{where}: cannot write the demo exports ({error.strerror or error})") from None
    elapsed = time.perf_counter() - started
    if as_json:
        payload = result.to_json()
        payload.update(posts=posts, seed=seed, team=list(DEMO_TEAM), seconds=round(elapsed, 3))
        out_console().out(json.dumps(payload, indent=2, ensure_ascii=False), highlight=False)
        return
    table = Table(title=inert(f"Demo exports in {result.directory / EXPORTS_DIR / 'thinklab'}"))
    for column in ("project", "snapshots", "threads", "comments", "notes"):
        table.add_column(column, justify="left" if column == "project" else "right")
    for p in result.projects:
        table.add_row(inert(p.project), str(p.snapshots), f"{p.threads:,}", f"{p.comments:,}", f"{p.notes:,}")
    table.add_row(
        "total",
        str(len(result.paths)),
        f"{sum(p.threads for p in result.projects):,}",
        f"{sum(p.comments for p in result.projects):,}",
        f"{sum(p.notes for p in result.projects):,}",
        style="bold",
    )
    console = out_console()
    console.print(table)
    console.print(f"{len(result.paths)} files in {elapsed:.2f} s; team: {', '.join(DEMO_TEAM)}")
    console.print(
        inert(f"marked as demo data ({result.directory / DEMO_MARKER}): a scan of a parent folder skips it")
    )
