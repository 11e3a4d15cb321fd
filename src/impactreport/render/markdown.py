"""Markdown the report prints: escaped user text, links, pipe tables, numbers.

User content (thread subjects, names) goes through :func:`escape`, which backslash-escapes every ASCII
punctuation character (all escapable in Pandoc markdown): ``<script>`` then stays text in HTML and in
Typst, and ``*``, ``@`` or ``[`` in a subject cannot become emphasis, a citation or a link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from urllib.parse import quote

_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_WHITESPACE = re.compile(r"\s+")


def escape(text: object) -> str:
    """``text`` as literal markdown on one line (``None`` → empty)."""
    if text is None:
        return ""
    return _PUNCTUATION.sub(r"\\\1", _WHITESPACE.sub(" ", str(text)).strip())


def safe_url(url: str | None) -> str | None:
    """An http(s) URL safe inside ``[..](..)``: other schemes (``javascript:``) give None."""
    if not url or not re.match(r"^https?://", url, re.IGNORECASE):
        return None
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def link(text: object, url: str | None) -> str:
    """``[escaped text](url)``, or the escaped text alone when the URL is not http(s)."""
    label = escape(text) or "(untitled)"
    target = safe_url(url)
    return f"[{label}](<{target}>)" if target else label


def number(value: object, digits: int = 0) -> str:
    """Thousands separators for counts; ``None`` (unknown) as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return escape(value)


def when(value: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC`` (dates as ``YYYY-MM-DD``)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return escape(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return escape(value)


def _visible(cell: str) -> int:
    """Rough width of a cell as shown: link targets, escapes and emphasis markers do not count."""
    text = re.sub(r"\]\(<?[^)]*>?\)", "]", cell)
    return len(re.sub(r"\\(.)|\*\*", r"\1", text))


def metadata(**fields: object) -> str:
    """A Pandoc YAML metadata block (values are markdown, escaped; ``None`` values are left out).

    Single-quoted YAML keeps the backslashes of :func:`escape` literal; quotes are doubled.
    """
    lines = [
        f"{key}: '{escape(value).replace(chr(39), chr(39) * 2)}'"
        for key, value in fields.items()
        if value is not None
    ]
    return "\n".join(["", "---", *lines, "---", ""])


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A pipe table from already-formatted cells; ``align`` is one of ``l``/``r`` per column.

    The rule under the header has as many dashes as the column's widest cell (between 3 and 40) plus 2, so
    Pandoc (and Quarto) give wide tables relative column widths that follow the content.
    """
    if not rows:
        return ""
    align = align.ljust(len(headers), "l")
    widths = [
        2 + min(40, max(3, *(_visible(str(row[i])) for row in rows), max(len(w) for w in headers[i].split())))
        for i in range(len(headers))
    ]
    rule = [
        ("-" * (w - 1) + ":") if a == "r" else (":" + "-" * (w - 1))
        for a, w in zip(align, widths, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(headers), line(rule), *(line(row) for row in rows)]) + "\n"
