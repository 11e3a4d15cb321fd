"""Text metrics of each post, computed once, in bulk: characters, words and cited DOIs.

One room per step: :mod:`.html` (an HTML body's visible text and cited DOIs, at bounded cost),
:mod:`.count` (characters and words of that text, the per-post step without polars), :mod:`.pool`
(worker processes measuring bodies while the loader reads) and :mod:`.posts` (a frame of posts on
either text basis). The names callers use are re-exported here. Importing this package does not
import polars: the worker processes (``python -m impactreport.metrics``) import it too.
"""

from __future__ import annotations

from impactreport.metrics.count import (
    LAYOUT_BREAK,
    LAYOUT_WHITESPACE_NODE,
    WORD_PATTERN,
    Measured,
    chunk_metrics,
    count_words,
    measure_bodies,
    measured_frame,
    text_characters,
    word_character,
)
from impactreport.metrics.html import (
    MAX_CONTEXT,
    MAX_PIECE_TAGS,
    MAX_SCOPE_WALK,
    NODE_SEPARATOR,
    PIECE_TAGS,
    WHOLE_PARSE_TAGS,
    HtmlText,
    Pieces,
    citation_doi,
    html_pieces,
    html_text,
    limited_warning,
    visible_text,
)
from impactreport.metrics.pool import (
    CHUNK_BYTES,
    CHUNK_POSTS,
    PARALLEL_MIN_POSTS,
    HtmlMetricsPool,
    body_hash,
    html_metrics,
)
from impactreport.metrics.posts import TEXT_BASES, doi_registrant, text_metrics

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_POSTS",
    "LAYOUT_BREAK",
    "LAYOUT_WHITESPACE_NODE",
    "MAX_CONTEXT",
    "MAX_PIECE_TAGS",
    "MAX_SCOPE_WALK",
    "NODE_SEPARATOR",
    "PARALLEL_MIN_POSTS",
    "PIECE_TAGS",
    "TEXT_BASES",
    "WHOLE_PARSE_TAGS",
    "WORD_PATTERN",
    "HtmlMetricsPool",
    "HtmlText",
    "Measured",
    "Pieces",
    "body_hash",
    "chunk_metrics",
    "citation_doi",
    "count_words",
    "doi_registrant",
    "html_metrics",
    "html_pieces",
    "html_text",
    "limited_warning",
    "measure_bodies",
    "measured_frame",
    "text_characters",
    "text_metrics",
    "visible_text",
    "word_character",
]
