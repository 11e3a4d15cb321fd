"""Text metrics of each post, computed once, in bulk: characters, words and cited DOIs.

Definitions (the README quotes them):

- **html basis** (default): *characters* = length of all visible text nodes of ``body_html``
  concatenated (entities decoded; ``script`` and ``style`` excluded; layout whitespace between elements,
  a whitespace-only node holding a line break, counts as one line break, as libxml2-based tools such as
  R's rvest and BeautifulSoup + lxml see it, which reproduces the published Thinklab analytics);
  *words* = number of ``\\w+`` tokens (Unicode) in the visible text nodes joined by single spaces.
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

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading

import polars as pl
from selectolax.lexbor import LexborHTMLParser

TEXT_BASES = ("html", "markdown")
NODE_SEPARATOR = "\x00"
#: A whitespace-only text node that holds a line break and is longer than one (space, tab, LF only; CR is
#: already LF), framed by node separators, and what it counts as. A node that is already one LF does not
#: match, so the second pass can reach the neighbours the first pass skipped.
LAYOUT_WHITESPACE_NODE = "\x00(?:[ \t\n]*\n[ \t\n]+|[ \t\n]+\n[ \t\n]*)\x00"
LAYOUT_BREAK = "\x00\n\x00"
WORD_PATTERN = r"\w+"
#: Below this many posts, starting worker processes costs more than it saves.
PARALLEL_MIN_POSTS = 20_000
#: Bodies per chunk sent to a worker: small enough to start early and balance, large enough to amortise IPC.
CHUNK_POSTS = 8_000

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
        # `a.citation`, matched by hand: walking the links is 3x faster than lexbor's CSS engine here.
        for link in tree.tags("a"):
            attributes = link.attributes
            if "citation" in (attributes.get("class") or "").split():
                doi = citation_doi(attributes.get("href"), attributes.get("data-key"))
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


def chunk_metrics(htmls: pl.Series) -> pl.DataFrame:
    """``characters``, ``words`` (html basis) and ``html_dois`` of one chunk of HTML bodies."""
    texts: list[str] = []
    cited_by: list[int] = []
    cited: list[str] = []
    for index, html in enumerate(htmls.to_list()):
        text, found = html_text(html or "")
        texts.append(text)
        if found:  # most posts cite nothing: build the list column from flat rows, not a list per post
            cited_by.extend([index] * len(found))
            cited.extend(found)
    series = pl.Series(texts, dtype=pl.String)
    # Layout whitespace between elements counts as one line break (see the module docstring): every
    # whitespace-only text node holding a line break becomes "\n". Two passes, because two such nodes
    # in a row share the separator between them.
    framed = NODE_SEPARATOR + series + NODE_SEPARATOR
    for _ in range(2):
        framed = framed.str.replace_all(LAYOUT_WHITESPACE_NODE, LAYOUT_BREAK)
    characters = framed.str.len_chars() - framed.str.count_matches(NODE_SEPARATOR)
    dois = (
        pl.DataFrame({"row": pl.Series(cited_by, dtype=pl.Int64), "doi": pl.Series(cited, dtype=pl.String)})
        .group_by("row")
        .agg(pl.col("doi").alias("html_dois"))
    )
    return (
        pl.DataFrame(
            {
                "row": pl.int_range(len(texts), dtype=pl.Int64, eager=True),
                "characters": characters.cast(pl.Int64),
                "words": series.str.count_matches(WORD_PATTERN).cast(pl.Int64),
            }
        )
        .join(dois, on="row", how="left", maintain_order="left")
        .with_columns(pl.col("html_dois").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .drop("row")
    )


class HtmlMetricsPool:
    """Html-basis metrics of bodies, computed while the loader is still reading, once per distinct body.

    ``add`` queues the bodies of each file as it is read; with ``parallel`` they go at once, in chunks, to
    worker processes (:mod:`impactreport.metrics_worker`) that were started before the first file was
    read, so parsing HTML overlaps reading JSON. Chunks travel as Arrow IPC (no Python object per body),
    which keeps memory bounded by the chunks in flight. Results are keyed by a 64-bit hash of the body:
    a body repeated across snapshots or projects is parsed once. ``table`` waits for every chunk.
    """

    def __init__(self, *, parallel: bool, workers: int | None = None) -> None:
        count = (workers or min(os.cpu_count() or 1, 8)) if parallel else 1
        self._queue: queue.Queue[tuple[int, pl.Series] | None] = queue.Queue()
        self._keys: list[pl.Series] = []
        self._results: dict[int, pl.DataFrame] = {}
        self._seen: set[int] = set()
        self._errors: list[BaseException] = []
        self._processes: list[subprocess.Popen] = []
        # One feeding thread per worker process; none when serial (``add`` computes in place).
        self._threads = [
            threading.Thread(target=self._serve, daemon=True) for _ in range(count if count > 1 else 0)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self) -> None:
        """Feed one worker process from the queue until the end marker (runs in a thread)."""
        from impactreport.metrics_worker import read_frame, write_frame

        worker = subprocess.Popen(
            [sys.executable, "-m", "impactreport.metrics_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._processes.append(worker)
        assert worker.stdin is not None and worker.stdout is not None
        try:
            while (item := self._queue.get()) is not None:
                index, chunk = item
                write_frame(worker.stdin, pl.DataFrame({"body_html": chunk}))
                answer = read_frame(worker.stdout)
                if answer is None:
                    raise RuntimeError("text metrics worker stopped unexpectedly")
                self._results[index] = answer
        except BaseException as error:  # reported by table(); the other workers finish the queue
            self._errors.append(error)
        finally:
            with contextlib.suppress(OSError):  # a killed worker (loading failed) has closed its pipe
                worker.stdin.close()
            worker.wait()

    def add(self, htmls: pl.Series) -> None:
        """Queue the bodies not seen before."""
        frame = pl.DataFrame({"hash": body_hash(htmls), "body": htmls.fill_null("")})
        frame = frame.unique("hash", keep="first", maintain_order=True)
        # A Python set, not `is_in` against everything seen: that would rebuild a hash table of all
        # earlier bodies for every file (quadratic over hundreds of snapshots).
        hashes = frame["hash"].to_list()
        new = [key not in self._seen for key in hashes]
        self._seen.update(hashes)
        frame = frame.filter(pl.Series(new, dtype=pl.Boolean))
        if frame.is_empty():
            return
        for start in range(0, frame.height, CHUNK_POSTS):
            chunk = frame.slice(start, CHUNK_POSTS)
            index = len(self._keys)
            self._keys.append(chunk["hash"])
            if self._threads:
                self._queue.put((index, chunk["body"]))
            else:
                self._results[index] = chunk_metrics(chunk["body"])

    def table(self) -> pl.DataFrame:
        """``hash``, ``characters``, ``words``, ``html_dois`` of every body added."""
        self.close()
        if self._errors:
            raise RuntimeError(f"text metrics failed: {self._errors[0]}") from self._errors[0]
        if len(self._results) != len(self._keys):
            raise RuntimeError("text metrics workers did not answer for every chunk")
        if not self._keys:
            return chunk_metrics(pl.Series([], dtype=pl.String)).with_columns(
                pl.Series("hash", [], dtype=pl.UInt64)
            )
        return pl.concat(
            [self._results[i].with_columns(self._keys[i].alias("hash")) for i in range(len(self._keys))]
        )

    def close(self) -> None:
        """Stop the workers (after the queued chunks are done)."""
        if any(thread.is_alive() for thread in self._threads):
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()

    def __enter__(self) -> HtmlMetricsPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            for process in self._processes:
                process.kill()
        self.close()


def body_hash(htmls: pl.Series) -> pl.Series:
    """The key of a body in :class:`HtmlMetricsPool` (same seeds everywhere in one process)."""
    return htmls.fill_null("").hash(seed=0x1B873593)


def html_metrics(htmls: pl.Series, *, pool: HtmlMetricsPool | None = None) -> pl.DataFrame:
    """``characters``, ``words`` and ``html_dois`` of HTML bodies, in order (from ``pool`` when given)."""
    if pool is None:
        with HtmlMetricsPool(parallel=htmls.len() >= PARALLEL_MIN_POSTS) as own:
            own.add(htmls)
            return html_metrics(htmls, pool=own)
    keys = body_hash(htmls).alias("hash").to_frame()
    return keys.join(pool.table(), on="hash", how="left", maintain_order="left").drop("hash")


def text_metrics(
    bodies: pl.DataFrame, *, text_basis: str = "html", pool: HtmlMetricsPool | None = None
) -> pl.DataFrame:
    """``characters``, ``words`` and ``dois`` for a frame with ``body_html`` and ``body_md`` columns.

    Returns a frame of the same height with those three columns, in row order. ``pool`` holds the html
    metrics of the bodies when they were computed ahead (the loader adds each file's bodies as it reads).
    """
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
    )


def doi_registrant(doi: str) -> str:
    """Registrant of a DOI: the prefix after ``10.`` (``10.1016/j.x`` → ``1016``)."""
    return doi.split("/", 1)[0].removeprefix("10.")
