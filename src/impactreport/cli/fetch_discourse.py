"""Placeholder for `impactreport fetch discourse` (being built)."""

from __future__ import annotations

import click


@click.command(name="discourse")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("fetch discourse is not built yet")
