"""A mail body → the words its sender wrote: quoted lines, their attribution and the signature removed.

Why: a reply on a mailing list carries the message it answers (``> …`` lines, introduced by "On …, X
wrote:") and often a signature after a ``-- `` line. Counted as they are, every reply would repeat its
parent's words and the impact numbers would grow with the depth of each thread. Pure functions, text
in and text out; docs/sources.md ("Mailing lists") states the rules.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: mboxrd / mboxo escaping of a body line that began with "From ": ``>From `` (``>>From `` …).
_ESCAPED_FROM = re.compile(r"^>(>*From )", re.MULTILINE)
#: The line that introduces a quote: "On Mon, 1 Jan 2024, Alice wrote:", "Alice wrote:", "Alice writes:",
#: "Quoting Alice:", German "Am … schrieb Alice:", French "Le … a écrit :", Spanish "El … escribió:".
_ATTRIBUTION = re.compile(
    r"(?:\b(?:wrote|writes|said|schrieb|escribió|scrisse|schreef|skrev|napisał)\s*:"
    r"|\ba\s+écrit\s*:|^am\s.*\bschrieb\b.*:|^quoting\b.*:)\s*$",
    re.IGNORECASE,
)
#: The first line of a two-line attribution ("On Mon, 1 Jan 2024 at 10:00, Alice <a@b>" / "wrote:").
_ATTRIBUTION_START = re.compile(r"^(?:on|am|le|el|il|op|den|w dniu)\s", re.IGNORECASE)
#: Outlook's and some webmails' quoted original, which carries no ``>``: everything from it is quoted.
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine)\s*-{2,}\s*$", re.I
)
_BLANKS = re.compile(r"\n{3,}")


def unescape_from(text: str) -> str:
    """Undo the mbox escaping of body lines that began with ``From ``: one ``>`` before ``>*From ``
    is removed (mboxrd's rule; for mboxo files, which escape only ``From ``, it is the same)."""
    return _ESCAPED_FROM.sub(r"\1", text) if ">" in text else text


def _is_quote(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _is_signature(line: str) -> bool:
    """The signature delimiter: ``-- `` (RFC 3676), also ``--`` once a client trimmed its space."""
    return line in ("-- ", "--")


def _drop_attributions(lines: list[str], quote_at: int) -> None:
    """Remove the attribution line(s) just above a quote block starting at ``quote_at`` (blank lines
    between them are skipped): "… wrote:" and, when it is wrapped, the "On …" line before it."""
    at = quote_at - 1
    while at >= 0 and not lines[at].strip():
        at -= 1
    if at < 0 or not _ATTRIBUTION.search(lines[at].strip()):
        return
    end = at
    if (
        at > 0
        and _ATTRIBUTION_START.match(lines[at - 1].strip())
        and not _ATTRIBUTION_START.match(lines[at].strip())
    ):
        at -= 1  # "On Mon, 1 Jan 2024 at 10:00, Alice <alice@example.org>" / "wrote:"
    del lines[at : end + 1]


def own_text(body: str) -> str:
    """The sender's own words of a plain-text body (see the module docstring).

    Rules, in order: line ends to ``\\n``; mbox ``>From `` escaping undone; everything from the first
    signature line (``-- ``) or an "-----Original Message-----" line dropped; every quoted line (first
    non-space character ``>``) dropped with the attribution line(s) just above its block; blank runs
    collapsed to one empty line; leading and trailing blank lines and trailing spaces removed.
    """
    text = unescape_from(body.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if _is_signature(line) or _ORIGINAL.match(line):
            del lines[index:]
            break
    kept: list[str] = []
    in_quote = False
    for line in lines:
        if _is_quote(line):
            if not in_quote:
                _drop_attributions(kept, len(kept))
            in_quote = True
            continue
        in_quote = False
        kept.append(line.rstrip())
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip("\n")


class _TextOf(HTMLParser):
    """Collects an HTML part's text: block elements end a line, ``<blockquote>`` (a quote) is skipped."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table"})
    SKIPPED = frozenset({"blockquote", "script", "style", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """The text of an HTML body (for a message that has no text/plain part), quotes left out."""
    parser = _TextOf()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(lines)
