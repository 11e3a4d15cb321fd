"""Placeholder for `impactreport fetch thinklab` (being built)."""

from __future__ import annotations

import click


@click.command(name="thinklab")
def command() -> None:
    """Not available yet."""
    raise click.ClickException("fetch thinklab is not built yet")
