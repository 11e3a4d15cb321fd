"""The options that choose what is counted, shared by ``summary`` and ``figures`` (declared once).

``--project``, ``--team``, ``--team-file``, ``--identities``, ``--cache-dir``, ``--since``, ``--until``
and ``--text-basis`` mean the same in both commands; :func:`selection` turns them into the
:class:`impactreport.pipeline.Request` fields. ``--identities`` is not passed to the command function:
its callback keeps the value in the click context, where :func:`selection` reads it, so a command gains
it without a new parameter. ``--cache-dir`` is not passed either: its callback sets
``IMPACTREPORT_CACHE_DIR`` for the command's duration (see :func:`_use_cache_dir`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from impactreport import settings
from impactreport.identities import DEFAULT_PATH, resolve_identities
from impactreport.people import Team
from impactreport.settings import Period, parse_day

F = TypeVar("F", bound=Callable[..., Any])
_IDENTITIES = "impactreport.identities"


def _keep_identities(context: click.Context, _: click.Parameter, value: Path | None) -> None:
    context.meta[_IDENTITIES] = value


def _use_cache_dir(context: click.Context, _: click.Parameter, value: Path | None) -> None:
    """``--cache-dir DIR``: where this command's caches go, as ``IMPACTREPORT_CACHE_DIR`` (absolute).

    Why the environment rather than a parameter: it is the one setting the cache module reads, and
    whatever this command starts (the report's Quarto run) inherits it. The previous value is restored
    when the command ends, so an in-process caller (tests, a notebook) is left as it was.
    """
    if value is None:
        return
    from impactreport.cache_home import CACHE_HOME_ENV  # imported only when the option is given

    previous = os.environ.get(CACHE_HOME_ENV)
    os.environ[CACHE_HOME_ENV] = os.path.abspath(value)

    def restore() -> None:
        if previous is None:
            os.environ.pop(CACHE_HOME_ENV, None)
        else:
            os.environ[CACHE_HOME_ENV] = previous

    context.call_on_close(restore)


_OPTIONS = (
    click.option("--project", "projects", multiple=True, help="Only this project (repeatable)."),
    click.option(
        "--team",
        multiple=True,
        help="A team member: username (every source) or source:username (repeatable).",
    ),
    click.option("--team-file", type=click.Path(path_type=Path), help="File with one team member per line."),
    click.option(
        "--identities",
        type=click.Path(path_type=Path),
        expose_value=False,
        callback=_keep_identities,
        help=f"YAML file of people across sources (default: {DEFAULT_PATH} when present).",
    ),
    click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_use_cache_dir,
        help="Folder for the history cache [default: $IMPACTREPORT_CACHE_DIR, else "
        "$XDG_CACHE_HOME/impactreport, i.e. ~/.cache/impactreport]; never inside the data read.",
    ),
    click.option("--since", help="First day counted (YYYY-MM-DD, UTC)."),
    click.option("--until", help="Last day counted (YYYY-MM-DD, UTC, inclusive)."),
    click.option(
        "--text-basis",
        type=click.Choice(settings.TEXT_BASES),
        default=settings.TEXT_BASIS,
        show_default=True,
    ),
)


def selection_options(command: F) -> F:
    """Add the selection options to a click command (in the order of ``--help``)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def selection(
    projects: tuple[str, ...],
    team: tuple[str, ...],
    team_file: Path | None,
    since: str | None,
    until: str | None,
    text_basis: str,
) -> dict[str, Any]:
    """The Request fields the selection options describe (the team and identities files read, the days
    checked)."""
    context = click.get_current_context(silent=True)
    given = context.meta.get(_IDENTITIES) if context is not None else None
    return {
        "projects": projects,
        "team": Team.of(team, team_file),
        "identities": resolve_identities(given, Path.cwd()),
        "period": Period(parse_day(since, "--since"), parse_day(until, "--until")),
        "text_basis": text_basis,
    }
