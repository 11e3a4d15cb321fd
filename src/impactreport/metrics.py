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
word character, so it separates nodes exactly as a space would). Counting is a few C-level string
operations per text (:func:`text_characters`, :func:`count_words`; polars counts the rare text with a
character Python's Unicode database does not know). Large inputs are split across worker processes
that import neither polars nor the rest of the package.

Why hostile HTML stays cheap: the HTML standard's tree builder does work per tag that grows with the
open elements (scope checks walk the stack of open elements; every text re-opens the active formatting
elements), so one parse of n nested tags costs O(n²) time, and O(n²) nodes when the formatting elements
differ (100,000 nested ``<div>`` took 40-60 s; 3,000 ``<p><b id=k>x</p>`` took 5.5 s and 1.6 GB). A body
with more than :data:`PIECE_TAGS` tags is therefore cut, by one linear scan (:func:`html_pieces`), into
pieces of about that many tags, each parsed on its own after re-opening the elements open at its cut.
Text nodes never span a cut (it falls before a tag that makes an element), so for well-formed HTML the
pieces give exactly the text of one parse (tested on every real body with tiny pieces). Only when a cut
has to drop context (more than :data:`MAX_CONTEXT` open elements) or falls where no safe cut exists is
the result possibly approximate; the body is then flagged (``html_limited``) so the caller can name it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from selectolax.lexbor import LexborHTMLParser

if TYPE_CHECKING:  # imported where used: the worker processes measure HTML without polars
    import polars as pl

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
#: A body with more tags (counted as "<") is parsed in pieces of about this many tags (module docstring).
PIECE_TAGS = 256
#: Bodies with at most this many tags are parsed whole: lexbor's worst case at this size (distinct
#: formatting elements re-opened by every paragraph) is about 0.05 s, and all but one real body fit, so the
#: linear scan's cost (2–4 µs per tag in Python) is paid only by bodies that could be slow to parse.
WHOLE_PARSE_TAGS = 2048
#: A piece with no safe cut is cut anyway at this many tags (and flagged ``html_limited``).
MAX_PIECE_TAGS = 4 * PIECE_TAGS
#: Open elements re-opened at the head of a piece; a deeper body loses the outer ones (and is flagged).
MAX_CONTEXT = 128
#: How far down the open elements an end tag looks for its element (real bodies nest under 20 deep).
MAX_SCOPE_WALK = 64
#: Bodies per chunk sent to a worker: small enough to start early and balance, large enough to amortise IPC.
CHUNK_POSTS = 8_000
#: About this many bytes of HTML per chunk (a chunk ends after the body that crosses it).
CHUNK_BYTES = 1_000_000

#: Tags whose content is removed before the text is read (one scan instead of four).
_SCRIPT_OR_STYLE = re.compile("<(?:script|style|SCRIPT|STYLE)")
_DOI_IN_HREF = re.compile(r"(?:^/doi/|doi\.org/)(10\.[^?#\s]+)", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d+/\S+$")
#: A markdown citation bracket ``[@key]`` or ``[@key1; @key2]``; an item is a DOI when it is ``@10.x/y``.
_MD_CITATION = r"\[@[^\]]*\]"
_MD_DOI_ITEM = r"^@10\.\d+/[^\s;\]]+$"


class HtmlText(NamedTuple):
    """What one HTML body shows: its text nodes (NUL-separated), cited DOIs, and whether it was bounded."""

    text: str
    dois: list[str]
    #: Parsed in pieces with context dropped (too deeply nested, or no safe cut): may be approximate.
    limited: bool


def html_text(html: str) -> tuple[str, list[str]]:
    """Visible text of one HTML fragment (text nodes separated by NUL) and the DOIs its citations link.

    Script and style elements are removed before the text is read.
    """
    text, dois, _ = visible_text(html)
    return text, dois


def visible_text(html: str) -> HtmlText:
    """:func:`html_text` with bounded cost: a body of many tags is parsed in pieces (module docstring)."""
    if len(html) <= WHOLE_PARSE_TAGS or html.count("<") <= WHOLE_PARSE_TAGS:  # (no more tags than characters)
        return HtmlText(*_parse(html), False)
    cut = html_pieces(html)
    texts: list[str] = []
    dois: list[str] = []
    for piece, glued in zip(cut.pieces, cut.glued, strict=True):
        text, found = _parse(piece)
        if text:  # an empty piece holds no text node: no separator for it
            if texts and not glued:
                texts.append(NODE_SEPARATOR)
            texts.append(text)
        dois.extend(found)
    return HtmlText("".join(texts), dois, cut.limited)


def _parse(html: str) -> tuple[str, list[str]]:
    """One parse: visible text (NUL between nodes) and cited DOIs of an HTML fragment."""
    if not html:
        return "", []
    tree = LexborHTMLParser(html)
    if _SCRIPT_OR_STYLE.search(html) is not None:
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


# --- cutting a body of many tags into pieces ------------------------------------------------------------

#: The next thing that may be markup: a start or end tag, a comment, or a bogus comment (``<!x>``,
#: ``<?x>``, ``</ x>``); any other ``<`` is text.
_MARKUP = re.compile(r"<(?:(/?)([A-Za-z][^\s/>]*)|!--|[!?/])")
#: The rest of a tag after its name, to its closing ``>``: quotes open a value only after ``=``, so a
#: ``>`` inside a quoted value does not end the tag. Possessive: linear even on an unterminated quote.
_TAG_REST = re.compile(r"""(?:[^>="']++|["']|=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>]*+))*+>""")
_COMMENT_END = re.compile(r"--!?>")
#: Elements whose content is text up to their end tag (lexbor runs with scripting off: not noscript).
_RAW_TEXT_END = {
    name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE)
    for name in ("script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title")
}
_VOID = frozenset(
    [
        "area",
        "base",
        "basefont",
        "bgsound",
        "br",
        "col",
        "embed",
        "frame",
        "hr",
        "image",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
#: A start tag of these closes an open element of the same name that is the current node (``<li>a<li>b``).
_SIBLING_CLOSES = frozenset(["p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "rb", "rt", "rp"])
#: Start tags the tree builder ignores in a body (no element: the text around them would merge), and
#: table parts with the parent each needs to make an element.
_NEVER_CUT = frozenset(["html", "head", "body", "frameset", "frame"])
_TABLE_PARENTS = {
    "tr": frozenset({"table", "tbody", "thead", "tfoot"}),
    "td": frozenset({"tr"}),
    "th": frozenset({"tr"}),
    "tbody": frozenset({"table"}),
    "thead": frozenset({"table"}),
    "tfoot": frozenset({"table"}),
    "caption": frozenset({"table"}),
    "colgroup": frozenset({"table"}),
    "col": frozenset({"table", "colgroup"}),
}


#: Elements that end the search for an open element when an end tag closes it (the standard's scopes).
_DEFAULT_SCOPE = frozenset(
    ["applet", "caption", "html", "table", "td", "th", "marquee", "object", "template"]
)
_TABLE_SCOPE = frozenset(["html", "table", "template"])
_SCOPES = {
    "li": _DEFAULT_SCOPE | {"ol", "ul"},
    "p": _DEFAULT_SCOPE | {"button"},
    **dict.fromkeys(["table", "tbody", "thead", "tfoot", "tr", "td", "th", "caption"], _TABLE_SCOPE),
}
#: Start tags that leave the tree builder in the head when a body starts with them (``<style>…``).
_HEAD_TAGS = frozenset(
    {"html", "head", "base", "basefont", "bgsound", "link", "meta", "title", "noscript", "noframes"}
    | {"style", "script", "template"}
)
_HTML_SPACE = " \t\n\r\f"
#: Start tags that still make an element inside a ``select`` (the tree builder ignores the others).
_IN_SELECT = frozenset(
    ["option", "optgroup", "select", "input", "keygen", "textarea", "script", "template", "hr"]
)


def _safe_cut(name: str, stack: list[str], counts: dict[str, int]) -> bool:
    """Whether a cut before this start tag keeps every text node whole (the tag makes an element)."""
    if name in _NEVER_CUT or counts.get("select"):
        return False
    parents = _TABLE_PARENTS.get(name)
    return parents is None or (bool(stack) and stack[-1] in parents)


def _ignored(name: str, closing: bool, matched: bool, counts: dict[str, int]) -> bool:
    """Whether the tree builder probably ignores this tag, so the text on both sides is one node."""
    if closing:
        return not matched and name not in ("p", "br")  # a stray </p> makes an empty p, </br> a br
    if counts.get("select"):
        return name not in _IN_SELECT
    return name in _NEVER_CUT or (name in _TABLE_PARENTS and not counts.get("table"))


class Pieces(NamedTuple):
    """A body cut for bounded parsing (:func:`html_pieces`)."""

    pieces: list[str]
    #: Per piece: its first text continues the previous piece's last text node (cut at an ignored tag).
    glued: list[bool]
    #: Context was dropped or a cut fell where no safe cut was: the text may differ from one parse.
    limited: bool


def html_pieces(html: str) -> Pieces:
    """Cut ``html`` before tags into pieces of about :data:`PIECE_TAGS` tags; and whether it is inexact.

    One left-to-right scan (linear: every step moves past what it read) keeps a model of the open
    elements: each piece after the first starts with ``<body>`` (else a leading ``<style>`` would go to
    the head and split the text after it) and re-opens them (bare start tags, so a citation link is not
    counted twice), which gives its text the context it has in the whole body. The model follows
    end tags to their open element and ignores stray ones; it need not match the tree builder exactly,
    because a cut only needs the elements that change how text is parsed (pre, table, template, svg, ...).
    A cut falls only before a start tag that makes an element in that context, so no text node is split,
    or before an end tag that closes an element the piece did not re-open (unwinding deep nesting).
    When no safe cut comes within :data:`MAX_PIECE_TAGS` tags, the cut falls before the next tag anyway;
    if the model says the tree builder ignores that tag, the two pieces' texts are glued (one text node).
    ``limited`` is set when a cut dropped context (more than :data:`MAX_CONTEXT` open elements) or was
    forced.
    """
    pieces: list[str] = []
    glued: list[bool] = [False]
    stack: list[str] = []
    counts: dict[str, int] = {}
    context = ""  # the start tags re-opened at the head of the current piece
    floor = 0  # open elements (from the bottom of the model) that the current piece did not re-open
    piece_start = 0
    tags = 0  # tags in the current piece
    limited = False
    in_body = False  # the tree builder has left the head: a later piece's <body> changes nothing
    position = 0
    while (markup := _MARKUP.search(html, position)) is not None:
        at = markup.start()
        if not in_body and html[position:at].strip(_HTML_SPACE):
            in_body = True  # text that is not whitespace starts the body
        name = markup.group(2)
        if name is None:  # a comment or a bogus comment: skip it whole (unterminated: to the end)
            if markup.group(0) == "<!--":
                end = _COMMENT_END.search(html, at + 2)
                position = end.end() if end else len(html)
            else:
                close = html.find(">", markup.end())
                position = close + 1 if close >= 0 else len(html)
            continue
        rest = _TAG_REST.match(html, markup.end())
        if rest is None:  # an unterminated tag runs to the end: no text after it
            break
        position = rest.end()
        name = name.lower()
        closing = bool(markup.group(1))
        tags += 1
        in_body = in_body or (not closing and name not in _HEAD_TAGS)
        closes = -1  # a matched end tag: the index of the open element it closes in the model
        if closing and counts.get(name) and name not in ("body", "html"):  # those two never close
            # The tree builder's scope check: look down the stack for the element, stopping at a
            # boundary (then the end tag is stray). A match pops what was walked; a walk that stops
            # is capped, so a long run of stray end tags stays linear.
            boundaries = _SCOPES.get(name, _DEFAULT_SCOPE)
            index = len(stack) - 1
            lowest = max(0, len(stack) - MAX_SCOPE_WALK)
            while index >= lowest and stack[index] != name and stack[index] not in boundaries:
                index -= 1
            if index >= lowest and stack[index] == name:
                closes = index
            elif index < lowest:  # too deep to tell: treated as stray
                limited = True
        below = closes >= 0 and closes < floor  # closes an element this piece did not re-open
        if below or tags > PIECE_TAGS:
            forced = tags > MAX_PIECE_TAGS
            if below or forced or (in_body and not closing and _safe_cut(name, stack, counts)):
                pieces.append(context + html[piece_start:at])
                glued.append(forced and not below and _ignored(name, closing, closes >= 0, counts))
                kept = stack[-MAX_CONTEXT:]
                context = "<body>" + "".join(f"<{open_name}>" for open_name in kept)
                floor = len(stack) - len(kept)
                limited = limited or forced or floor > 0
                piece_start, tags = at, 1
        if closing:
            if closes >= 0:
                for popped in stack[closes:]:
                    counts[popped] -= 1
                del stack[closes:]
            continue
        if name in _VOID:
            continue
        if name == "plaintext":  # everything after it is text
            break
        if name in _SIBLING_CLOSES and stack and stack[-1] == name:
            counts[name] -= 1
            stack.pop()
        stack.append(name)
        counts[name] = counts.get(name, 0) + 1
        raw = _RAW_TEXT_END.get(name)
        if raw is not None:  # its text may hold "<": continue at its end tag
            end = raw.search(html, position)
            if end is None:
                break
            position = end.start()
    pieces.append(context + html[piece_start:])
    return Pieces(pieces, glued, limited)


def citation_doi(href: str | None, data_key: str | None) -> str | None:
    """The DOI a citation link points to (lowercased), or None for a non-DOI citation."""
    if href:
        match = _DOI_IN_HREF.search(href)
        if match:
            return match.group(1).lower()
    if data_key and _DOI.match(data_key.strip()):
        return data_key.strip().lower()
    return None


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


class HtmlMetricsPool:
    """Html-basis metrics of bodies, computed while the loader is still reading, once per distinct body.

    ``add`` queues the bodies of each batch of files as it is read; with ``parallel`` they go at once,
    in chunks, to worker processes (:mod:`impactreport.metrics_worker`) that were started before the
    first file was read, so parsing HTML overlaps reading JSON. A worker imports neither polars nor the
    rest of the package (it starts in a few hundredths of a second) and answers with plain arrays
    (:class:`Measured`); the feeding thread turns them into a frame. Results are keyed by a 64-bit hash
    of the body: a body repeated across snapshots or projects is parsed once. ``table`` waits for every
    chunk.
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
        from impactreport.metrics_worker import read_bodies_answer, write_bodies

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
                write_bodies(worker.stdin, chunk)
                answer = read_bodies_answer(worker.stdout)
                if answer is None:
                    raise RuntimeError("text metrics worker stopped unexpectedly")
                self._results[index] = measured_frame(answer)
        except BaseException as error:  # reported by table(); the other workers finish the queue
            self._errors.append(error)
        finally:
            with contextlib.suppress(OSError):  # a killed worker (loading failed) has closed its pipe
                worker.stdin.close()
            worker.wait()

    def add(self, htmls: pl.Series) -> None:
        """Queue the bodies not seen before, in chunks of at most :data:`CHUNK_POSTS` and about
        :data:`CHUNK_BYTES` (small enough for every worker to get some early)."""
        import polars as pl

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
        # A chunk ends where the running byte count or the row count crosses a multiple of its limit.
        chunk = (pl.col("body").str.len_bytes().cum_sum() // CHUNK_BYTES) + (
            pl.int_range(pl.len()) // CHUNK_POSTS
        )
        starts = frame.select((chunk.diff().fill_null(1) != 0).arg_true()).to_series().to_list()
        for start, end in zip(starts, [*starts[1:], frame.height], strict=True):
            part = frame.slice(start, end - start)
            index = len(self._keys)
            self._keys.append(part["hash"])
            if self._threads:
                self._queue.put((index, part["body"]))
            else:
                self._results[index] = chunk_metrics(part["body"])

    def table(self) -> pl.DataFrame:
        """``hash``, ``characters``, ``words``, ``html_dois``, ``html_limited`` of every body added."""
        import polars as pl

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
    """``characters``, ``words``, ``html_dois``, ``html_limited`` of HTML bodies, in order (from ``pool``)."""

    if pool is None:
        with HtmlMetricsPool(parallel=htmls.len() >= PARALLEL_MIN_POSTS) as own:
            own.add(htmls)
            return html_metrics(htmls, pool=own)
    keys = body_hash(htmls).alias("hash").to_frame()
    return keys.join(pool.table(), on="hash", how="left", maintain_order="left").drop("hash")


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


def limited_warning(post: str) -> str:
    """The warning for a post whose HTML was measured in pieces with context dropped (``html_limited``)."""
    return (
        f"{post}: HTML nested more than {MAX_CONTEXT} elements deep (or {MAX_PIECE_TAGS} tags without a "
        "safe cut): measured in pieces at bounded cost; its characters and words may be approximate"
    )


def doi_registrant(doi: str) -> str:
    """Registrant of a DOI: the prefix after ``10.`` (``10.1016/j.x`` → ``1016``)."""
    return doi.split("/", 1)[0].removeprefix("10.")
