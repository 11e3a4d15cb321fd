"""Characters and words of a visible text, without polars: the per-post step of the html basis.

Definitions (the README quotes them), html basis: *characters* = length of all visible text nodes of
``body_html`` concatenated (entities decoded; ``script`` and ``style`` excluded; layout whitespace between
elements, a whitespace-only node holding a line break, counts as one line break, as libxml2-based tools
such as R's rvest and BeautifulSoup + lxml see it, which reproduces the published Thinklab analytics);
*words* = number of ``\\w+`` tokens (Unicode) in the visible text nodes joined by single spaces.

Counting is a few C-level string operations per text (:func:`text_characters`, :func:`count_words`):
NUL is not a word character, so it separates nodes exactly as a space would; polars counts the rare
text with a character Python's Unicode database does not know (:func:`measured_frame`). Nothing here
imports polars at import time: the worker processes of :mod:`impactreport.metrics.pool` run this.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from impactreport.metrics.html import NODE_SEPARATOR, visible_text

if TYPE_CHECKING:  # imported where used: the worker processes measure HTML without polars
    import polars as pl

#: A whitespace-only text node that holds a line break and is longer than one (space, tab, LF only; CR is
#: already LF), framed by node separators, and what it counts as. A node that is already one LF does not
#: match, so the second pass can reach the neighbours the first pass skipped.
LAYOUT_WHITESPACE_NODE = "\x00(?:[ \t\n]*\n[ \t\n]+|[ \t\n]+\n[ \t\n]*)\x00"
LAYOUT_BREAK = "\x00\n\x00"
WORD_PATTERN = r"\w+"

#: A whitespace-only text node holding a line break (:data:`LAYOUT_WHITESPACE_NODE`), after its leading
#: separator (the next node's separator is looked at, not taken: nodes in a row are all found).
_LAYOUT_NODE = re.compile(f"{NODE_SEPARATOR}([ \t\n]*\n[ \t\n]*)(?={NODE_SEPARATOR})")
#: Bytes mapped to ``w`` (an ASCII word character of :data:`WORD_PATTERN`: letter, digit, underscore)
#: or a space (any other ASCII byte, and any byte of a non-ASCII character not already replaced).
_WORD_BYTES = bytes(
    ord("w") if (chr(i).isascii() and chr(i).isalnum()) or chr(i) == "_" else ord(" ") for i in range(256)
)
_ASCII = bytes(range(128))
#: Unicode TR 18's ``\w`` (what polars' regular expressions mean by it) is Alphabetic, Mark, Decimal
#: Number, Connector Punctuation and Join Control (U+200C, U+200D). Alphabetic is the letters, Letter
#: Number and Other_Alphabetic, which outside those categories holds only circled and squared Latin
#: letters. Checked against polars on every code point Python's Unicode database assigns (tests).
_WORD_CATEGORIES = frozenset(["Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Mn", "Mc", "Me", "Nd", "Pc"])
_WORD_RANGES = (
    (0x200C, 0x200D),
    (0x24B6, 0x24E9),
    (0x1F130, 0x1F149),
    (0x1F150, 0x1F169),
    (0x1F170, 0x1F189),
)
_WORD_CHARACTERS: dict[str, bool | None] = {}


def word_character(char: str) -> bool | None:
    """Whether a character is a word character of :data:`WORD_PATTERN`; None when Python's Unicode
    database does not know it (assigned by a newer Unicode than Python's: polars then decides)."""
    known = _WORD_CHARACTERS.get(char)
    if known is None and char not in _WORD_CHARACTERS:
        category = unicodedata.category(char)
        point = ord(char)
        known = (
            None
            if category in ("Cn", "Cs")
            else category in _WORD_CATEGORIES or any(low <= point <= high for low, high in _WORD_RANGES)
        )
        _WORD_CHARACTERS[char] = known
    return known


def count_words(text: str) -> int | None:
    """Words (:data:`WORD_PATTERN` matches) of a text, without a regular expression; None when the text
    holds a character :func:`word_character` cannot classify.

    Each byte becomes ``w`` or a space (a table), after every non-ASCII word character (a multi-byte
    sequence, found among the text's few non-ASCII bytes) was replaced by ``w``; a word then starts
    at every ``w`` after a space.
    """
    data = text.encode("utf-8")
    if not text.isascii():
        for char in set(data.translate(None, _ASCII).decode("utf-8")):
            word = word_character(char)
            if word is None:
                return None
            if word:
                data = data.replace(char.encode("utf-8"), b"w")
    marks = data.translate(_WORD_BYTES)
    return marks.count(b" w") + (marks[:1] == b"w")


def text_characters(text: str) -> int:
    """Characters of a visible text (text nodes separated by NUL), on the html basis.

    Layout whitespace between elements counts as one line break (see the module docstring): every
    whitespace-only text node holding a line break counts one character. The same count as replacing
    each such node by a line feed (:data:`LAYOUT_WHITESPACE_NODE`, what the definitions say), without
    building the replaced text: the nodes between separators are found by one scan, the first and last
    node are looked at apart.
    """
    characters = len(text) - text.count(NODE_SEPARATOR)
    if "\n" not in text:
        return characters
    excess = sum(len(node) - 1 for node in _LAYOUT_NODE.findall(text))
    first, separated, rest = text.partition(NODE_SEPARATOR)
    ends = [first, rest.rpartition(NODE_SEPARATOR)[2]] if separated else [first]
    excess += sum(len(node) - 1 for node in ends if "\n" in node and not node.strip(" \t\n"))
    return characters - excess


class Measured(NamedTuple):
    """Html-basis metrics of a list of bodies, computed without polars (what a worker process answers).

    ``words`` is -1 for a body whose text :func:`count_words` could not count: its text is in ``texts``
    (row numbers in ``uncounted``), for polars to count (:func:`measured_frame`).
    """

    characters: list[int]
    words: list[int]
    limited: list[bool]
    #: cited DOIs, flat: ``cited[k]`` is cited by row ``cited_by[k]``
    cited_by: list[int]
    cited: list[str]
    uncounted: list[int]
    texts: list[str]


def measure_bodies(htmls: Sequence[str | None]) -> Measured:
    """Characters, words, DOIs and the bounded-cost flag of each body: the per-post step."""
    out = Measured([], [], [], [], [], [], [])
    for index, html in enumerate(htmls):
        text, found, bounded = visible_text(html or "")
        words = count_words(text)
        if words is None:
            out.uncounted.append(index)
            out.texts.append(text)
        out.characters.append(text_characters(text))
        out.words.append(-1 if words is None else words)
        out.limited.append(bounded)
        if found:  # most posts cite nothing: build the list column from flat rows, not a list per post
            out.cited_by.extend([index] * len(found))
            out.cited.extend(found)
    return out


def measured_frame(measured: Measured) -> pl.DataFrame:
    """``characters``, ``words``, ``html_dois`` and ``html_limited`` of measured bodies, in order."""
    import polars as pl

    words = pl.Series(measured.words, dtype=pl.Int64)
    if measured.uncounted:
        counted = pl.Series(measured.texts, dtype=pl.String).str.count_matches(WORD_PATTERN).cast(pl.Int64)
        words = words.scatter(measured.uncounted, counted)
    dois = (
        pl.DataFrame(
            {
                "row": pl.Series(measured.cited_by, dtype=pl.Int64),
                "doi": pl.Series(measured.cited, dtype=pl.String),
            }
        )
        .group_by("row")
        .agg(pl.col("doi").alias("html_dois"))
    )
    return (
        pl.DataFrame(
            {
                "row": pl.int_range(len(measured.characters), dtype=pl.Int64, eager=True),
                "characters": pl.Series(measured.characters, dtype=pl.Int64),
                "words": words,
                "html_limited": pl.Series(measured.limited, dtype=pl.Boolean),
            }
        )
        .join(dois, on="row", how="left", maintain_order="left")
        .with_columns(pl.col("html_dois").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .drop("row")
    )


def chunk_metrics(htmls: pl.Series) -> pl.DataFrame:
    """``characters``, ``words`` (html basis), ``html_dois`` and ``html_limited`` of a chunk of bodies."""
    return measured_frame(measure_bodies(htmls.to_list()))
