"""Visible text of one HTML body (text nodes and cited DOIs), at bounded cost even for hostile HTML.

The only per-post Python step of the text metrics is the C parser (selectolax/lexbor) turning HTML into
its text, with a NUL between text nodes (HTML text can never hold NUL: the parser replaces it), so one
traversal gives everything :mod:`impactreport.metrics.count` counts.

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

import re
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser

NODE_SEPARATOR = "\x00"
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
#: Attributes kept per start tag (real bodies have at most a handful); see :func:`bounded_attributes`.
MAX_TAG_ATTRIBUTES = 256
#: How far down the open elements an end tag looks for its element (real bodies nest under 20 deep).
MAX_SCOPE_WALK = 64

#: Tags whose content is removed before the text is read (one scan instead of four).
_SCRIPT_OR_STYLE = re.compile("<(?:script|style|SCRIPT|STYLE)")
_DOI_IN_HREF = re.compile(r"(?:^/doi/|doi\.org/)(10\.[^?#\s]+)", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d+/\S+$")


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
    """:func:`html_text` with bounded cost: a body of many tags is parsed in pieces (module docstring),
    a tag of very many attributes loses those past :data:`MAX_TAG_ATTRIBUTES` first."""
    trimmed = False
    if html.count("=") > MAX_TAG_ATTRIBUTES:  # (every attribute with a value has one)
        html, trimmed = bounded_attributes(html)
    if len(html) <= WHOLE_PARSE_TAGS or html.count("<") <= WHOLE_PARSE_TAGS:  # (no more tags than characters)
        return HtmlText(*_parse(html), trimmed)
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
    return HtmlText("".join(texts), dois, cut.limited or trimmed)


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


_START_TAG = re.compile(r"<[A-Za-z][^\s/>]*")
_ATTRIBUTE = re.compile(r"""[^\s/>=]++(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>]*+))?""")


def bounded_attributes(html: str) -> tuple[str, bool]:
    """``html`` with every start tag cut to its first :data:`MAX_TAG_ATTRIBUTES` attributes, and whether
    any was cut.

    Why: the tree builder checks each new attribute against the tag's others, so one tag of n
    attributes costs O(n²) (100,000: 17 s; 200,000: 87 s), and the tag limit does not see it. Attributes
    never hold visible text (the DOI of a citation is in the first few), so the cut changes no count of
    a real body; one linear scan of possessive patterns, paid only by a body with many ``=``.
    """
    out: list[str] = []
    position = 0
    trimmed = False
    for match in _START_TAG.finditer(html):
        if match.start() < position:
            continue
        rest = _TAG_REST.match(html, match.end())
        if rest is None:
            continue
        attributes = _ATTRIBUTE.findall(html, match.end(), rest.end() - 1)
        if len(attributes) > MAX_TAG_ATTRIBUTES:
            out.append(html[position : match.end()])
            out.append(" " + " ".join(attributes[:MAX_TAG_ATTRIBUTES]) + ">")
            trimmed = True
        else:
            out.append(html[position : rest.end()])
        position = rest.end()
    if not trimmed:
        return html, False
    out.append(html[position:])
    return "".join(out), True


def citation_doi(href: str | None, data_key: str | None) -> str | None:
    """The DOI a citation link points to (lowercased), or None for a non-DOI citation."""
    if href:
        match = _DOI_IN_HREF.search(href)
        if match:
            return match.group(1).lower()
    if data_key and _DOI.match(data_key.strip()):
        return data_key.strip().lower()
    return None


def limited_warning(post: str) -> str:
    """The warning for a post whose HTML was measured in pieces with context dropped (``html_limited``)."""
    return (
        f"{post}: HTML nested more than {MAX_CONTEXT} elements deep (or {MAX_PIECE_TAGS} tags without a "
        f"safe cut, or a tag of more than {MAX_TAG_ATTRIBUTES} attributes): measured at bounded cost; its "
        "characters and words may be approximate"
    )
