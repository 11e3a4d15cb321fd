"""``impactreport summary``: the impact sentence and a per-project table (or ``--json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from impactreport import settings
from impactreport.comparison import AwardColumn, Comparison, award_rows, comparison_rows
from impactreport.identities import describe_team, hint
from impactreport.pipeline import Request, history, run
from impactreport.report.sentences import community_sentences
from impactreport.settings import Period, parse_day, parse_thresholds
from impactreport.stats import ImpactStats, LevelStats

from .console import err_console, inert, notice, out_console, warn
from .selection import selection, selection_options

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


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else str(value)


def stats_table(stats: ImpactStats) -> Table:
    """Per-project statistics as a rich table: projects grouped by source, a subtotal per source when
    there are several, the overall row last; names shown inert."""
    table = Table(title="Per project", title_justify="left")
    table.add_column("Project", no_wrap=True)
    table.add_column("Source", no_wrap=True)
    for _, header in TABLE_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)

    def row(level: LevelStats) -> list[str]:
        return [_cell(level[key]) for key, _ in TABLE_COLUMNS]

    groups = stats.projects_by_source()
    for source, names in groups:
        for name in names:
            table.add_row(inert(name), inert(source), *row(stats.projects[name]))
        if len(groups) > 1 and source in stats.sources:
            table.add_row("subtotal", inert(source), *row(stats.sources[source]), style="italic")
        table.add_section()
    table.add_row("overall", "", *row(stats.overall), style="bold")
    return table


def comparison_table(stats: ImpactStats, comparison: Comparison) -> Table:
    """This period / previous period / change, for the numbers of the impact sentence."""
    title = f"This period / previous period ({comparison.period.describe()}) / change"
    table = Table(title=title, title_justify="left")
    table.add_column("", no_wrap=True)
    for header in ("This period", "Previous period", "Change"):
        table.add_column(header, justify="right", no_wrap=True)
    for label, current, previous, change in comparison_rows(stats, comparison):
        table.add_row(label, _cell(current), _cell(previous), change)
    return table


def award_table(columns: tuple[AwardColumn, ...]) -> Table:
    """One column per award year and one since the award start (``--award-start``/``--years``)."""
    table = Table(title="Award years", title_justify="left")
    table.add_column("", no_wrap=True)
    for column in columns:
        table.add_column(f"{column.label}\n{column.period.describe()}", justify="right", no_wrap=True)
    for label, values in award_rows(columns):
        table.add_row(label, *[_cell(value) for value in values])
    return table


def community_lines(stats: ImpactStats, period: Period) -> list[str]:
    """The community numbers in words: first responses, new and returning contributors, absence factor."""
    first, new = community_sentences(stats, period)
    overall = stats.overall
    lines = [first, new]
    if overall.returning_contributors:
        people = (
            "1 person"
            if overall.returning_contributors == 1
            else f"{overall.returning_contributors:,} people"
        )
        lines.append(f"{people} who had contributed before came back.")
    if overall.absence_factor is not None:
        factor = overall.absence_factor.characters
        lines.append(
            f"Absence factor: {factor:,} contributor{'s' if factor != 1 else ''} wrote half of all comment "
            "and note characters."
        )
    return lines


def previous_period(since: str | None, until: str | None) -> Period | None:
    """The period given by ``--previous-since``/``--previous-until`` (both needed), else None."""
    if since is None and until is None:
        return None
    if not since or not until:
        raise click.UsageError("--previous-since and --previous-until go together")
    return Period(parse_day(since, "--previous-since"), parse_day(until, "--previous-until"))


HISTORY_COLUMNS = (
    ("snapshots", "Snapshots"),
    ("revisions", "Revisions"),
    ("edited_posts", "Edited posts"),
    ("inserted_characters", "Inserted"),
    ("deleted_characters", "Deleted"),
    ("written_characters", "Written"),
    ("rerenders", "Re-renders"),
    ("deleted_posts", "Deleted posts"),
)


def history_table(past: dict[str, Any]) -> Table:
    """``--history``: per project and overall, what the snapshot series says happened."""
    table = Table(title="History (every snapshot)", title_justify="left")
    table.add_column("Project", no_wrap=True)
    for _, header in HISTORY_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for name, level in past["projects"].items():
        table.add_row(inert(name), *[_cell(level[key]) for key, _ in HISTORY_COLUMNS])
    table.add_section()
    table.add_row("overall", *[_cell(past["overall"][key]) for key, _ in HISTORY_COLUMNS], style="bold")
    return table


@click.command(name="summary")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@selection_options
@click.option(
    "--thresholds",
    default=",".join(map(str, settings.THRESHOLDS)),
    show_default=True,
    help=f"Count contributors with {settings.THRESHOLD_RULE} this many characters (comma-separated).",
)
@click.option(
    "--words-per-publication", type=float, default=settings.WORDS_PER_PUBLICATION, show_default=True
)
@click.option("--include-bots", is_flag=True, help="Count bot accounts (GitHub) as contributors.")
@click.option("--all-snapshots", is_flag=True, help="Read every snapshot, not only the newest per project.")
@click.option(
    "--compare-previous",
    is_flag=True,
    help="Also the period of equal length just before (needs --since and --until), with the change in %.",
)
@click.option(
    "--previous-since",
    help="First day of the period to compare with (default: the same span of the calendar just before).",
)
@click.option("--previous-until", help="Last day of the period to compare with (with --previous-since).")
@click.option(
    "--as-of",
    help="Count the data as it stood at the end of this day (YYYY-MM-DD): later snapshots are ignored.",
)
@click.option("--award-start", help="First day of the award (YYYY-MM-DD): one column per award year.")
@click.option("--years", type=int, help="Award years to show from --award-start (default 1).")
@click.option(
    "--history",
    "with_history",
    is_flag=True,
    help="Also revisions, re-renders and deletions read from every snapshot (a cached history).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of the sentence and table."
)
def command(
    paths: tuple[Path, ...],
    projects: tuple[str, ...],
    team: tuple[str, ...],
    team_file: Path | None,
    since: str | None,
    until: str | None,
    text_basis: str,
    thresholds: str,
    words_per_publication: float,
    include_bots: bool,
    all_snapshots: bool,
    compare_previous: bool,
    previous_since: str | None,
    previous_until: str | None,
    as_of: str | None,
    award_start: str | None,
    years: int | None,
    with_history: bool,
    as_json: bool,
) -> None:
    """Print the impact sentence and per-project statistics of exports at PATHS.

    PATHS are export files (.json or .json.gz), folders of them (one per project) or a data/exports
    snapshot tree (the newest snapshot of each project is read).
    """
    request = Request(
        paths=paths,
        **selection(projects, team, team_file, since, until, text_basis),
        all_snapshots=all_snapshots,
        include_bots=include_bots,
        thresholds=parse_thresholds(thresholds),
        words_per_publication=words_per_publication,
        compare_previous=compare_previous or bool(previous_since or previous_until),
        previous_period=previous_period(previous_since, previous_until),
        as_of=parse_day(as_of, "--as-of"),
        award_start=parse_day(award_start, "--award-start"),
        years=years,
    )
    if years is not None and request.award_start is None:
        raise click.UsageError("--years needs --award-start")
    result = run(request, read_history=with_history)
    stats = result.stats
    errors = err_console()
    for warning in stats.warnings:
        warn(errors, warning)
    for note in result.notes:
        notice(errors, note)
    if request.identities:
        notice(errors, request.identities.describe())
    elif line := hint(result.dataset.posts, request.identities):
        notice(errors, line)
    past = history(request, lambda line: notice(errors, line), result.store) if with_history else None
    if as_json:
        payload = stats.to_json()
        if result.comparison is not None:
            payload |= result.comparison.to_json()
        if result.awards:
            payload["award_years"] = [column.to_json() for column in result.awards]
        payload["notes"] = list(result.notes)
        if past is not None:
            payload["overall"]["history"] = past["overall"]
            for name, level in payload["projects"].items():
                level["history"] = past["projects"].get(name)
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    notice(errors, describe_team(stats.team, request.identities, (result.full or result.dataset).posts))
    console = out_console()
    console.print(stats.sentence(period=request.period), soft_wrap=True)
    console.print(stats.publications_sentence(words_per_publication))
    for line in community_lines(stats, request.period):
        console.print(line, soft_wrap=True)
    console.print(stats_table(stats))
    if result.comparison is not None:
        console.print(comparison_table(stats, result.comparison))
    if result.awards:
        console.print(award_table(result.awards))
        for column in result.awards:
            for line in column.notes:
                notice(errors, f"{column.label}: {line}")
    if past is not None:
        console.print(history_table(past))
