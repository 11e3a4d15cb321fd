"""Text metrics of a frame of posts on either text basis: characters, words and cited DOIs per post.

- **html basis** (default): see :mod:`impactreport.metrics.count`, measured by the pool
  (:mod:`impactreport.metrics.pool`) once per distinct body.
- **markdown basis**: *characters* = length of ``body_md`` exactly as stored (CRLF counts as two);
  *words* by the same token rule.
- **cited DOIs**: from citation links (``a.citation``: a ``/doi/<doi>`` or ``doi.org/<doi>`` href, or a
  ``data-key`` that is a DOI, :func:`impactreport.metrics.html.citation_doi`) and markdown citations
  ``[@10.…]``; lowercased.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from impactreport.metrics.count import WORD_PATTERN
from impactreport.metrics.pool import HtmlMetricsPool, html_metrics

if TYPE_CHECKING:  # imported where used: the worker processes import the package without polars
    import polars as pl

TEXT_BASES = ("html", "markdown")
#: A markdown citation bracket ``[@key]`` or ``[@key1; @key2]``; an item is a DOI when it is ``@10.x/y``.
_MD_CITATION = r"\[@[^\]]*\]"
_MD_DOI_ITEM = r"^@10\.\d+/[^\s;\]]+$"


def text_metrics(
    bodies: pl.DataFrame,
    *,
    text_basis: str = "html",
    pool: HtmlMetricsPool | None = None,
    with_limits: bool = False,
) -> pl.DataFrame:
    """``characters``, ``words`` and ``dois`` for a frame with ``body_html`` and ``body_md`` columns.

    Returns a frame of the same height with those three columns, in row order. ``pool`` holds the html
    metrics of the bodies when they were computed ahead (the loader adds each file's bodies as it reads).
    ``with_limits`` adds ``html_limited``: the HTML was too deeply nested to measure exactly at bounded
    cost (see the module docstring), so the caller can warn naming the post (:func:`limited_warning`).
    """
    import polars as pl

    if text_basis not in TEXT_BASES:
        raise ValueError(f"text basis must be one of {', '.join(TEXT_BASES)}, not {text_basis!r}")
    frame = pl.concat(
        [
            html_metrics(bodies["body_html"], pool=pool),
            bodies.select(pl.col("body_md").fill_null("")),
        ],
        how="horizontal",
    )
    if text_basis == "markdown":
        frame = frame.with_columns(
            pl.col("body_md").str.len_chars().cast(pl.Int64).alias("characters"),
            pl.col("body_md").str.count_matches(WORD_PATTERN).cast(pl.Int64).alias("words"),
        )
    md_dois = (
        pl.col("body_md")
        .str.extract_all(_MD_CITATION)
        .list.eval(pl.element().str.strip_chars("[]"))
        .list.join(";")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars())
        .list.filter(pl.element().str.contains(_MD_DOI_ITEM))
        .list.eval(pl.element().str.slice(1).str.to_lowercase())
    )
    return frame.select(
        "characters",
        "words",
        pl.concat_list(pl.col("html_dois"), md_dois).list.unique().list.sort().alias("dois"),
        *(["html_limited"] if with_limits else []),
    )


def doi_registrant(doi: str) -> str:
    """Registrant of a DOI: the prefix after ``10.`` (``10.1016/j.x`` → ``1016``)."""
    return doi.split("/", 1)[0].removeprefix("10.")
