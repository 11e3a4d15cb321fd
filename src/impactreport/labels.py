"""Labels from data (names, titles) as figures and tables show them: printable and bounded.

Why: names and titles are written by strangers. A control character in a label makes vl-convert abort
the process; a 100,000-character name made one chart 855,504 px wide and took minutes; an emoji where
Vega cut a long label in half (inside a UTF-16 surrogate pair) failed the figure. Every label that
reaches a chart goes through :func:`printable`, once: control, direction-override and non-character code
points become U+FFFD, and a label wider than ``limit`` columns (wide characters and emoji count two) is cut
at a grapheme boundary (never inside an emoji sequence or before a combining mark) and ends in ``…``.
Charts then draw labels whole (no ``labelLimit`` truncation by Vega), so Vega never cuts one itself.
"""

from __future__ import annotations

import unicodedata

import polars as pl

#: Widest label drawn in a chart (names, discussion titles), in columns; longer ones end in an ellipsis.
MAX_LABEL = 60
#: C0/C1 controls, DEL, bidirectional overrides/isolates, zero-width and non-character code points.
UNPRINTABLE = (
    "[\\x00-\\x1f\\x7f-\\x9f\\u200b\\u200c\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff\\ufffe\\uffff]"
)
ZWJ = "\u200d"
#: Continuing code points kept per grapheme (the longest emoji ZWJ sequences use 6; stacked diacritics
#: rarely more than 3).
MAX_CONTINUING = 16


def _width(char: str) -> int:
    """Columns a character takes: 0 for marks and joiners, 2 for wide characters and emoji, else 1."""
    if _continues(char):
        return 0
    if unicodedata.east_asian_width(char) in "WF" or ord(char) >= 0x1F000:
        return 2
    return 1


def _continues(char: str) -> bool:
    """True for a code point that belongs to the grapheme before it (mark, joiner, selector, modifier)."""
    code = ord(char)
    return (
        unicodedata.category(char).startswith("M")
        or char == ZWJ
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _bounded_marks(text: str) -> str:
    """``text`` with each grapheme kept to :data:`MAX_CONTINUING` continuing code points (marks, joiners,
    selectors): one letter with 200,000 combining marks is one column wide but took ``figures`` 299 s
    to lay out; no script or emoji sequence needs more."""
    out: list[str] = []
    run = 0
    for char in text:
        if _continues(char):
            run += 1
            if run > MAX_CONTINUING:
                continue
        else:
            run = 0
        out.append(char)
    return "".join(out)


def cut(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` if it fits ``limit`` columns, else its longest whole-grapheme prefix that fits, plus ``…``;
    a text of more than ``4 × limit`` code points first loses the continuing code points past
    :data:`MAX_CONTINUING` in any grapheme, so a label is bounded in code points as in columns."""
    if len(text) > 4 * limit:
        text = _bounded_marks(text)
    if sum(_width(char) for char in text) <= limit:
        return text
    used = 0
    end = 0
    for index, char in enumerate(text):
        used += _width(char)
        if used > limit - 1:
            break
        end = index + 1
    # back off to a grapheme boundary: not before a continuing code point, not after a joiner
    while end > 0 and (_continues(text[end]) or text[end - 1] == ZWJ):
        end -= 1
    while end > 0 and 0x1F1E6 <= ord(text[end - 1]) <= 0x1F1FF and text[:end].count(text[end - 1]) % 2:
        end -= 1  # half a flag (regional indicator pair)
    return text[:end] + "…"


def _cut_long(values: pl.Series, limit: int) -> pl.Series:
    """Cut only the labels that may be too wide (a few distinct values), in Python, once each."""
    long = values.drop_nulls().filter(values.drop_nulls().str.len_chars() > limit // 2).unique()
    if long.is_empty():
        return values
    return values.replace({text: cut(text, limit) for text in long.to_list()})


def printable(text: pl.Expr, limit: int = MAX_LABEL) -> pl.Expr:
    """``text`` with unprintable characters replaced and cut to ``limit`` columns at a grapheme boundary."""
    clean = text.str.replace_all(UNPRINTABLE, "\ufffd")
    return clean.map_batches(lambda values: _cut_long(values, limit), return_dtype=pl.String)


def counted(value: object, singular: str, plural: str | None = None) -> str:
    """A count with its noun as prose writes it: ``1 comment``, ``0 comments``, ``1,163 comments``, ``an
    unknown number of comments`` (None). Only exactly one is singular (``1.0``, ``0`` and ``True`` are
    not). ``plural`` defaults to ``singular + "s"``. The one rule for every sentence, note and report."""
    many = plural if plural is not None else f"{singular}s"
    if value is None:
        return f"an unknown number of {many}"
    one = isinstance(value, int) and not isinstance(value, bool) and value == 1
    shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    return f"{shown} {singular if one else many}"


#: From this many hours on, a time to first response is written in days.
DAYS_FROM_HOURS = 48.0


def duration(hours: float) -> str:
    """``3.2 hours`` below 48 hours, ``3.7 days`` from 48 hours on (one decimal, thousands separators):
    how a time to first response is written in the sentence and in its figure, one rule for both."""
    return f"{hours:,.1f} hours" if hours < DAYS_FROM_HOURS else f"{hours / 24:,.1f} days"
