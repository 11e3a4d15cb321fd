"""Placeholder for `impactreport fetch archive` (being built)."""

from __future__ import annotations

import click


@click.command(name="archive")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("fetch archive is not built yet")
