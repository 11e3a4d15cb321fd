"""Random but plausible discussion text: markdown bodies with their HTML, subjects, DOIs, slugs.

Why its own module: the statistics depend on what the text holds (words, characters, entities,
non-ASCII letters, line breaks, DOI and non-DOI citations), not on which rows carry it, so the prose
generator knows nothing of projects, snapshots or files. Markdown and HTML are built side by side so
the two always cite the same things in the same order. Every draw comes from the ``random.Random``
it is given: same seed, same text.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence

_WORDS = [
    "gene",
    "disease",
    "network",
    "edge",
    "node",
    "compound",
    "pathway",
    "tissue",
    "expression",
    "model",
    "data",
    "set",
    "analysis",
    "result",
    "method",
    "feature",
    "prior",
    "permutation",
    "metric",
    "degree",
    "path",
    "hetnet",
    "drug",
    "target",
    "side",
    "effect",
    "indication",
    "protein",
    "interaction",
    "ontology",
    "annotation",
    "database",
    "resource",
    "license",
    "source",
    "version",
    "release",
    "table",
    "figure",
    "code",
    "pipeline",
    "notebook",
    "review",
    "comment",
    "question",
    "answer",
    "idea",
    "proposal",
    "evidence",
    "study",
    "trial",
    "cohort",
    "sample",
    "signal",
    "noise",
    "bias",
    "score",
    "threshold",
    "rank",
    "benchmark",
    "validation",
    "prediction",
    "probability",
    "literature",
    "citation",
    "journal",
    "preprint",
    "author",
    "editor",
    "community",
    "project",
    "team",
    "funding",
    "grant",
    "open",
    "science",
    "reproducible",
    "workflow",
    "repository",
]
EXOTIC = (
    "naïve",
    "Zürich",
    "café",
    "β-catenin",
    "≥ 0.8",
    "✓",
    "🧬",
    "Ångström",
    "señal",
    "東京",
    "jalapeño",
)
_VERBS = [
    "integrate",
    "compute",
    "compare",
    "evaluate",
    "extract",
    "curate",
    "map",
    "normalise",
    "rank",
    "filter",
    "merge",
]
_DOI_PATTERNS = (
    ("10.1038", "nrg{a}"),
    ("10.1093", "nar/gk{a}"),
    ("10.1371", "journal.pcbi.{b}"),
    ("10.1186", "{c}-217X-{d}-{e}"),
    ("10.1126", "science.aaa{a}"),
    ("10.1101", "{b}"),
    ("10.7554", "eLife.{a}"),
    ("10.15363", "thinklab.d{e}"),
    ("10.1136", "amiajnl-2012-{b}"),
    ("10.1016", "j.cell.2015.{a}"),
    ("10.5281", "zenodo.{b}"),
    ("10.1145", "{a}.{e}"),
)
_CITE_KEYS = ("smith2015", "Rossi_2014", "WHOreport", "leeChen", "MediPrev")


_REGISTRANT_WEIGHTS = [1 / (rank + 1) for rank in range(len(_DOI_PATTERNS))]


def doi_pool(rand: random.Random, size: int) -> list[str]:
    """DOIs of several registrants (some with upper case letters), most popular first."""
    pool: list[str] = []
    seen: set[str] = set()
    while len(pool) < size:
        prefix, pattern = rand.choices(_DOI_PATTERNS, weights=_REGISTRANT_WEIGHTS)[0]
        suffix = pattern.format(
            a=rand.randint(1000, 9999),
            b=rand.randint(1000000, 9999999),
            c=rand.randint(2040, 2050),
            d=rand.randint(1, 9),
            e=rand.randint(1, 300),
        )
        doi = f"{prefix}/{suffix}"
        if doi not in seen:
            seen.add(doi)
            pool.append(doi)
    return pool


def _escape(text: str) -> str:
    """HTML text escaping as Thinklab did it for comments: only ``& < >``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Prose:
    """Random markdown with its HTML rendering, built side by side so the two stay consistent."""

    def __init__(self, rand: random.Random, dois: list[str], usernames: Sequence[str]) -> None:
        self.rand = rand
        self.dois = dois
        self.usernames = usernames

    def _doi(self) -> str:
        return self.dois[int(len(self.dois) * self.rand.random() ** 2.5)]

    def inline(self, words: int, cites: list[str]) -> tuple[str, str]:
        """One sentence: words, plus now and then a link, code, citation, entity or mention."""
        rand = self.rand
        md: list[str] = []
        html: list[str] = []
        for position in range(words):
            roll = rand.random()
            if roll < 0.04 and position:
                doi = self._doi()
                if doi not in cites:
                    cites.append(doi)
                md.append(f"[@{doi}]")
                html.append(
                    f'<span class="citation">[<a href="https://doi.org/{doi}" class="citation" '
                    f'data-key="{doi}">{cites.index(doi) + 1}</a>]</span>'
                )
            elif roll < 0.05 and position:
                key = rand.choice(_CITE_KEYS)
                if key not in cites:
                    cites.append(key)
                md.append(f"[@{key}]")
                html.append(
                    f'<span class="citation">[<a href="https://example.org/refs/{key.lower()}" '
                    f'class="citation" data-key="{key}">{cites.index(key) + 1}</a>]</span>'
                )
            elif roll < 0.07:
                text = f"{rand.choice(_WORDS)} {rand.choice(_WORDS)}"
                url = f"https://example.org/{rand.choice(_WORDS)}/{rand.randint(1, 999)}"
                md.append(f"[{text}]({url})")
                html.append(f'<a href="{url}">{text}</a>')
            elif roll < 0.09:
                code = rand.choice(("hetnet.py", "p<0.05", "x && y", "load_data()", "n_edges"))
                md.append(f"`{code}`")
                html.append(f"<code>{_escape(code)}</code>")
            elif roll < 0.10:
                text = rand.choice(("R&D", "p < 0.05", "A -> B", "Q&A", "genes & drugs"))
                md.append(text)
                html.append(_escape(text))
            elif roll < 0.11:
                user = rand.choice(self.usernames)
                md.append(f"@{user}")
                html.append(f'<a href="/u/{user}" class="username">@{user}</a>')
            elif roll < 0.13:
                word = rand.choice(EXOTIC)
                md.append(word)
                html.append(_escape(word))
            elif roll < 0.15:
                word = rand.choice(_WORDS)
                md.append(f"*{word}*")
                html.append(f"<em>{word}</em>")
            else:
                word = rand.choice(_WORDS)
                md.append(word)
                html.append(word)
        md[0] = md[0][:1].upper() + md[0][1:]
        html[0] = html[0][:1].upper() + html[0][1:]
        end = rand.choice(".....?!")
        return " ".join(md) + end, " ".join(html) + end

    def body(self, blocks: int, sentence_words: tuple[int, int]) -> tuple[str, str]:
        """A markdown body of some blocks (paragraphs, lists, headings, quotes) and its HTML."""
        rand = self.rand
        newline = "\n" if rand.random() < 0.05 else "\r\n"
        cites: list[str] = []
        md_blocks: list[str] = []
        html_blocks: list[str] = []

        def sentences(count: int) -> tuple[str, str]:
            parts = [self.inline(rand.randint(*sentence_words), cites) for _ in range(count)]
            return " ".join(m for m, _ in parts), " ".join(h for _, h in parts)

        for index in range(blocks):
            roll = rand.random()
            if roll < 0.12 and blocks > 1 and index < blocks - 1:
                title = f"{rand.choice(_VERBS).title()} the {rand.choice(_WORDS)} {rand.choice(_WORDS)}"
                md_blocks.append(f"## {title}")
                html_blocks.append(f"<h2>{_escape(title)}</h2>")
            elif roll < 0.30:
                ordered = rand.random() < 0.4
                items = [self.inline(rand.randint(3, 9), cites) for _ in range(rand.randint(2, 4))]
                marks = [f"{n}." if ordered else "-" for n in range(1, len(items) + 1)]
                md_blocks.append(
                    newline.join(f"{mark} {m}" for mark, (m, _) in zip(marks, items, strict=True))
                )
                tag = "ol" if ordered else "ul"
                html_blocks.append(f"<{tag}>" + "".join(f"<li>{h}</li>" for _, h in items) + f"</{tag}>")
            elif roll < 0.36:
                m, h = sentences(1)
                md_blocks.append(f"> {m}")
                html_blocks.append(f"<blockquote><p>{h}</p></blockquote>")
            else:
                m, h = sentences(rand.randint(1, 3))
                md_blocks.append(m)
                html_blocks.append(f"<p>{h}</p>")
        separator = newline * 2
        return separator.join(md_blocks), separator.join(html_blocks)


def body_pool(
    prose: Prose, size: int, blocks: tuple[int, int], words: tuple[int, int]
) -> list[tuple[str, str]]:
    """``size`` bodies (markdown, html) that rows pick from: a million rows need not be a million texts."""
    return [prose.body(prose.rand.randint(*blocks), words) for _ in range(size)]


def slug(text: str) -> str:
    """Django-style slug, as in Thinklab discussion urls."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    ascii_text = re.sub(r"[^\w\s-]", "", ascii_text).strip().lower()
    return re.sub(r"[-\s]+", "-", ascii_text)


def subject_line(rand: random.Random) -> str:
    templates = (
        "How should we {v} {a} {b} data?",
        "{A} {b} resources",
        "Which {a} {b} should we use?",
        "Proposal: {v} {a} & {b} sources",
        "{A} of {b} for the {c} network",
        "Unifying {a} vocabularies — {x}",
        "Computing {a} {b} {c}",
    )
    return rand.choice(templates).format(
        v=rand.choice(_VERBS),
        a=rand.choice(_WORDS),
        A=rand.choice(_WORDS).title(),
        b=rand.choice(_WORDS),
        c=rand.choice(_WORDS),
        x=rand.choice(EXOTIC),
    )
