"""Labels from data (names, titles) as figures and tables show them: printable and bounded.

Why: names and titles are written by strangers. A control character in a label makes vl-convert abort
the process; a 100,000-character name made one chart 855,504 px wide and took minutes. Every label that
reaches a chart goes through :func:`printable`: control, direction-override and non-character code
points become U+FFFD, and the text is cut at ``limit`` characters with an ellipsis.
"""

from __future__ import annotations

import polars as pl

#: Longest label drawn in a chart (names, discussion titles); longer ones end in an ellipsis.
MAX_LABEL = 60
#: C0/C1 controls, DEL, bidirectional overrides/isolates, zero-width and non-character code points.
UNPRINTABLE = "[\\x00-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff\\ufffe\\uffff]"


def printable(text: pl.Expr, limit: int = MAX_LABEL) -> pl.Expr:
    """``text`` with unprintable characters replaced and cut to ``limit`` characters (``…`` at the end)."""
    clean = text.str.replace_all(UNPRINTABLE, "\ufffd")
    return pl.when(clean.str.len_chars() > limit).then(clean.str.slice(0, limit - 1) + "…").otherwise(clean)
