"""The numbers of the impact sentence, per project and overall, from a :class:`Dataset`.

Definitions (quoted in the README):

- discussions = threads; comments, notes, documents = rows of those tables;
- contributors = distinct authors (global profile ids) of comments or notes; overall, a person active in
  several projects counts once; non_team_contributors = contributors whose username is not in the team;
- words / characters per kind (``comment_``, ``note_``, ``document_``), totals = comments + notes +
  documents (thread subjects excluded), on the dataset's text basis (:mod:`impactreport.metrics`);
- views = thread views + document views of the newest snapshot;
- cited_dois = distinct DOIs cited (lowercased); doi_registrants = distinct DOI prefixes;
- first/last activity = first and last authored text (comment, note or document);
- publications_equivalent = total words / ``words_per_publication`` (default 7000);
- contributors_over[t] = contributors whose comment + note characters exceed ``t``.

One polars query per level computes everything; overall is the same query with every row in one group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import polars as pl

from impactreport.errors import InputError
from impactreport.metrics import doi_registrant
from impactreport.schema import Dataset

DEFAULT_THRESHOLDS = (500, 4000)
WORDS_PER_PUBLICATION = 7000
KINDS = ("comment", "note", "document")
OVERALL = "__overall__"

SENTENCE = (
    "In total, {non_team_contributors} non-team members commented across {discussions} discussions, "
    "which generated {comments} comments and {notes} notes "
    "totaling {words} words and {characters} characters."
)

#: Keys of each statistics object, in the order of ``--json`` and the README.
KEYS = (
    "discussions",
    "comments",
    "notes",
    "documents",
    "contributors",
    "non_team_contributors",
    "words",
    "characters",
    "comment_words",
    "comment_characters",
    "note_words",
    "note_characters",
    "document_words",
    "document_characters",
    "views",
    "cited_dois",
    "doi_registrants",
    "contributors_over",
    "publications_equivalent",
    "first_activity",
    "last_activity",
)


def read_team_file(path: str | Path) -> list[str]:
    """Usernames from a team file: one per line; blank lines and ``#`` comments ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read team file ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: team file is not UTF-8 text") from None
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def parse_thresholds(text: str) -> tuple[int, ...]:
    """``"500,4000"`` → ``(500, 4000)``; a clear error for anything else."""
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise InputError(
            f"--thresholds {text!r}: expected comma-separated whole numbers, e.g. 500,4000"
        ) from None
    if not values or any(value < 0 for value in values):
        raise InputError(f"--thresholds {text!r}: expected non-negative whole numbers, e.g. 500,4000")
    return values


@dataclass(frozen=True)
class ImpactStats:
    """Statistics overall and per project; ``warnings`` says what limits them (e.g. no usernames)."""

    overall: dict
    projects: dict[str, dict]
    team: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def sentence(self, which: str | None = None) -> str:
        """The impact sentence with thousands separators, overall or for one project."""
        values = self.overall if which is None else self.projects[which]
        return SENTENCE.format(**{key: _number(values[key]) for key in SENTENCE_FIELDS})

    def to_json(self) -> dict:
        """``{"overall": {...}, "projects": {"<name>": {...}}}`` with exactly :data:`KEYS` in each."""
        return {"overall": self.overall, "projects": self.projects}


SENTENCE_FIELDS = ("non_team_contributors", "discussions", "comments", "notes", "words", "characters")


def _number(value: object) -> str:
    if value is None:
        return "an unknown number of"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _aggregate(posts: pl.LazyFrame, threads: pl.LazyFrame, team: Sequence[str]) -> pl.LazyFrame:
    """One row per ``group`` with every count; ``group`` is the project, or one value for overall."""
    authored = pl.col("kind").is_in(["comment", "note"])
    per_kind = []
    for kind in KINDS:
        is_kind = pl.col("kind") == kind
        per_kind += [
            is_kind.sum().alias(f"{kind}s"),
            pl.col("words").filter(is_kind).sum().alias(f"{kind}_words"),
            pl.col("characters").filter(is_kind).sum().alias(f"{kind}_characters"),
        ]
    post_stats = posts.group_by("group").agg(
        *per_kind,
        pl.col("profile_id").filter(authored).drop_nulls().n_unique().alias("contributors"),
        pl.col("profile_id")
        .filter(authored & ~pl.col("username").is_in(list(team)).fill_null(False))
        .drop_nulls()
        .n_unique()
        .alias("non_team_contributors"),
        pl.col("views").filter(pl.col("kind") == "document").sum().alias("_document_views"),
        pl.col("views")
        .filter(pl.col("kind") == "document")
        .is_not_null()
        .any()
        .alias("_document_views_known"),
        pl.col("dois").list.explode(keep_nulls=False, empty_as_null=False).unique().alias("_dois"),
        pl.col("published").min().alias("first_activity"),
        pl.col("published").max().alias("last_activity"),
    )
    thread_stats = threads.group_by("group").agg(
        pl.len().alias("discussions"),
        pl.col("views").sum().alias("_thread_views"),
        pl.col("views").is_not_null().any().alias("_thread_views_known"),
    )
    return thread_stats.join(post_stats, on="group", how="full", coalesce=True)


def _contributors_over(posts: pl.LazyFrame, thresholds: Sequence[int]) -> pl.LazyFrame:
    per_person = (
        posts.filter(pl.col("kind").is_in(["comment", "note"]) & pl.col("profile_id").is_not_null())
        .group_by("group", "profile_id")
        .agg(pl.col("characters").sum())
    )
    return per_person.group_by("group").agg(
        (pl.col("characters") > threshold).sum().alias(f"_over_{threshold}") for threshold in thresholds
    )


def _row_to_stats(
    row: dict, thresholds: Sequence[int], words_per_publication: float, known: bool, team: bool
) -> dict:
    def count(key: str) -> int:
        return int(row.get(key) or 0)

    views_known = bool(row.get("_thread_views_known")) or bool(row.get("_document_views_known"))
    dois = sorted(row.get("_dois") or [])
    words = count("comment_words") + count("note_words") + count("document_words")
    characters = count("comment_characters") + count("note_characters") + count("document_characters")
    first, last = row.get("first_activity"), row.get("last_activity")
    stats = {
        "discussions": count("discussions"),
        "comments": count("comments"),
        "notes": count("notes"),
        "documents": count("documents"),
        "contributors": count("contributors"),
        "non_team_contributors": count("non_team_contributors") if (known or not team) else None,
        "words": words,
        "characters": characters,
        "comment_words": count("comment_words"),
        "comment_characters": count("comment_characters"),
        "note_words": count("note_words"),
        "note_characters": count("note_characters"),
        "document_words": count("document_words"),
        "document_characters": count("document_characters"),
        "views": (count("_thread_views") + count("_document_views")) if views_known else None,
        "cited_dois": len(dois),
        "doi_registrants": len({doi_registrant(doi) for doi in dois}),
        "contributors_over": {str(t): count(f"_over_{t}") for t in thresholds},
        "publications_equivalent": round(words / words_per_publication, 2),
        "first_activity": first.isoformat().replace("+00:00", "Z") if first else None,
        "last_activity": last.isoformat().replace("+00:00", "Z") if last else None,
    }
    return {key: stats[key] for key in KEYS}


def summarise(
    dataset: Dataset,
    *,
    team: Iterable[str] = (),
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
    words_per_publication: float = WORDS_PER_PUBLICATION,
    exclude_bots: bool = True,
    projects: Sequence[str] | None = None,
) -> ImpactStats:
    """The impact statistics of a dataset, per project and overall."""
    if words_per_publication <= 0:
        raise InputError("--words-per-publication must be positive")
    team = tuple(dict.fromkeys(team))
    dataset = dataset.select_projects(list(projects) if projects else None)
    posts = dataset.posts.lazy()
    if exclude_bots:
        posts = posts.filter(~pl.col("is_bot"))
    threads = dataset.threads.lazy()
    levels = []
    for group in (pl.col("project"), pl.lit(OVERALL)):
        p = posts.with_columns(group.alias("group"))
        t = threads.with_columns(group.alias("group"))
        levels.append(_aggregate(p, t, team).join(_contributors_over(p, thresholds), on="group", how="left"))
    rows = pl.concat(pl.collect_all(levels), how="diagonal_relaxed").to_dicts()
    by_group = {row["group"]: row for row in rows}
    warnings = list(dataset.warnings)
    if team and not dataset.usernames_known:
        warnings.append("usernames are unavailable for some authors: non-team contributors cannot be counted")
    convert = partial(
        _row_to_stats,
        thresholds=thresholds,
        words_per_publication=words_per_publication,
        known=dataset.usernames_known,
        team=bool(team),
    )
    project_stats = {name: convert(by_group.get(name, {})) for name in dataset.projects}
    return ImpactStats(
        overall=convert(by_group.get(OVERALL, {})),
        projects=project_stats,
        team=team,
        warnings=tuple(warnings),
    )
