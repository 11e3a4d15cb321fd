"""``impactreport fetch <source>``: one subcommand per source, each in its own module."""

from __future__ import annotations

import click

from . import fetch_archive, fetch_discourse, fetch_github, fetch_thinklab


@click.group(name="fetch")
def command() -> None:
    """Fetch exports into dated snapshots under DATA/exports (never touching earlier ones)."""


for module in (fetch_thinklab, fetch_archive, fetch_github, fetch_discourse):
    command.add_command(module.command)
