"""Consoles for every command: text from data is shown inert, and logs get whole tables.

Why: names, titles and paths come from strangers' exports and from the file system. Printed with rich
markup on, ``[bold]`` in a project name is obeyed and ``a[/b]`` in a path crashes; raw ESC, OSC or
right-to-left override characters would reach the terminal. Every command prints through these helpers,
and anything that came from data goes through :func:`inert` (tables) or :func:`warn` (messages); the
rule itself is :func:`impactreport.text_safety.safe_text` (re-exported here).

When output is not a terminal (cron logs, pipes) tables are printed at a fixed generous width so no
column is cut to ``Ve…``.
"""

from __future__ import annotations

import unicodedata

from rich.console import Console
from rich.text import Text

from impactreport.text_safety import one_line, safe_text

__all__ = [
    "LOG_WIDTH",
    "err_console",
    "inert",
    "is_printable_name",
    "notice",
    "out_console",
    "safe_text",
    "warn",
]

#: Width used when stdout/stderr is not a terminal: wide enough for every table the CLI prints.
LOG_WIDTH = 240


def inert(value: object, style: str = "") -> Text:
    """A rich ``Text`` for a table cell or message part: no markup, no control characters, one line."""
    return Text(one_line(value), style=style)


def _width(stderr: bool) -> int | None:
    probe = Console(stderr=stderr)
    return None if probe.is_terminal else LOG_WIDTH


def out_console() -> Console:
    """Console for results (stdout); markup and highlighting off."""
    return Console(width=_width(False), markup=False, highlight=False, emoji=False)


def err_console() -> Console:
    """Console for progress and warnings (stderr); markup and highlighting off."""
    return Console(stderr=True, width=_width(True), markup=False, highlight=False, emoji=False)


def warn(console: Console, message: str) -> None:
    """``warning: <message>`` with the label in yellow and the message printed as plain, inert text on
    one line (a name holding a line feed cannot forge a second message)."""
    console.print(Text.assemble(("warning: ", "yellow"), one_line(message)), soft_wrap=True)


def notice(console: Console, message: str) -> None:
    """A plain one-line notice (``note: …``), inert."""
    console.print(Text.assemble(("note: ", "cyan"), one_line(message)), soft_wrap=True)


def is_printable_name(text: str) -> bool:
    """True when ``text`` holds no control, surrogate or non-character code point."""
    return all(unicodedata.category(char) not in {"Cc", "Cs", "Cn"} or char in "\t\n" for char in text)
