"""Placeholder for the `demo` command (being built)."""

from __future__ import annotations

import click


@click.command(name="demo")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("the demo command is not built yet")
