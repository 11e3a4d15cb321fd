"""Placeholder for `impactreport fetch github` (being built)."""

from __future__ import annotations

import click


@click.command(name="github")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("fetch github is not built yet")
