"""People: who wrote what, who is on the team, and each person's totals — one definition each.

Why one module: statistics, analyses, figures, CSVs and the report all count contributors. They used
to key people differently (profile id here, lower-cased username there) and so disagreed. Now:

- an **account** is one login of one source. It is written two ways, each defined here once:
  its **key** ``<source>:<profile id>`` (``<source>:@<username>`` when an export has no id), what
  ``person`` is until an identities file joins accounts, so Discourse user 172 and Thinklab profile 172
  are two people and a renamed user stays one (:func:`account_key`; :func:`account_id` when only the
  id is known); and its **name** ``<source>:<username>`` as the source compares usernames (lower-cased
  where the source ignores case), which is how people write accounts in team and identities files
  (:func:`account_name`, :func:`account_names` for names typed in a file). In both the source is
  lower-cased and a missing source is Thinklab;
- each account's **person** is the one the posts carry: :func:`impactreport.identities.apply_identities`
  sets it once, and every other column that names an account (a thread's opener, a revision's author)
  is mapped through :func:`account_people`, so no count sees an account where another sees a person;
- a **contributor** is an account that authored a comment or note (documents have no author in the
  exports); bots are left out unless asked (:func:`authored`);
- the **team** matches accounts by :func:`account_name` (GitHub and Discourse ignore case, Thinklab
  does not); an entry may name a source (``github:alice``) or not (``alice``: every source)
  (:class:`Team`); a person is on the team when any of their accounts is;
- :func:`person_totals` is the one per-person aggregation (characters, words, posts, first and last
  date) every layer uses.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl

from impactreport.files import read_user_text
from impactreport.labels import printable
from impactreport.sources import CASELESS_ACCOUNT_SOURCES

#: Kinds of post that have an author (Thinklab does not export documents' authors).
AUTHORED_KINDS = ("comment", "note")
DEFAULT_SOURCE = "thinklab"
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _source(source: pl.Expr | None = None) -> pl.Expr:
    """The source as accounts are keyed by it: lower-cased, Thinklab when missing."""
    return (pl.col("source") if source is None else source).fill_null(DEFAULT_SOURCE).str.to_lowercase()


def _as_compared(source: pl.Expr, username: pl.Expr) -> pl.Expr:
    """The username as its source compares it: lower-cased where the source ignores case (the one rule)."""
    return (
        pl.when(source.is_in(CASELESS_ACCOUNT_SOURCES)).then(username.str.to_lowercase()).otherwise(username)
    )


def account_name(source: pl.Expr | None = None, username: pl.Expr | None = None) -> pl.Expr:
    """``github:alice`` for ``Alice`` on GitHub, ``thinklab:Alice`` on Thinklab: ``<source>:<username>``
    as the source compares usernames (default columns ``source`` and ``username``); null without a
    username. Team and identities entries are matched on it."""
    source = _source(source)
    return pl.concat_str(
        source, pl.lit(":"), _as_compared(source, pl.col("username") if username is None else username)
    )


def account_names(accounts: Iterable[tuple[str, str]]) -> list[str]:
    """:func:`account_name` of ``(source, username)`` pairs typed in a file, in order (the same
    expression as for the data, so a file's entry and an author compare equal exactly when they are
    one account)."""
    frame = pl.DataFrame(list(accounts), schema={"source": pl.String, "username": pl.String}, orient="row")
    return frame.select(account_name()).to_series().to_list()


def account_id() -> pl.Expr:
    """``thinklab:172``: the key of an account known by its id (null without ``profile_id``)."""
    return pl.concat_str(_source(), pl.lit(":"), pl.col("profile_id").cast(pl.String))


def account_key() -> pl.Expr:
    """``thinklab:172``, or ``github:@alice`` when the export has no id; null when neither is known."""
    source = _source()
    by_name = pl.concat_str(source, pl.lit(":@"), _as_compared(source, pl.col("username")))
    return pl.coalesce(account_id(), by_name)


def account_people(posts: Frame) -> Frame:
    """One row per account that wrote a post: ``source``, ``profile_id``, ``username``, ``person``,
    ``name`` — the person the posts carry (identities applied).

    Why: a thread's opener and a revision's author are accounts (``profile_id``); counted through this
    map they are the same person as the posts they wrote, so an opener's reply from another of their
    accounts is not a response, and two accounts' revisions are one person's. An account that wrote
    nothing is not in it: as a thread's opener it is its own person (:func:`account_key`; an identities
    file naming it is warned about: it matches no author); as an editor,
    :func:`impactreport.identities.account_persons` adds it with the identities applied.
    """
    return (
        posts.filter(pl.col("profile_id").is_not_null() & pl.col("person").is_not_null())
        .group_by("source", "profile_id")
        .agg(pl.col("username", "person", "name").sort_by("published").first())
    )


def full_name() -> pl.Expr:
    """First and last name joined by a space and trimmed (``""`` when both are empty or missing)."""
    return pl.concat_str(
        [
            pl.col("first_name").fill_null("").str.strip_chars(),
            pl.col("last_name").fill_null("").str.strip_chars(),
        ],
        separator=" ",
    ).str.strip_chars()


def user_label() -> pl.Expr:
    """Display name: full name, else username, else ``user <id>`` (printable, bounded: :mod:`.labels`)."""
    return printable(
        pl.coalesce(
            pl.col("name").str.strip_chars().replace("", None),
            pl.col("username"),
            id_label(),
            pl.lit("unknown user"),
        )
    )


def id_label() -> pl.Expr:
    """``user 172``: the display name of an account known only by its id (null without one)."""
    return pl.concat_str(pl.lit("user "), pl.col("profile_id").cast(pl.String))


def authored(posts: pl.LazyFrame, *, include_bots: bool = False) -> pl.LazyFrame:
    """Comments and notes with a known author (the rows every contributor count is made of)."""
    keep = pl.col("kind").is_in(AUTHORED_KINDS) & pl.col("person").is_not_null()
    if not include_bots:
        keep = keep & ~pl.col("is_bot").fill_null(False)
    return posts.filter(keep)


def person_totals(
    posts: pl.LazyFrame, by: Sequence[str] = (), *, include_bots: bool = False, extra: Sequence[pl.Expr] = ()
) -> pl.LazyFrame:
    """One row per person (per ``by`` group): the totals every layer reports.

    Columns: ``by``…, ``person``, ``posts``, ``comments``, ``notes``, ``characters``, ``words``,
    ``first``, ``last``, and ``extra`` aggregations.
    """
    return (
        authored(posts, include_bots=include_bots)
        .group_by(*by, "person")
        .agg(
            *extra,
            posts=pl.len().cast(pl.Int64),
            comments=(pl.col("kind") == "comment").sum().cast(pl.Int64),
            notes=(pl.col("kind") == "note").sum().cast(pl.Int64),
            characters=pl.col("characters").fill_null(0).sum().cast(pl.Int64),
            words=pl.col("words").fill_null(0).sum().cast(pl.Int64),
            first=pl.col("published").min(),
            last=pl.col("published").max(),
        )
    )


def read_team_file(path: str | Path) -> list[str]:
    """Team entries from a file: one per line; blank lines and ``#`` comments ignored."""
    text = read_user_text(path, "team file")
    entries = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(entry)
    return entries


@dataclass(frozen=True)
class Team:
    """The team: entries ``alice`` (every source) or ``github:alice`` (one source), in the order given."""

    entries: tuple[str, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str] = (), team_file: str | Path | None = None) -> Team:
        names = [str(entry).strip() for entry in entries if str(entry).strip()]
        if team_file:
            names += read_team_file(team_file)
        return cls(tuple(dict.fromkeys(names)))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def _split(self) -> tuple[list[str], list[tuple[str, str]]]:
        bare: list[str] = []
        scoped: list[tuple[str, str]] = []
        for entry in self.entries:
            source, separator, name = entry.partition(":")
            if separator and source and name and source.isidentifier():
                scoped.append((source.lower(), name))
            else:
                bare.append(entry)
        return bare, scoped

    def member(self) -> pl.Expr:
        """True for rows (with ``source``, ``username``) that belong to the team; null usernames: False.

        An entry names an account (:func:`account_name`): ``github:alice`` that one, ``alice`` the account
        of that username in whatever source the row is from.
        """
        bare, scoped = self._split()
        account = account_name()
        match = pl.lit(False)
        if bare:
            match = pl.any_horizontal([account == account_name(username=pl.lit(name)) for name in bare])
        if scoped:
            match = match | account.is_in(account_names(scoped))
        return match.fill_null(False)

    def unmatched(self, accounts: pl.DataFrame) -> list[str]:
        """One warning per entry that matches no account in ``accounts`` (``source``, ``username``)."""
        warnings = []
        known = accounts.select("source", "username").unique().drop_nulls("username")
        usernames = sorted(set(known["username"].to_list()))
        for entry in self.entries:
            hits = known.filter(Team((entry,)).member()).height
            if hits:
                continue
            name = entry.partition(":")[2] if ":" in entry else entry
            close = [u for u in usernames if u.lower() == name.lower()] or difflib.get_close_matches(
                name, usernames, n=1, cutoff=0.8
            )
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            warnings.append(f"team member {entry!r} matches no contributor's username{hint}")
        return warnings

    def describe(self) -> str:
        """The line ``summary`` prints about the team it applied."""
        if not self.entries:
            return "no team given: every contributor counts as non-team"
        return f"team ({len(self.entries)}): {', '.join(self.entries)}"
