"""Placeholder for the `render` command (being built)."""

from __future__ import annotations

import click


@click.command(name="render")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("the render command is not built yet")
