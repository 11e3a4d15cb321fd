"""Text from data made safe to print: every control or direction-changing character shown visibly.

Why a bottom module: names, titles and paths come from strangers' exports and from the file system, and
both the CLI's consoles (:mod:`impactreport.cli.console`, which re-exports :func:`safe_text`) and the
fetchers' messages need the one rule; here neither has to import the other (``fetch`` never imports
``cli``). Raw ESC, OSC or right-to-left override characters would otherwise reach the terminal.
"""

from __future__ import annotations

import re

# C0/C1 controls (but tab and newline), DEL, bidirectional overrides/isolates and other invisible
# format characters that can reorder or hide what a terminal shows.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff]"
)
#: What else breaks a one-line field (a table cell, a name in a message): line feed and tab.
_BREAKS = re.compile("[\t\n]")


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC → ^[, BEL → ^G, NUL → ^@
    return f"<U+{code:04X}>"


def safe_text(value: object) -> str:
    """``value`` as a string with every control or direction-changing character made visible."""
    text = str(value)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_visible, text)


def one_line(value: object) -> str:
    """:func:`safe_text` for a field that must stay on one line (a table cell, a name in a log line): a
    line feed is shown as ``^J`` too, so a project named ``a\\nb`` cannot print a fake table row."""
    text = safe_text(value)
    if _BREAKS.search(text) is None:
        return text
    return _BREAKS.sub(_visible, text)


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds a character :func:`safe_text` would make visible (a writer that cannot
    show it so, a YAML file, escapes it instead)."""
    return _UNSAFE.search(text) is not None
