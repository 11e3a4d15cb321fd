"""The demo's data: deterministic synthetic Thinklab projects as arrays and plain rows.

Why synthetic: the real exports may not be shipped with the project, yet the main command must run
offline and benchmarks need a million posts. The generator imitates what matters for the statistics:
projects of very different sizes, a few people writing most of the text (an owner, a small team, a
Zipf-like tail of outsiders), activity in waves over two years, markdown bodies rendered to HTML with
DOI and non-DOI citations (:mod:`.text`), notes on comments, document-review threads, and dated
snapshots in which rows are only ever added and views never decrease.

This module only decides *what* is in each snapshot; :mod:`.writer` decides how it is stored. Comments
and notes are kept as arrays sorted by id (= by time), so snapshot ``k`` holds a prefix of them and
their rows are made as plain dicts in slices, never all at once. Same seed, same sizes → same data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from impactreport.demo.text import Prose, body_pool, doi_pool, slug, subject_line

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


@dataclass(frozen=True)
class Rows:
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

    def counts(self, retrieved: Sequence[int]) -> list[int]:
        """Rows in each snapshot: those dated at or before its retrieval time."""
        return [int(np.searchsorted(self.time, moment, side="right")) for moment in retrieved]


@dataclass
class Project:
    """One project: its rows as arrays (sorted by id) and the retrieval time of each snapshot."""

    name: str
    document_id: int
    doc_published: int
    doc_views: int
    doc_body: tuple[str, str]
    thread_rows: list[dict[str, object]]  # every field but ``views``
    thread_published: np.ndarray
    thread_views: np.ndarray  # in the newest snapshot
    thread_ids: np.ndarray
    thread_urls: list[str]
    review: int  # position of the document-review thread, -1 when none
    comments: Rows
    notes: Rows
    comment_pool: list[tuple[str, str]]
    note_pool: list[tuple[str, str]]
    retrieved: list[int] = field(default_factory=list)

    def stamps(self) -> list[str]:
        """Each snapshot's ``retrieved`` value (ISO 8601, microseconds, ``Z``)."""
        return _iso(np.array(self.retrieved, dtype=np.int64))

    def moments(self) -> list[datetime]:
        """Each snapshot's retrieval time (for its file name)."""
        return [datetime.fromtimestamp(r // _US, tz=UTC) for r in self.retrieved]

    def comment_rows(self, start: int, stop: int) -> list[dict[str, object]]:
        """Comments ``start:stop``; the first of a thread has its url, the rest ``#<n>``."""
        c = self.comments
        rows: list[dict[str, object]] = []
        for comment_id, thread, author, when, n, body in zip(
            c.ids[start:stop].tolist(),
            c.parent[start:stop].tolist(),
            c.author[start:stop].tolist(),
            _iso(c.time[start:stop]),
            c.position[start:stop].tolist(),
            c.body[start:stop].tolist(),
            strict=True,
        ):
            url = self.thread_urls[thread]
            md, html = self.comment_pool[body]
            rows.append(
                {
                    "body_html": html,
                    "body_md": md,
                    "comment_id": comment_id,
                    "profile_id": author,
                    "published": when,
                    "thread_id": int(self.thread_ids[thread]),
                    "url": f"{url}#{n}" if (n > 1 or thread == self.review) else url,
                }
            )
        return rows

    def note_rows(self, start: int, stop: int) -> list[dict[str, object]]:
        """Notes ``start:stop``; url = thread url + ``#note-<id>``."""
        n = self.notes
        comment_ids = self.comments.ids
        rows: list[dict[str, object]] = []
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
                {
                    "added": when,
                    "body_html": html,
                    "body_md": md,
                    "comment_id": int(comment_ids[comment]),
                    "note_id": note_id,
                    "profile_id": author,
                    "url": f"{self.thread_urls[thread]}#note-{note_id}",
                }
            )
        return rows

    def documents(self, k: int) -> list[dict[str, object]]:
        """The project's one document as snapshot ``k`` shows it (views grow)."""
        md, html = self.doc_body
        published = np.array([self.doc_published])
        views = _grown(published, np.array([self.doc_views]), self.retrieved[k], self.retrieved[-1])
        return [
            {
                "body_html": html,
                "body_md": md,
                "doc_published": _iso(published)[0],
                "document_id": self.document_id,
                "doi": f"10.15363/thinklab.a{self.document_id}",
                "intro_html": "",
                "intro_md": "",
                "title": "",
                "topic_field": "",
                "url": f"/p/{self.name}",
                "views": int(views[0]),
            }
        ]

    def threads(self, k: int) -> list[dict[str, object]]:
        """Threads opened by snapshot ``k``'s retrieval, with the views they had then."""
        retrieved = self.retrieved[k]
        n_threads = int(np.searchsorted(self.thread_published, retrieved, side="right"))
        views = _grown(
            self.thread_published[:n_threads],
            self.thread_views[:n_threads],
            retrieved,
            self.retrieved[-1],
        )
        return [{**row, "views": v} for row, v in zip(self.thread_rows, views.tolist(), strict=False)]

    def authors(self, k: int) -> list[int]:
        """Profile ids of everyone who wrote a comment or note in snapshot ``k``, ascending."""
        n_comments = self.comments.counts(self.retrieved)[k]
        n_notes = self.notes.counts(self.retrieved)[k]
        both = np.concatenate([self.comments.author[:n_comments], self.notes.author[:n_notes]])
        return [int(pid) for pid in np.unique(both).tolist()]


@dataclass(frozen=True)
class Demo:
    """Every project, and the people (profile id → username, first name, last name) they share."""

    projects: list[Project]
    people: dict[int, tuple[str, str, str]]

    def profiles(self, project: Project, k: int) -> list[dict[str, object]]:
        """The ``profiles`` table of snapshot ``k``: exactly the authors it holds."""
        rows: list[dict[str, object]] = []
        for pid in project.authors(k):
            username, first, last = self.people[pid]
            rows.append(
                {
                    "first_name": first,
                    "last_name": last,
                    "profile_id": pid,
                    "url": f"/u/{username}",
                    "username": username,
                }
            )
        return rows


# ------------------------------------------------------------------------------------ generation


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
        base = slug(f"{first}{last}").replace("-", "") or "user"
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


def generate(posts: int = 2000, seed: int = 7, snapshots: int = 6) -> Demo:
    """Every project's rows (comment and note arrays, thread rows) and retrieval times."""
    if posts < MIN_POSTS:
        raise ValueError(f"posts must be at least {MIN_POSTS}")
    if not 1 <= snapshots <= MAX_SNAPSHOTS:
        raise ValueError(f"snapshots must be between 1 and {MAX_SNAPSHOTS}")
    rng = np.random.default_rng(seed)
    rand = random.Random(seed)
    profiles, team_ids, outsider_ids = _people(rand, rng, posts)

    dois = doi_pool(rand, 60 + posts // 40)
    prose = Prose(rand, dois, list(DEMO_TEAM) + [profiles[int(i)][0] for i in outsider_ids[1:7]])
    pool_size = max(50, min(4000, posts))
    comment_pool = body_pool(prose, pool_size, (1, 3), (5, 14))
    note_pool = body_pool(prose, max(20, pool_size // 3), (1, 1), (4, 12))
    doc_bodies = [prose.body(rand.randint(6, 10), (8, 18)) for _ in PROJECTS]

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
    projects: list[Project] = []
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
            title = _SCRIPT_SUBJECT if (name == "open-meta" and position == 1) else subject_line(rand)
            subjects.append(title)
            urls.append(f"/discussion/{slug(title) or 'discussion'}/{tid[position]}")
        opener = comment_author[: len(thread_t)]
        thread_comments = np.bincount(comment_thread, minlength=len(thread_t))
        thread_views = (
            thread_comments * rng.lognormal(2.2, 0.6, len(thread_t)) + rng.integers(5, 40, len(thread_t))
        ).astype(np.int64)
        doi_field_roll = rng.random(len(thread_t))
        topics = ["", "", "Bioinformatics", "Open Science,Reproducibility", "Databases,Licensing", "Networks"]
        thread_rows: list[dict[str, object]] = []
        published = _iso(thread_t)
        for position in range(len(thread_t)):
            is_review = position == review
            roll = doi_field_roll[position]
            doi_field = None if is_review or roll < 0.5 else ("" if roll < 0.85 else rand.choice(dois))
            thread_rows.append(
                {
                    "document_id": document_id if is_review else None,
                    "doi": f"10.15363/thinklab.d{tid[position]}",
                    "doi_field": doi_field,
                    "profile_id": None if is_review else int(opener[position]),
                    "published": published[position],
                    "subject": subjects[position],
                    "thread_id": int(tid[position]),
                    "topic_field": "" if is_review else rand.choice(topics),
                    "url": urls[position],
                }
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
        place = np.empty(len(cid), dtype=np.int64)
        place[by_thread] = np.arange(len(by_thread)) - group_start + 1
        order = np.argsort(nid, kind="stable")
        nid, note_comment, note_t, note_author = (
            nid[order],
            note_comment[order],
            note_t[order],
            note_author[order],
        )
        comments = Rows(
            ids=cid,
            parent=comment_thread,
            author=comment_author,
            time=comment_t,
            position=place,
            body=rng.integers(0, len(comment_pool), len(cid)),
        )
        notes = Rows(
            ids=nid,
            parent=note_comment,
            author=note_author,
            time=note_t,
            position=comment_thread[note_comment],
            body=rng.integers(0, len(note_pool), len(nid)),
        )

        doc_published = start - int(rng.integers(1, 20)) * _DAY - int(rng.integers(0, _DAY))
        projects.append(
            Project(
                name=name,
                document_id=document_id,
                doc_published=doc_published,
                doc_views=int(50 + thread_comments.sum() * rng.uniform(0.5, 2.0)),
                doc_body=doc_bodies[index],
                thread_rows=thread_rows,
                thread_published=thread_t,
                thread_views=thread_views,
                thread_ids=tid,
                thread_urls=urls,
                review=review,
                comments=comments,
                notes=notes,
                comment_pool=comment_pool,
                note_pool=note_pool,
                retrieved=[s + index * 1_600_000 + int(rng.integers(0, 999_999)) for s in stamps],
            )
        )
    return Demo(projects=projects, people=profiles)


def _grown(published: np.ndarray, views: np.ndarray, at: int, last: int) -> np.ndarray:
    """Views at time ``at``: a fixed share of the final views, growing with time (never decreasing)."""
    fraction = np.clip((at - published) / np.maximum(last - published, 1), 0.0, 1.0) ** 0.6
    return np.floor(views * fraction).astype(np.int64)
