"""The numbers of the impact sentence, per project and overall, from a :class:`Dataset`.

Definitions (quoted in the README):

- discussions = threads; comments, notes, documents = rows of those tables;
- contributors = distinct people (:mod:`impactreport.people`: ``<source>:<profile id>``) who authored a
  comment or note; overall, a person active in several projects counts once; bots are left out unless
  asked; non_team_contributors = contributors not on the team (:class:`impactreport.people.Team`);
- words / characters per kind (``comment_``, ``note_``, ``document_``), totals = comments + notes +
  documents (thread subjects excluded), on the dataset's text basis (:mod:`impactreport.metrics`);
- views = thread views + document views of the newest snapshot;
- cited_dois = distinct DOIs cited (lowercased); doi_registrants = distinct DOI prefixes;
- first/last activity = first and last authored text (comment, note or document);
- publications_equivalent = total words / ``words_per_publication`` (default 7000);
- contributors_over[t] = contributors whose comment + note characters are more than ``t``
  (:func:`impactreport.settings.above`, the one threshold rule);
- first_response, new_contributors / returning_contributors, absence_factor: community health, defined
  in :mod:`impactreport.community` (first contributions are of all time: ``history``).

One polars query per level computes everything; overall is the same query with every row in one group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

import polars as pl

from impactreport import community, settings
from impactreport.community import AbsenceFactor, FirstResponse, first_response_of
from impactreport.errors import InputError
from impactreport.labels import counted
from impactreport.metrics import doi_registrant
from impactreport.people import DEFAULT_SOURCE, Team, authored, person_totals
from impactreport.schema import Dataset
from impactreport.settings import Period, above

KINDS = ("comment", "note", "document")
OVERALL = "__overall__"

SENTENCE = (
    "In total, {non_team_contributors} commented across {discussions}, "
    "which generated {comments} and {notes} totaling {words} and {characters}."
)
#: Each count of the sentence with its noun, singular and plural ("1 discussion", "2 discussions").
SENTENCE_NOUNS: dict[str, tuple[str, str]] = {
    "non_team_contributors": ("non-team member", "non-team members"),
    "discussions": ("discussion", "discussions"),
    "comments": ("comment", "comments"),
    "notes": ("note", "notes"),
    "words": ("word", "words"),
    "characters": ("character", "characters"),
}
SENTENCE_FIELDS = tuple(SENTENCE_NOUNS)


@dataclass(frozen=True)
class LevelStats:
    """The statistics of one level (a project, a source, or overall); field order = ``--json`` order."""

    discussions: int = 0
    comments: int = 0
    notes: int = 0
    documents: int = 0
    contributors: int = 0
    #: None when usernames are unavailable and a team was given (format B without a resolving snapshot)
    non_team_contributors: int | None = 0
    words: int = 0
    #: the sentence's characters: of the visible text of the HTML (or ``body_md`` as stored on the
    #: markdown basis), :mod:`impactreport.metrics.count`; never the history's source-text characters
    characters: int = 0
    comment_words: int = 0
    comment_characters: int = 0
    note_words: int = 0
    note_characters: int = 0
    document_words: int = 0
    document_characters: int = 0
    #: None when the export has no views (format A)
    views: int | None = None
    cited_dois: int = 0
    doi_registrants: int = 0
    #: threshold (as a string) → contributors with more than that many characters
    contributors_over: dict[str, int] = field(default_factory=dict)
    publications_equivalent: float = 0.0
    first_activity: str | None = None
    last_activity: str | None = None
    first_response: FirstResponse = field(default_factory=FirstResponse)
    #: contributors whose first contribution of all time lies in the period (no period: every contributor)
    new_contributors: int = 0
    #: contributors active in the period whose first contribution is earlier
    returning_contributors: int = 0
    absence_factor: AbsenceFactor = field(default_factory=AbsenceFactor)

    def to_json(self) -> dict[str, Any]:
        """A plain JSON object with exactly :data:`KEYS`."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LevelStats:
        """The statistics :meth:`to_json` gave (a counted period kept in :mod:`impactreport.memo`)."""
        values = dict(data)
        values["first_response"] = FirstResponse(**values["first_response"])
        values["absence_factor"] = AbsenceFactor(**values["absence_factor"])
        return cls(**values)

    def __getitem__(self, key: str) -> Any:
        """Read a statistic by its JSON key (for templates and tests)."""
        if key not in KEYS:
            raise KeyError(key)
        return getattr(self, key)


#: Keys of each statistics object, in the order of ``--json`` and the README.
KEYS: tuple[str, ...] = tuple(f.name for f in fields(LevelStats))


@dataclass(frozen=True)
class ImpactStats:
    """Statistics overall and per project; ``warnings`` says what limits them (e.g. no usernames)."""

    overall: LevelStats
    projects: dict[str, LevelStats]
    team: Team = field(default_factory=Team)
    warnings: tuple[str, ...] = ()
    #: per source (``thinklab``, ``github``, ``discourse``): a person with accounts in two counts in each
    sources: dict[str, LevelStats] = field(default_factory=dict)
    #: the source of each project (sources joined by ``+`` in the rare case a name is in several)
    project_sources: dict[str, str] = field(default_factory=dict)

    def sentence(self, which: str | None = None, period: Period | None = None) -> str:
        """The impact sentence with thousands separators, overall or for one project.

        With a period it starts "From 1 Sep 2016 to 31 Aug 2017, …" instead of "In total, …".
        """
        values = self.overall if which is None else self.projects[which]
        text = SENTENCE.format(**{key: counted(values[key], *SENTENCE_NOUNS[key]) for key in SENTENCE_FIELDS})
        if period is not None and not period.is_open:
            lead = period.describe()
            lead = f"From {lead}" if period.since and period.until else lead[0].upper() + lead[1:]
            text = f"{lead}, " + text.removeprefix("In total, ")
        return text

    def publications_sentence(self, words_per_publication: float) -> str:
        """``That is 0.67 publications' worth of words (1,500 words each).``: the equivalent as computed
        (two decimals, trailing zeros dropped) and the words per publication as given, each noun in the
        number it needs (``1 publication's``, ``1 word each``)."""
        equivalent = _decimal(self.overall.publications_equivalent)
        per = _decimal(words_per_publication)
        whose = "publication's" if equivalent == "1" else "publications'"
        return (
            f"That is {equivalent} {whose} worth of words ({per} {'word' if per == '1' else 'words'} each)."
        )

    def to_json(self) -> dict[str, Any]:
        """``{"overall": {...}, "sources": {"<source>": {...}}, "projects": {"<name>": {...}}}``:
        exactly :data:`KEYS` in each object, and first ``source`` in each project's."""
        return {
            "overall": self.overall.to_json(),
            "sources": {name: level.to_json() for name, level in self.sources.items()},
            "projects": {
                name: {"source": self.project_sources.get(name), **level.to_json()}
                for name, level in self.projects.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], team: Team, warnings: Sequence[str]) -> ImpactStats:
        """The statistics :meth:`to_json` gave, with the ``team`` and ``warnings`` they were counted with."""
        projects = {name: dict(level) for name, level in data["projects"].items()}
        sources_of = {name: level.pop("source") for name, level in projects.items()}
        return cls(
            overall=LevelStats.from_json(data["overall"]),
            projects={name: LevelStats.from_json(level) for name, level in projects.items()},
            team=team,
            warnings=tuple(warnings),
            sources={name: LevelStats.from_json(level) for name, level in data["sources"].items()},
            project_sources={name: source for name, source in sources_of.items() if source is not None},
        )

    def projects_by_source(self) -> list[tuple[str, list[str]]]:
        """(source, its projects) in source order, projects in the order of :attr:`projects`."""
        grouped: dict[str, list[str]] = {}
        for name in self.projects:
            grouped.setdefault(self.project_sources.get(name) or "", []).append(name)
        return sorted(grouped.items())


def _number(value: object) -> str:
    if value is None:
        return "an unknown number of"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _decimal(value: float) -> str:
    """``1,500``, ``0.67``, ``1`` (not ``1.0``): thousands separators, at most two decimals, no trailing
    zeros, so a number that reads as one is exactly one."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _aggregate(posts: pl.LazyFrame, threads: pl.LazyFrame, team: Team, include_bots: bool) -> pl.LazyFrame:
    """One row per ``group`` with every count; ``group`` is the project, or one value for overall."""
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
    # a person is on the team when any of their accounts is (identities may join several accounts)
    people = (
        authored(posts, include_bots=include_bots)
        .group_by("group")
        .agg(
            pl.col("person").n_unique().alias("contributors"),
            pl.col("person").filter(team.member()).n_unique().alias("_team_contributors"),
        )
        .with_columns(non_team_contributors=pl.col("contributors") - pl.col("_team_contributors"))
    )
    thread_stats = threads.group_by("group").agg(
        pl.len().alias("discussions"),
        pl.col("views").sum().alias("_thread_views"),
        pl.col("views").is_not_null().any().alias("_thread_views_known"),
    )
    return thread_stats.join(post_stats, on="group", how="full", coalesce=True).join(
        people, on="group", how="left"
    )


def _per_person(posts: pl.LazyFrame, thresholds: Sequence[int], include_bots: bool) -> pl.LazyFrame:
    """Per ``group``, from the one per-person totals: contributors over each threshold, absence factor."""
    return (
        person_totals(posts, ["group"], include_bots=include_bots)
        .group_by("group")
        .agg(
            *(above("characters", threshold).sum().alias(f"_over_{threshold}") for threshold in thresholds),
            community.absence_factor("characters").alias("_absence_characters"),
            community.absence_factor("posts").alias("_absence_posts"),
        )
    )


def _community(
    posts: pl.LazyFrame,
    threads: pl.LazyFrame,
    history: pl.LazyFrame,
    group: pl.Expr,
    include_bots: bool,
    period: Period | None,
) -> pl.LazyFrame:
    """Per ``group``: first response, new and returning contributors (``_``-prefixed).

    ``posts`` and ``history`` carry bots (the first-response rule and the opener need them); contributor
    counts leave bots out unless ``include_bots``, as ``contributors`` does.
    """
    responses = (
        community.first_responses(threads, posts, history, period)
        .with_columns(group.alias("group"))
        .group_by("group")
        .agg(expr.name.prefix("_fr_") for expr in community.response_summary())
    )
    grouped_posts = posts.with_columns(group.alias("group"))
    status = (
        community.contributor_status(
            grouped_posts, history.with_columns(group.alias("group")), ["group"], include_bots=include_bots
        )
        .group_by("group")
        .agg(
            pl.col("new").sum().cast(pl.Int64).alias("_new"),
            (~pl.col("new")).sum().cast(pl.Int64).alias("_returning"),
        )
    )
    return status.join(responses, on="group", how="full", coalesce=True)


def _iso(moment: datetime | None) -> str | None:
    return settings.iso_z(moment) if moment else None


def _level(
    row: dict[str, Any], thresholds: Sequence[int], words_per_publication: float, team_countable: bool
) -> LevelStats:
    def count(key: str) -> int:
        return int(row.get(key) or 0)

    views_known = bool(row.get("_thread_views_known")) or bool(row.get("_document_views_known"))
    dois = sorted(row.get("_dois") or [])
    words = count("comment_words") + count("note_words") + count("document_words")
    characters = count("comment_characters") + count("note_characters") + count("document_characters")
    return LevelStats(
        discussions=count("discussions"),
        comments=count("comments"),
        notes=count("notes"),
        documents=count("documents"),
        contributors=count("contributors"),
        non_team_contributors=count("non_team_contributors") if team_countable else None,
        words=words,
        characters=characters,
        comment_words=count("comment_words"),
        comment_characters=count("comment_characters"),
        note_words=count("note_words"),
        note_characters=count("note_characters"),
        document_words=count("document_words"),
        document_characters=count("document_characters"),
        views=(count("_thread_views") + count("_document_views")) if views_known else None,
        cited_dois=len(dois),
        doi_registrants=len({doi_registrant(doi) for doi in dois}),
        contributors_over={str(t): count(f"_over_{t}") for t in thresholds},
        publications_equivalent=round(words / words_per_publication, 2),
        first_activity=_iso(row.get("first_activity")),
        last_activity=_iso(row.get("last_activity")),
        first_response=first_response_of(row),
        new_contributors=count("_new"),
        returning_contributors=count("_returning"),
        absence_factor=AbsenceFactor(
            characters=_optional_int(row.get("_absence_characters")),
            posts=_optional_int(row.get("_absence_posts")),
        ),
    )


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def summarise(
    dataset: Dataset,
    *,
    team: Team | Iterable[str] = (),
    thresholds: Sequence[int] = settings.THRESHOLDS,
    words_per_publication: float = settings.WORDS_PER_PUBLICATION,
    exclude_bots: bool = True,
    projects: Sequence[str] | None = None,
    history: pl.DataFrame | None = None,
    period: Period | None = None,
) -> ImpactStats:
    """The impact statistics of a dataset, per project and overall.

    ``history`` is every post before the period restriction (default: ``dataset.posts``): first
    contributions and first responses are of all time, never the earliest inside the period.
    ``period`` is the restriction the dataset had (first response concerns the discussions opened in
    it; None: see :mod:`impactreport.community`).
    """
    if words_per_publication <= 0:
        raise InputError("--words-per-publication must be positive")
    team = team if isinstance(team, Team) else Team.of(team)
    thresholds = settings.normal_thresholds(thresholds)
    dataset = dataset.select_projects(list(projects) if projects else None)
    include_bots = not exclude_bots
    all_posts = dataset.posts.lazy()
    past = all_posts if history is None else history.lazy()
    if projects:
        past = past.filter(pl.col("project").is_in(list(projects)))
    posts = all_posts
    if exclude_bots:
        posts = posts.filter(~pl.col("is_bot").fill_null(False))
    threads = dataset.threads.lazy()
    levels = []
    source = pl.col("source").fill_null(DEFAULT_SOURCE)
    # group keys are prefixed so that a project named like a source stays apart from it
    for group in (pl.lit("p:") + pl.col("project"), pl.lit("s:") + source, pl.lit(OVERALL)):
        p = posts.with_columns(group.alias("group"))
        t = threads.with_columns(group.alias("group"))
        levels.append(
            _aggregate(p, t, team, include_bots)
            .join(_per_person(p, thresholds, include_bots), on="group", how="left")
            .join(_community(all_posts, threads, past, group, include_bots, period), on="group", how="left")
        )
    rows = pl.concat(pl.collect_all(levels), how="diagonal_relaxed").to_dicts()
    by_group = {row["group"]: row for row in rows}
    warnings = list(dataset.warnings)
    if team and not dataset.usernames_known:
        warnings.append("usernames are unavailable for some authors: non-team contributors cannot be counted")
    elif team:
        warnings += team.unmatched(dataset.posts.filter(pl.col("kind").is_in(["comment", "note"])))
    countable = dataset.usernames_known or not team

    def level(name: str) -> LevelStats:
        return _level(by_group.get(name, {}), thresholds, words_per_publication, countable)

    project_sources = _project_sources(dataset)
    return ImpactStats(
        overall=level(OVERALL),
        projects={name: level(f"p:{name}") for name in dataset.projects},
        team=team,
        warnings=tuple(warnings),
        sources={name: level(f"s:{name}") for name in sorted(set(project_sources.values()))},
        project_sources=project_sources,
    )


def _project_sources(dataset: Dataset) -> dict[str, str]:
    """Each project's source, from its snapshots and threads (``+``-joined when a name is in several)."""
    frames = [dataset.snapshots.select("source", "project"), dataset.threads.select("source", "project")]
    pairs = (
        pl.concat(frames)
        .with_columns(pl.col("source").fill_null(DEFAULT_SOURCE))
        .unique()
        .group_by("project")
        .agg(pl.col("source").sort().str.join("+"))
    )
    found = dict(pairs.iter_rows())
    return {name: found.get(name, DEFAULT_SOURCE) for name in dataset.projects}
