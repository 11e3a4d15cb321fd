"""A click group that imports a subcommand's module only when that subcommand runs.

Why: ``impactreport summary`` should not pay for importing altair, the fetchers or the renderer. Each
subcommand lives in its own module exposing ``command``; the group knows only the module names.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """``commands`` maps a subcommand name to the module (relative to this package) that defines it."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self._lazy and name not in self.commands:
            module = importlib.import_module(self._lazy[name], package=__package__)
            self.add_command(module.command, name)
        return super().get_command(ctx, name)
