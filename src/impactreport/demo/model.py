"""Deterministic synthetic Thinklab exports (format C) for the README, the tests and the benchmarks.

Why synthetic: the real exports may not be shipped with the project, yet the main command must run
offline and benchmarks need a million posts. The generator imitates what matters for the statistics:
projects of very different sizes, a few people writing most of the text (an owner, a small team, a
Zipf-like tail of outsiders), activity in waves over two years, markdown bodies rendered to HTML with
DOI and non-DOI citations, notes on comments, document-review threads, and dated snapshots in which rows
are only ever added and views never decrease.

Same seed, same sizes → byte-identical files. Rows are serialised with fixed templates (keys sorted,
indent 2, raw UTF-8, no trailing newline: the layout of the real exports) and compressed once: each
snapshot's rows are a prefix of the next one's, so the rows added between two snapshots are deflated
once, as a byte-aligned block run (``Z_SYNC_FLUSH``), and appended to every later snapshot file while
all of a project's files are open. Every file is still one ordinary gzip member (mtime 0), its CRC
combined from the pieces' CRCs. Memory stays bounded: rows are formatted in batches from arrays.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import unicodedata
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

#: Usernames of the demo's team (the owner first): pass them as ``--team`` to see non-team numbers.
DEMO_TEAM: tuple[str, ...] = ("amara_okafor", "ben_kowalski", "chen_li")

_TEAM_NAMES = (("Amara", "Okafor"), ("Ben", "Kowalski"), ("Chen", "Li"))

#: (project, share of posts, has a document-review thread, start as a fraction of the timeline)
PROJECTS: tuple[tuple[str, float, bool, float], ...] = (
    ("hetnet-atlas", 0.60, True, 0.00),
    ("open-meta", 0.20, False, 0.03),
    ("microbiome-map", 0.10, True, 0.08),
    ("drug-repurposing", 0.06, True, 0.12),
    ("citizen-assays", 0.035, False, 0.18),
    ("tiny-pilot", 0.005, False, 0.24),
)

#: Fewer posts cannot give every project its minimum of three comments.
MIN_POSTS = 50
#: Every snapshot file of a project is open while its rows stream in.
MAX_SNAPSHOTS = 240
_US = 1_000_000
_DAY = 86_400 * _US
_T0 = int(datetime(2015, 1, 5, tzinfo=UTC).timestamp()) * _US
_SPAN = 730 * _DAY
_NOTE_SHARE = 0.2
_LEVEL = 1  # fastest deflate: a million posts must be written in seconds (the files get ~4x smaller)
_FIRST_NAMES = (
    "Zoë",
    "José",
    "Łukasz",
    "Søren",
    "Ngọc",
    "Maria",
    "Omar",
    "Priya",
    "Kenji",
    "Ines",
    "Tom",
    "Ada",
)
_LAST_NAMES = ("García", "Nguyen", "Müller", "Smith", "Okoye", "Rossi", "Tanaka", "Novak", "Silva", "Kim")
_SCRIPT_SUBJECT = "<script>alert(1)</script>"
_TRICKY_NAME = ("Ana & <b>Bea</b>", "Lab-Ørsted")

_encode = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C-accelerated, no \u escapes


@dataclass(frozen=True)
class ProjectSummary:
    """What was written for one project (counts of its newest snapshot)."""

    project: str
    snapshots: int
    threads: int
    comments: int
    notes: int
    profiles: int
    documents: int


@dataclass(frozen=True)
class DemoResult:
    """Files written (oldest first per project) and per-project counts."""

    directory: Path
    paths: list[Path]
    projects: list[ProjectSummary] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """A plain object for ``--json``."""
        return {
            "directory": str(self.directory),
            "files": [str(path) for path in self.paths],
            "projects": {
                p.project: {
                    "snapshots": p.snapshots,
                    "threads": p.threads,
                    "comments": p.comments,
                    "notes": p.notes,
                    "profiles": p.profiles,
                    "documents": p.documents,
                }
                for p in self.projects
            },
        }


# --------------------------------------------------------------------------------------------- text


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
_EXOTIC = (
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


def _doi_pool(rand: random.Random, size: int) -> list[str]:
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


class _Writer:
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
                word = rand.choice(_EXOTIC)
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


def _pool(
    writer: _Writer, size: int, blocks: tuple[int, int], words: tuple[int, int]
) -> list[tuple[str, str]]:
    """Bodies as JSON string literals (md, html), so rows are assembled without re-encoding."""
    out = []
    for _ in range(size):
        md, html = writer.body(writer.rand.randint(*blocks), words)
        out.append((_encode(md), _encode(html)))
    return out


def _slug(text: str) -> str:
    """Django-style slug, as in Thinklab discussion urls."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    ascii_text = re.sub(r"[^\w\s-]", "", ascii_text).strip().lower()
    return re.sub(r"[-\s]+", "-", ascii_text)


def _subject(rand: random.Random) -> str:
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
        x=rand.choice(_EXOTIC),
    )


# ------------------------------------------------------------------------------------ the data model


@dataclass(frozen=True)
class _Rows:
    """Comments or notes of one project in id order (= time order, so a snapshot is a prefix).

    ``parent``: thread position (comments) or comment index (notes); ``position``: 1-based place in
    the thread (comments) or the thread position (notes); ``body``: index into the body pool.
    """

    ids: np.ndarray
    parent: np.ndarray
    author: np.ndarray
    time: np.ndarray
    position: np.ndarray
    body: np.ndarray


@dataclass
class _Project:
    """One project's rows as arrays, sorted by id (= by time, so snapshots are prefixes)."""

    name: str
    document_id: int
    doc_published: int
    doc_views: int
    doc_body: tuple[str, str]
    thread_rows: list[str]  # serialised up to (excluding) the views value
    thread_published: np.ndarray
    thread_views: np.ndarray
    thread_ids: np.ndarray
    thread_urls: list[str]  # JSON literals without the closing quote
    review: int  # position of the document-review thread, -1 when none
    comments: _Rows
    notes: _Rows
    comment_pool: list[tuple[str, str]]
    note_pool: list[tuple[str, str]]
    retrieved: list[int] = field(default_factory=list)

    def comment_rows(self, start: int, stop: int) -> list[str]:
        """Serialised comments ``start:stop``; the first of a thread has its url, the rest ``#<n>``."""
        c = self.comments
        rows = []
        for comment_id, thread, author, when, n, body in zip(
            c.ids[start:stop].tolist(),
            c.parent[start:stop].tolist(),
            c.author[start:stop].tolist(),
            _iso(c.time[start:stop]),
            c.position[start:stop].tolist(),
            c.body[start:stop].tolist(),
            strict=True,
        ):
            url = (
                f'{self.thread_urls[thread]}#{n}"'
                if (n > 1 or thread == self.review)
                else f'{self.thread_urls[thread]}"'
            )
            md, html = self.comment_pool[body]
            rows.append(
                f'    {{\n      "body_html": {html},\n      "body_md": {md},\n'
                f'      "comment_id": {comment_id},\n      "profile_id": {author},\n'
                f'      "published": "{when}",\n'
                f'      "thread_id": {self.thread_ids[thread]},\n      "url": {url}\n    }}'
            )
        return rows

    def note_rows(self, start: int, stop: int) -> list[str]:
        """Serialised notes ``start:stop``; url = thread url + ``#note-<id>``."""
        n = self.notes
        comment_ids = self.comments.ids
        rows = []
        for note_id, comment, author, when, thread, body in zip(
            n.ids[start:stop].tolist(),
            n.parent[start:stop].tolist(),
            n.author[start:stop].tolist(),
            _iso(n.time[start:stop]),
            n.position[start:stop].tolist(),
            n.body[start:stop].tolist(),
            strict=True,
        ):
            md, html = self.note_pool[body]
            rows.append(
                f'    {{\n      "added": "{when}",\n      "body_html": {html},\n      "body_md": {md},\n'
                f'      "comment_id": {comment_ids[comment]},\n      "note_id": {note_id},\n'
                f'      "profile_id": {author},\n'
                f'      "url": {self.thread_urls[thread]}#note-{note_id}"\n    }}'
            )
        return rows


def _iso(times: np.ndarray) -> list[str]:
    """Microsecond UTC ISO strings with ``Z``, vectorised."""
    if len(times) == 0:
        return []
    text = np.datetime_as_string(times.astype("datetime64[us]"), unit="us")
    return [f"{value}Z" for value in text.tolist()]


def _wave_times(rng: np.random.Generator, size: int, centres: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Times in [0, 1): a mixture of bursts plus a quiet background."""
    weights = rng.dirichlet(np.full(len(centres), 2.0))
    which = rng.choice(len(centres), size=size, p=weights)
    raw = rng.normal(centres[which], widths[which])
    background = rng.random(size) < 0.15
    raw[background] = rng.random(int(background.sum()))
    return np.mod(raw, 1.0)


def _split(total: int, shares: Sequence[float], minimum: int) -> list[int]:
    """Integer parts of ``total`` in proportion to ``shares``, each at least ``minimum``."""
    spare = total - minimum * len(shares)
    raw = [minimum + int(spare * share) for share in shares]
    raw[0] += total - sum(raw)
    return raw


def _ids(rng: np.random.Generator, times: np.ndarray, start: int) -> np.ndarray:
    """Global ids in time order, with a few gaps (deleted rows) like a real database."""
    order = np.argsort(times, kind="stable")
    steps = 1 + (rng.random(len(times)) < 0.03)
    ids = np.empty(len(times), dtype=np.int64)
    ids[order] = start + np.cumsum(steps) - steps[0]
    return ids


def _people(
    rand: random.Random, rng: np.random.Generator, posts: int
) -> tuple[dict[int, tuple[str, str, str]], np.ndarray, np.ndarray]:
    """Global profiles (id -> username, first, last name): the team, one tricky name, outsiders.

    Returns the profiles, the team's ids (owner first) and the outsiders' ids (tricky name first).
    """
    n_outsiders = 20 + int(2 * posts**0.5)
    people: list[tuple[str, str, str]] = [
        (u, f, la) for u, (f, la) in zip(DEMO_TEAM, _TEAM_NAMES, strict=True)
    ]
    people.append(("ana_bea", *_TRICKY_NAME))
    usernames = {p[0] for p in people}
    while len(people) < len(DEMO_TEAM) + 1 + n_outsiders:
        first, last = rand.choice(_FIRST_NAMES), rand.choice(_LAST_NAMES)
        base = _slug(f"{first}{last}").replace("-", "") or "user"
        username = base if base not in usernames else f"{base}{rand.randint(2, 999)}"
        if username in usernames:
            continue
        usernames.add(username)
        people.append((username, first, last))
    profile_ids = np.sort(rng.choice(np.arange(2, 20 * len(people)), size=len(people), replace=False))
    profiles = {int(pid): person for pid, person in zip(profile_ids.tolist(), people, strict=True)}
    return profiles, profile_ids[: len(DEMO_TEAM)], profile_ids[len(DEMO_TEAM) :]


def _snapshot_times(snapshots: int) -> list[int]:
    """Retrieval times (µs): evenly spread from 30 % of the timeline to just after its end."""
    end_of_activity = _T0 + _SPAN
    last_snapshot = end_of_activity + 10 * _DAY
    first_snapshot = _T0 + int(0.3 * _SPAN)
    if snapshots == 1:
        stamps = [last_snapshot]
    else:
        stamps = [
            first_snapshot + (last_snapshot - first_snapshot) * k // (snapshots - 1) for k in range(snapshots)
        ]
    return [s - s % _DAY + (23 * 3600 + 29 * 60 + 37) * _US for s in stamps]


@dataclass
class _Draft:
    """One project's activity before global ids are assigned (arrays in generation order)."""

    name: str
    start: int
    thread_t: np.ndarray
    comment_thread: np.ndarray
    comment_t: np.ndarray
    comment_author: np.ndarray
    note_comment: np.ndarray
    note_t: np.ndarray
    note_author: np.ndarray
    review: int


def _draft(
    rng: np.random.Generator,
    index: int,
    counts: tuple[int, int],
    bursts: tuple[np.ndarray, np.ndarray],
    team_ids: np.ndarray,
    outsider_ids: np.ndarray,
) -> _Draft:
    """Times, threads and authors of one project's comments and notes."""
    name, share, has_review, start_fraction = PROJECTS[index]
    n_c, n_n = counts
    end_of_activity = _T0 + _SPAN
    start = _T0 + int(start_fraction * _SPAN)
    span = end_of_activity - start
    n_threads = max(2, min(n_c, round(n_c / (7 + np.log10(max(n_c, 10))))))
    thread_t = start + (_wave_times(rng, n_threads, *bursts) * span).astype(np.int64)
    thread_t.sort()
    # first comment opens the thread; the rest go to popular threads after a delay
    weight = rng.lognormal(0.0, 1.0, n_threads)
    rest = rng.choice(n_threads, size=n_c - n_threads, p=weight / weight.sum())
    comment_thread = np.concatenate([np.arange(n_threads), rest])
    delay = np.concatenate(
        [
            rng.integers(300_000, 5_000_000, n_threads),
            60 * _US + rng.exponential(12 * _DAY, n_c - n_threads).astype(np.int64),
        ]
    )
    comment_t = thread_t[comment_thread] + delay
    late = comment_t >= end_of_activity
    comment_t[late] = thread_t[comment_thread[late]] + (
        rng.random(int(late.sum())) * (end_of_activity - thread_t[comment_thread[late]])
    ).astype(np.int64)

    # authors: owner, team, then a Zipf tail of this project's community
    community = rng.permutation(outsider_ids)[: max(5, int(len(outsider_ids) * share**0.4))]
    if name == "open-meta":
        community = np.concatenate([[outsider_ids[0]], community[community != outsider_ids[0]]])
    zipf = 1.0 / np.arange(1, len(community) + 1) ** 1.2
    candidates = np.concatenate([team_ids, community])
    p = np.concatenate([[0.40, 0.12, 0.06], 0.42 * zipf / zipf.sum()])
    comment_author = candidates[rng.choice(len(candidates), size=n_c, p=p)]
    note_comment = rng.integers(0, n_c, n_n)
    note_t = comment_t[note_comment] + 30 * _US + rng.exponential(3 * _DAY, n_n).astype(np.int64)
    note_t = np.minimum(note_t, np.maximum(end_of_activity, comment_t[note_comment] + 1))
    note_author = candidates[rng.choice(len(candidates), size=n_n, p=p)]
    review = int(rng.integers(1, n_threads)) if has_review and n_threads > 2 else -1
    return _Draft(
        name,
        start,
        thread_t,
        comment_thread,
        comment_t,
        comment_author,
        note_comment,
        note_t,
        note_author,
        review,
    )


def _generate(
    posts: int, seed: int, snapshots: int
) -> tuple[list[_Project], dict[int, tuple[str, str, str]]]:
    """Every project's rows: comment and note arrays, serialised thread rows, retrieval times."""
    rng = np.random.default_rng(seed)
    rand = random.Random(seed)
    profiles, team_ids, outsider_ids = _people(rand, rng, posts)

    dois = _doi_pool(rand, 60 + posts // 40)
    writer = _Writer(rand, dois, list(DEMO_TEAM) + [profiles[int(i)][0] for i in outsider_ids[1:7]])
    pool_size = max(50, min(4000, posts))
    comment_pool = _pool(writer, pool_size, (1, 3), (5, 14))
    note_pool = _pool(writer, max(20, pool_size // 3), (1, 1), (4, 12))
    doc_bodies = [writer.body(rand.randint(6, 10), (8, 18)) for _ in PROJECTS]

    n_notes = round(posts * _NOTE_SHARE)
    shares = [share for _, share, _, _ in PROJECTS]
    comment_counts = _split(posts - n_notes, shares, 3)
    note_counts = _split(n_notes, shares, 0)
    bursts = ((np.arange(8) + rng.random(8)) / 8, rng.uniform(0.01, 0.05, 8))  # about one a quarter
    stamps = _snapshot_times(snapshots)
    drafts = [
        _draft(rng, index, (comment_counts[index], note_counts[index]), bursts, team_ids, outsider_ids)
        for index in range(len(PROJECTS))
    ]

    # global ids in time order across projects
    thread_ids = _ids(rng, np.concatenate([d.thread_t for d in drafts]), 2)
    comment_ids = _ids(rng, np.concatenate([d.comment_t for d in drafts]), 3)
    note_ids = _ids(rng, np.concatenate([d.note_t for d in drafts]), 12)
    t_off = c_off = n_off = 0
    projects: list[_Project] = []
    for index, draft in enumerate(drafts):
        name, start, review = draft.name, draft.start, draft.review
        thread_t, comment_thread, comment_t = draft.thread_t, draft.comment_thread, draft.comment_t
        comment_author, note_comment = draft.comment_author, draft.note_comment
        note_t, note_author = draft.note_t, draft.note_author
        tid = thread_ids[t_off : t_off + len(thread_t)]
        cid = comment_ids[c_off : c_off + len(comment_t)]
        nid = note_ids[n_off : n_off + len(note_t)]
        t_off, c_off, n_off = t_off + len(thread_t), c_off + len(comment_t), n_off + len(note_t)
        document_id = index + 1

        # the tricky name writes the second comment of open-meta; the script subject is its 2nd thread
        if name == "open-meta":
            comment_author[np.argsort(comment_t, kind="stable")[1]] = outsider_ids[0]

        # threads: opener = first comment's author (review threads have none)
        urls = []
        subjects = []
        for position in range(len(thread_t)):
            if position == review:
                subjects.append("")
                urls.append(f"/doc/{document_id}/review")
                continue
            subject = _SCRIPT_SUBJECT if (name == "open-meta" and position == 1) else _subject(rand)
            subjects.append(subject)
            urls.append(f"/discussion/{_slug(subject) or 'discussion'}/{tid[position]}")
        opener = comment_author[: len(thread_t)]
        thread_comments = np.bincount(comment_thread, minlength=len(thread_t))
        thread_views = (
            thread_comments * rng.lognormal(2.2, 0.6, len(thread_t)) + rng.integers(5, 40, len(thread_t))
        ).astype(np.int64)
        doi_field_roll = rng.random(len(thread_t))
        topics = ["", "", "Bioinformatics", "Open Science,Reproducibility", "Databases,Licensing", "Networks"]
        thread_rows = []
        published = _iso(thread_t)
        for position in range(len(thread_t)):
            is_review = position == review
            roll = doi_field_roll[position]
            doi_field = None if is_review or roll < 0.5 else ("" if roll < 0.85 else rand.choice(dois))
            thread_rows.append(
                f'    {{\n      "document_id": {document_id if is_review else "null"},\n'
                f'      "doi": "10.15363/thinklab.d{tid[position]}",\n'
                f'      "doi_field": {"null" if doi_field is None else _encode(doi_field)},\n'
                f'      "profile_id": {"null" if is_review else opener[position]},\n'
                f'      "published": "{published[position]}",\n'
                f'      "subject": {_encode(subjects[position])},\n'
                f'      "thread_id": {tid[position]},\n'
                f'      "topic_field": {_encode("" if is_review else rand.choice(topics))},\n'
                f'      "url": {_encode(urls[position])},\n      "views": '
            )

        # comments, in id order; url position n counts within the thread
        order = np.argsort(cid, kind="stable")
        cid, comment_thread, comment_t, comment_author = (
            cid[order],
            comment_thread[order],
            comment_t[order],
            comment_author[order],
        )
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        note_comment = inverse[note_comment]
        by_thread = np.lexsort((cid, comment_thread))
        first = np.r_[True, comment_thread[by_thread][1:] != comment_thread[by_thread][:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(by_thread)), 0))
        position = np.empty(len(cid), dtype=np.int64)
        position[by_thread] = np.arange(len(by_thread)) - group_start + 1
        order = np.argsort(nid, kind="stable")
        nid, note_comment, note_t, note_author = (
            nid[order],
            note_comment[order],
            note_t[order],
            note_author[order],
        )
        comments = _Rows(
            ids=cid,
            parent=comment_thread,
            author=comment_author,
            time=comment_t,
            position=position,
            body=rng.integers(0, len(comment_pool), len(cid)),
        )
        notes = _Rows(
            ids=nid,
            parent=note_comment,
            author=note_author,
            time=note_t,
            position=comment_thread[note_comment],
            body=rng.integers(0, len(note_pool), len(nid)),
        )

        doc_published = start - int(rng.integers(1, 20)) * _DAY - int(rng.integers(0, _DAY))
        projects.append(
            _Project(
                name=name,
                document_id=document_id,
                doc_published=doc_published,
                doc_views=int(50 + thread_comments.sum() * rng.uniform(0.5, 2.0)),
                doc_body=doc_bodies[index],
                thread_rows=thread_rows,
                thread_published=thread_t,
                thread_views=thread_views,
                thread_ids=tid,
                thread_urls=[_encode(url)[:-1] for url in urls],
                review=review,
                comments=comments,
                notes=notes,
                comment_pool=comment_pool,
                note_pool=note_pool,
                retrieved=[s + index * 1_600_000 + int(rng.integers(0, 999_999)) for s in stamps],
            )
        )
    return projects, profiles


def _row(row: dict[str, object]) -> str:
    """One row as it sits in an export: indented by 4, keys sorted (small tables only)."""
    text = json.dumps(row, indent=2, sort_keys=True, ensure_ascii=False)
    return "    " + text.replace("\n", "\n    ")


def _grown(published: np.ndarray, views: np.ndarray, at: int, last: int) -> np.ndarray:
    """Views at time ``at``: a fixed share of the final views, growing with time (never decreasing)."""
    fraction = np.clip((at - published) / np.maximum(last - published, 1), 0.0, 1.0) ** 0.6
    return np.floor(views * fraction).astype(np.int64)


# ------------------------------------------------------------------------------------- gzip pieces


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


def _zero_operators() -> list[list[int]]:
    """Operators appending 2**j zero bytes to a CRC-32 state, j = 0..47 (built once)."""
    one_bit = [0xEDB88320] + [1 << n for n in range(31)]
    operator = _gf2_square(_gf2_square(_gf2_square(one_bit)))  # 8 zero bits = 1 byte
    operators = [operator]
    for _ in range(47):
        operator = _gf2_square(operator)
        operators.append(operator)
    return operators


_ZEROS: list[list[int]] = []


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B), as zlib's crc32_combine (GF(2) matrices)."""
    if not _ZEROS:
        _ZEROS.extend(_zero_operators())
    bit = 0
    while len2 > 0:
        if len2 & 1:
            crc1 = _gf2_times(_ZEROS[bit], crc1)
        len2 >>= 1
        bit += 1
    return crc1 ^ crc2


@dataclass(frozen=True)
class _Piece:
    """Raw deflate blocks ending byte-aligned (no final block), with the CRC and length of their input."""

    data: bytes
    crc: int
    size: int


#: zlib releases the GIL: one worker deflates batch n while the main thread formats batch n + 1.
_DEFLATER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-deflate")


def _deflate(chunks: Iterable[str]) -> _Piece:
    """Compress text chunks in order (the same calls in the same order: deterministic output)."""
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 9)
    out: list[bytes] = []
    pending: deque[Future[bytes]] = deque()
    crc = size = 0
    for chunk in chunks:
        raw = chunk.encode("utf-8")
        crc = zlib.crc32(raw, crc)
        size += len(raw)
        if len(raw) < 65536:
            while pending:
                out.append(pending.popleft().result())
            out.append(compressor.compress(raw))
            continue
        pending.append(_DEFLATER.submit(compressor.compress, raw))
        while len(pending) > 2:
            out.append(pending.popleft().result())
    while pending:
        out.append(pending.popleft().result())
    out.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return _Piece(b"".join(out), crc, size)


def _batched(rows: Callable[[int, int], list[str]], start: int, stop: int, lead: str) -> Iterable[str]:
    """Rows ``start:stop`` joined by ``,\\n``, made in batches so memory stays bounded."""
    step = 5_000
    for begin in range(start, stop, step):
        end = min(stop, begin + step)
        text = ",\n".join(rows(begin, end))
        yield (lead if begin == start else ",\n") + text


class _GzipFile:
    """One gzip member (mtime 0, no name) assembled from byte-aligned deflate pieces.

    Written to a hidden temporary file next to the target and renamed into place on ``close``, so a
    reader never sees half a snapshot.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f".{path.name}.tmp")
        self.handle = open(self.temporary, "wb")  # noqa: SIM115  (closed in close/abort)
        self.handle.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        self.crc = 0
        self.size = 0

    def write(self, piece: _Piece) -> None:
        self.handle.write(piece.data)
        self.crc = _crc32_combine(self.crc, piece.crc, piece.size)
        self.size += piece.size

    def text(self, text: str) -> None:
        self.write(_deflate([text]))

    def close(self) -> None:
        self.handle.write(b"\x03\x00")  # an empty final block ends the deflate stream
        self.handle.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
        self.handle.close()
        os.replace(self.temporary, self.path)

    def abort(self) -> None:
        self.handle.close()
        self.temporary.unlink(missing_ok=True)


def _stream_table(
    files: list[_GzipFile], name: str, rows: Callable[[int, int], list[str]], counts: list[int]
) -> None:
    """Write a growing table to every snapshot at once: each new stretch of rows is deflated once.

    Snapshot k holds rows ``0:counts[k]``; the whitespace is exactly that of ``json.dumps(indent=2)``.
    """
    for file, count in zip(files, counts, strict=True):
        file.text(f'  "{name}": [\n' if count else f'  "{name}": [],\n')
    previous = 0
    for first, count in enumerate(counts):
        if count > previous:
            piece = _deflate(_batched(rows, previous, count, ",\n" if previous else ""))
            for file in files[first:]:
                file.write(piece)
        previous = count
    for file, count in zip(files, counts, strict=True):
        if count:
            file.text("\n  ],\n")


def _table(file: _GzipFile, name: str, rows: list[str], last: bool = False) -> None:
    """A small table written in one piece."""
    end = "\n" if last else ",\n"
    file.text(f'  "{name}": [\n' + ",\n".join(rows) + "\n  ]" + end if rows else f'  "{name}": []{end}')


# -------------------------------------------------------------------------------------------- API


def build_demo(
    directory: str | Path,
    *,
    posts: int = 2000,
    seed: int = 7,
    snapshots: int = 6,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Write the demo store under ``directory`` and say what is in it.

    Layout: ``directory/exports/thinklab/<project>/<retrieved as YYYY-MM-DDTHHMMSSZ>.json.gz``.
    """
    if posts < MIN_POSTS:
        raise ValueError(f"posts must be at least {MIN_POSTS}")
    if not 1 <= snapshots <= MAX_SNAPSHOTS:
        raise ValueError(f"snapshots must be between 1 and {MAX_SNAPSHOTS}")
    root = Path(directory)
    projects, people = _generate(posts, seed, snapshots)
    paths: list[Path] = []
    summaries: list[ProjectSummary] = []
    for project in projects:
        folder = root / "exports" / "thinklab" / project.name
        folder.mkdir(parents=True, exist_ok=True)
        last = project.retrieved[-1]
        n_comments = [int(np.searchsorted(project.comments.time, r, side="right")) for r in project.retrieved]
        n_notes = [int(np.searchsorted(project.notes.time, r, side="right")) for r in project.retrieved]
        stamps = [_iso(np.array([r]))[0] for r in project.retrieved]
        files = [_GzipFile(folder / f"{t[:13]}{t[14:16]}{t[17:19]}Z.json.gz") for t in stamps]
        try:
            for file in files:
                file.text("{\n")
            _stream_table(files, "comments", project.comment_rows, n_comments)
            md, html = project.doc_body
            for file, retrieved in zip(files, project.retrieved, strict=True):
                published = np.array([project.doc_published])
                document = {
                    "body_html": html,
                    "body_md": md,
                    "doc_published": _iso(published)[0],
                    "document_id": project.document_id,
                    "doi": f"10.15363/thinklab.a{project.document_id}",
                    "intro_html": "",
                    "intro_md": "",
                    "title": "",
                    "topic_field": "",
                    "url": f"/p/{project.name}",
                    "views": int(_grown(published, np.array([project.doc_views]), retrieved, last)[0]),
                }
                _table(file, "documents", [_row(document)])
            _stream_table(files, "notes", project.note_rows, n_notes)
            for k, (file, retrieved) in enumerate(zip(files, project.retrieved, strict=True)):
                authors = np.unique(
                    np.concatenate(
                        [project.comments.author[: n_comments[k]], project.notes.author[: n_notes[k]]]
                    )
                )
                profiles = []
                for pid in authors.tolist():
                    username, first, last_name = people[pid]
                    person = {
                        "first_name": first,
                        "last_name": last_name,
                        "profile_id": pid,
                        "url": f"/u/{username}",
                        "username": username,
                    }
                    profiles.append(_row(person))
                _table(file, "profiles", profiles)
                file.text(f'  "retrieved": "{stamps[k]}",\n')
                n_threads = int(np.searchsorted(project.thread_published, retrieved, side="right"))
                views = _grown(
                    project.thread_published[:n_threads], project.thread_views[:n_threads], retrieved, last
                )
                threads = [
                    f"{row}{v}\n    }}" for row, v in zip(project.thread_rows, views.tolist(), strict=False)
                ]
                _table(file, "threads", threads, last=True)
                file.text("}")
        except BaseException:
            for file in files:
                file.abort()
            raise
        for file in files:
            file.close()
            paths.append(file.path)
        if progress is not None:
            progress(project.name)
        summaries.append(
            ProjectSummary(
                project=project.name,
                snapshots=len(project.retrieved),
                threads=len(project.thread_rows),
                comments=n_comments[-1],
                notes=n_notes[-1],
                profiles=len(authors),
                documents=1,
            )
        )
    return DemoResult(directory=root, paths=paths, projects=summaries)


def write_demo(directory: str | Path, *, posts: int = 2000, seed: int = 7, snapshots: int = 6) -> list[Path]:
    """Write the deterministic demo export set; return the files written (oldest first per project)."""
    return build_demo(directory, posts=posts, seed=seed, snapshots=snapshots).paths
