"""Placeholder for the `figures` command (being built)."""

from __future__ import annotations

import click


@click.command(name="figures")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("the figures command is not built yet")
