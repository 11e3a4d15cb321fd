"""``impactreport fetch <source>``: one subcommand per source, each in its own module."""

from __future__ import annotations

import click

from .lazy import LazyGroup


@click.group(
    name="fetch",
    cls=LazyGroup,
    lazy={
        "thinklab": ".fetch_thinklab",
        "archive": ".fetch_archive",
        "github": ".fetch_github",
        "discourse": ".fetch_discourse",
        "mbox": ".fetch_mbox",
        "pipermail": ".fetch_pipermail",
        "hyperkitty": ".fetch_hyperkitty",
        "gitlab": ".fetch_gitlab",
    },
)
def command() -> None:
    """Fetch exports into dated snapshots under DATA/exports (never touching earlier ones)."""
