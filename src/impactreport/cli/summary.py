"""``impactreport summary``: the impact sentence and a per-project table (or ``--json``)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from impactreport.load import load_dataset
from impactreport.stats import ImpactStats, parse_thresholds, read_team_file, summarise

TABLE_COLUMNS = (
    ("discussions", "Discussions"),
    ("comments", "Comments"),
    ("notes", "Notes"),
    ("documents", "Docs"),
    ("contributors", "Contributors"),
    ("non_team_contributors", "Non-team"),
    ("words", "Words"),
    ("characters", "Characters"),
    ("views", "Views"),
    ("cited_dois", "DOIs"),
)


def team_members(team: tuple[str, ...], team_file: Path | None) -> list[str]:
    """Usernames from ``--team`` and ``--team-file`` together."""
    members = list(team)
    if team_file is not None:
        members += read_team_file(team_file)
    return members


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else str(value)


def stats_table(stats: ImpactStats) -> Table:
    """Per-project statistics as a rich table, with the overall row last."""
    table = Table(title="Per project", title_justify="left")
    table.add_column("Project", no_wrap=True)
    for _, header in TABLE_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for name, values in stats.projects.items():
        table.add_row(name, *(_cell(values[key]) for key, _ in TABLE_COLUMNS))
    table.add_section()
    table.add_row("overall", *(_cell(stats.overall[key]) for key, _ in TABLE_COLUMNS), style="bold")
    return table


@click.command(name="summary")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--project", "projects", multiple=True, help="Only this project (repeatable).")
@click.option("--team", multiple=True, help="A team member's username (repeatable).")
@click.option("--team-file", type=click.Path(path_type=Path), help="File with one team username per line.")
@click.option("--text-basis", type=click.Choice(["html", "markdown"]), default="html", show_default=True)
@click.option("--thresholds", default="500,4000", show_default=True, help="Character thresholds.")
@click.option("--words-per-publication", type=float, default=7000, show_default=True)
@click.option("--include-bots", is_flag=True, help="Count bot accounts (GitHub) as contributors.")
@click.option("--all-snapshots", is_flag=True, help="Read every snapshot, not only the newest per project.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of the sentence and table."
)
def command(
    paths: tuple[Path, ...],
    projects: tuple[str, ...],
    team: tuple[str, ...],
    team_file: Path | None,
    text_basis: str,
    thresholds: str,
    words_per_publication: float,
    include_bots: bool,
    all_snapshots: bool,
    as_json: bool,
) -> None:
    """Print the impact sentence and per-project statistics of exports at PATHS.

    PATHS are export files (.json or .json.gz), folders of them (one per project) or a data/exports
    snapshot tree (the newest snapshot of each project is read).
    """
    members = team_members(team, team_file)
    limits = parse_thresholds(thresholds)
    dataset = load_dataset(paths, text_basis=text_basis, all_snapshots=all_snapshots, projects=projects)
    stats = summarise(
        dataset,
        team=members,
        thresholds=limits,
        words_per_publication=words_per_publication,
        exclude_bots=not include_bots,
    )
    errors = Console(stderr=True)
    for warning in stats.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False, markup=True, soft_wrap=True)
    if as_json:
        click.echo(json.dumps(stats.to_json(), indent=2, ensure_ascii=False))
        return
    console = Console(width=None if Console().is_terminal else 160)
    console.print(stats.sentence(), highlight=False, soft_wrap=True)
    console.print(
        f"That is {stats.overall['publications_equivalent']:,} publications' worth of words "
        f"({words_per_publication:,.0f} words each).",
        highlight=False,
    )
    console.print(stats_table(stats))
