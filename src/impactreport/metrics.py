"""Text metrics of each post, computed once, in bulk: characters, words and cited DOIs.

Definitions (the README quotes them):

- **html basis** (default): *characters* = length of all visible text nodes of ``body_html``
  concatenated (entities decoded; ``script`` and ``style`` excluded); *words* = number of ``\\w+``
  tokens (Unicode) in the visible text nodes joined by single spaces.
- **markdown basis**: *characters* = length of ``body_md`` exactly as stored (CRLF counts as two);
  *words* by the same token rule.
- **cited DOIs**: from citation links (``a.citation``: a ``/doi/<doi>`` or ``doi.org/<doi>`` href, or a
  ``data-key`` that is a DOI) and markdown citations ``[@10.…]``; lowercased.

Why it is fast: the only per-post Python step is the C parser (selectolax/lexbor) turning HTML into its
text, with a NUL between text nodes (HTML text can never hold NUL: the parser replaces it), so one
traversal gives both numbers: characters = length minus NULs, words = ``\\w+`` matches (NUL is not a
word character, so it separates nodes exactly as a space would). Counting then runs in polars. Large
inputs are split across processes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import polars as pl
from selectolax.lexbor import LexborHTMLParser

TEXT_BASES = ("html", "markdown")
NODE_SEPARATOR = "\x00"
WORD_PATTERN = r"\w+"
#: Process-pool threshold: below it, forking costs more than it saves.
PARALLEL_MIN_POSTS = 20_000

_DOI_IN_HREF = re.compile(r"(?:^/doi/|doi\.org/)(10\.[^?#\s]+)", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d+/\S+$")
#: A markdown citation bracket ``[@key]`` or ``[@key1; @key2]``; an item is a DOI when it is ``@10.x/y``.
_MD_CITATION = r"\[@[^\]]*\]"
_MD_DOI_ITEM = r"^@10\.\d+/[^\s;\]]+$"


def html_text(html: str) -> tuple[str, list[str]]:
    """Visible text of one HTML fragment (text nodes separated by NUL) and the DOIs its citations link.

    Script and style elements are removed before the text is read.
    """
    if not html:
        return "", []
    tree = LexborHTMLParser(html)
    if "<script" in html or "<style" in html or "<SCRIPT" in html or "<STYLE" in html:
        tree.strip_tags(["script", "style"])
    root = tree.root
    text = root.text(deep=True, separator=NODE_SEPARATOR, strip=False) if root is not None else ""
    dois: list[str] = []
    if "citation" in html:
        for link in tree.css("a.citation"):
            doi = citation_doi(link.attributes.get("href"), link.attributes.get("data-key"))
            if doi:
                dois.append(doi)
    return text, dois


def citation_doi(href: str | None, data_key: str | None) -> str | None:
    """The DOI a citation link points to (lowercased), or None for a non-DOI citation."""
    if href:
        match = _DOI_IN_HREF.search(href)
        if match:
            return match.group(1).lower()
    if data_key and _DOI.match(data_key.strip()):
        return data_key.strip().lower()
    return None


def _html_texts(htmls: Sequence[str]) -> list[tuple[str, list[str]]]:
    return [html_text(html) for html in htmls]


def extract_html(htmls: Sequence[str], *, workers: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Visible texts and citation DOIs of many HTML bodies; parallel across cores for large inputs."""
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers > 1 and len(htmls) >= PARALLEL_MIN_POSTS:
        size = -(-len(htmls) // (workers * 4))
        chunks = [htmls[i : i + size] for i in range(0, len(htmls), size)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = [item for part in pool.map(_html_texts, chunks) for item in part]
    else:
        results = _html_texts(htmls)
    return [text for text, _ in results], [dois for _, dois in results]


def text_metrics(bodies: pl.DataFrame, *, text_basis: str = "html") -> pl.DataFrame:
    """``characters``, ``words`` and ``dois`` for a frame with ``body_html`` and ``body_md`` columns.

    Returns a frame of the same height with those three columns, in row order.
    """
    if text_basis not in TEXT_BASES:
        raise ValueError(f"text basis must be one of {', '.join(TEXT_BASES)}, not {text_basis!r}")
    texts, html_dois = extract_html(bodies["body_html"].fill_null("").to_list())
    frame = pl.DataFrame(
        {
            "text": pl.Series(texts, dtype=pl.String),
            "html_dois": pl.Series(html_dois, dtype=pl.List(pl.String)),
            "body_md": bodies["body_md"].fill_null(""),
        }
    )
    if text_basis == "html":
        characters = pl.col("text").str.len_chars() - pl.col("text").str.count_matches(NODE_SEPARATOR)
        words = pl.col("text").str.count_matches(WORD_PATTERN)
    else:
        characters = pl.col("body_md").str.len_chars()
        words = pl.col("body_md").str.count_matches(WORD_PATTERN)
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
        characters.cast(pl.Int64).alias("characters"),
        words.cast(pl.Int64).alias("words"),
        pl.concat_list(pl.col("html_dois"), md_dois).list.unique().list.sort().alias("dois"),
    )


def doi_registrant(doi: str) -> str:
    """Registrant of a DOI: the prefix after ``10.`` (``10.1016/j.x`` → ``1016``)."""
    return doi.split("/", 1)[0].removeprefix("10.")
