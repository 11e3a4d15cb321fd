"""People across sources: the identities file, applying it, and suggesting merges.

Why: an account (``github:alice``) is one person within its source (:mod:`impactreport.people`), but
teams move between Thinklab, GitHub and Discourse, and one person may have several usernames. Which
accounts are one person is a human decision (as git's ``.mailmap`` and GrimoireLab's SortingHat), so it
lives in a file the user edits::

    - name: Daniel Himmelstein
      team: true
      accounts: [thinklab:dhimmel, github:dhimmel, discourse:dhimmel]

:func:`read_identities` checks it (every error is one line naming the file and line);
:func:`apply_identities` rewrites the ``person`` and ``name`` columns of the posts once, after loading,
so statistics, analyses, figures, CSVs and the report all count people; every other column naming an
account (a thread's opener, a revision's author) is mapped through the posts' persons
(:func:`impactreport.people.account_people`, :func:`account_persons`), never keyed on its own. Accounts
are compared by the one rule of :func:`impactreport.people.account_name`. :func:`suggest` proposes
candidate entries (same username ignoring case, or the same full name after NFKC normalisation and case
folding in two sources), each with why and what argues against it, that are never applied until the
user writes them into their file.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from impactreport.errors import InputError
from impactreport.files import read_user_text
from impactreport.labels import counted
from impactreport.people import (
    AUTHORED_KINDS,
    DEFAULT_SOURCE,
    Team,
    account_key,
    account_name,
    account_names,
    account_people,
)
from impactreport.project import DATA_DIR
from impactreport.schema import TABLES, Dataset
from impactreport.text_safety import has_unsafe
from impactreport.yaml_bounded import compose_bounded

#: Where the report and the commands look for the file when none is given (relative to the project
#: root for the report, to the current folder for ``summary`` and ``figures``).
DEFAULT_PATH = DATA_DIR / "identities.yml"
KEYS = ("name", "team", "accounts")
#: Prefix of the ``person`` key of a person named in the file (accounts are ``<source>:<id>``).
PERSON_PREFIX = "person:"
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}


def comparable(source: str, username: str) -> str:
    """``source:username`` as the source compares usernames (:func:`impactreport.people.account_name`)."""
    return account_names([(source, username)])[0]


def _split(account: str) -> tuple[str, str]:
    """``github:alice`` → ``("github", "alice")`` (accounts of a file are checked to have the colon)."""
    source, _, username = account.partition(":")
    return source, username


@dataclass(frozen=True)
class Person:
    """One entry of the file: a display name, team membership and accounts (``source:username``)."""

    name: str
    team: bool
    accounts: tuple[str, ...]
    line: int

    @property
    def key(self) -> str:
        return PERSON_PREFIX + self.name


@dataclass(frozen=True)
class Identities:
    """The people of an identities file (empty: every account is its own person)."""

    people: tuple[Person, ...] = ()
    path: str = ""

    def __bool__(self) -> bool:
        return bool(self.people)

    def accounts(self) -> pl.DataFrame:
        """One row per account: ``_account`` (:func:`~impactreport.people.account_name`), ``_person``,
        ``_name``, and ``_written`` (the account as the file writes it)."""
        written = [(person, account) for person in self.people for account in person.accounts]
        names = account_names(_split(account) for _, account in written)
        return pl.DataFrame(
            [
                (name, person.key, person.name, account)
                for name, (person, account) in zip(names, written, strict=True)
            ],
            schema={"_account": pl.String, "_person": pl.String, "_name": pl.String, "_written": pl.String},
            orient="row",
        )

    def team_accounts(self) -> tuple[str, ...]:
        """Accounts of the people marked ``team: true`` (team entries of the form ``source:username``)."""
        return tuple(account for person in self.people if person.team for account in person.accounts)

    def describe(self) -> str:
        """The line ``summary`` prints about the file it applied."""
        count = len(self.people)
        accounts = sum(len(p.accounts) for p in self.people)
        return f"identities {self.path}: {counted(count, 'person', 'people')}, {counted(accounts, 'account')}"

    def unmatched(self, posts: pl.DataFrame) -> list[str]:
        """One warning per account of the file that matches no author in ``posts``."""
        known = posts.select(account_name().alias("_account")).drop_nulls().unique()
        missing = set(self.accounts().join(known, on="_account", how="anti")["_written"].to_list())
        return [
            f"{self.path}:{person.line}: account {account!r} of {person.name!r} matches no author"
            for person in self.people
            for account in person.accounts
            if account in missing
        ]


# -- reading the file ---------------------------------------------------------------------------------
def read_identities(path: str | Path) -> Identities:
    """The people of an identities file; any problem is one :class:`InputError` naming file and line."""
    return parse_identities(read_user_text(path, "identities file"), str(path))


#: Deepest nesting of ``[``/``{`` an identities file may have (a real one has 2).
def parse_identities(text: str, shown: str = "identities") -> Identities:
    """Check and read the YAML text of an identities file (``shown`` names it in errors)."""

    def fail(node: yaml.Node | None, message: str) -> InputError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return InputError(f"{shown}{line}: {message}")

    try:
        root = compose_bounded(text, shown, "a list of people")
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise InputError(f"{shown}{where}: not valid YAML ({problem})") from None
    if root is None:
        return Identities(path=shown)
    if not isinstance(root, yaml.SequenceNode):
        raise fail(root, "the file must be a list of people (- name: …, accounts: […])")
    people: list[Person] = []
    owner: dict[str, Person] = {}
    names: dict[str, Person] = {}
    for item in root.value:
        person = _person(item, fail)
        if person.name in names:
            raise fail(item, f"name {person.name!r} is already used at line {names[person.name].line}")
        names[person.name] = person
        keys = account_names(_split(account) for account in person.accounts)
        for account, key in zip(person.accounts, keys, strict=True):
            if key in owner:
                other = owner[key]
                claimed = f"claimed by {person.name!r} and by {other.name!r} (line {other.line})"
                raise fail(item, f"account {account!r} is {claimed}")
            owner[key] = person
        people.append(person)
    return Identities(tuple(people), shown)


def _person(node: yaml.Node, error: Callable[[yaml.Node | None, str], InputError]) -> Person:
    if not isinstance(node, yaml.MappingNode):
        raise error(node, "each person must be a mapping with name, accounts and optionally team")
    values: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in KEYS:
            raise error(key_node, f"unknown key {key!r} (known: {', '.join(KEYS)})")
        if key in values:
            raise error(key_node, f"key {key!r} given twice")
        values[key] = value_node
    name_node = values.get("name")
    if not isinstance(name_node, yaml.ScalarNode) or not str(name_node.value).strip():
        raise error(name_node or node, "each person needs a name (text)")
    team = False
    if "team" in values:
        team_node = values["team"]
        flag = str(team_node.value).lower() if isinstance(team_node, yaml.ScalarNode) else ""
        if flag not in _TRUE | _FALSE:
            raise error(team_node, "team must be true or false")
        team = flag in _TRUE
    accounts_node = values.get("accounts")
    if isinstance(accounts_node, yaml.ScalarNode):
        items: list[yaml.Node] = [accounts_node]
    elif isinstance(accounts_node, yaml.SequenceNode) and accounts_node.value:
        items = list(accounts_node.value)
    else:
        raise error(accounts_node or node, "each person needs accounts: a list of source:username")
    accounts = []
    for item in items:
        text = str(item.value).strip() if isinstance(item, yaml.ScalarNode) else ""
        source, separator, username = text.partition(":")
        if not (separator and source.isidentifier() and username.strip()):
            raise error(item, f"account {text or '?'!r} is not source:username (e.g. github:alice)")
        accounts.append(f"{source.lower()}:{username.strip()}")
    line = node.start_mark.line + 1
    return Person(str(name_node.value).strip(), team, tuple(dict.fromkeys(accounts)), line)


def resolve_identities(given: str | Path | None, base: Path, *, name: str = "--identities") -> Identities:
    """The identities to apply: the file given, else ``base/data/identities.yml`` when present, else none."""
    if given:
        path = Path(given)
        if not path.is_absolute() and not path.exists() and (base / path).exists():
            path = base / path
        if not path.exists():
            raise InputError(f"{name}: {given}: no such file")
        return read_identities(path)
    default = base / DEFAULT_PATH
    if not default.is_file():
        return Identities()
    try:  # shown as short as it can be: relative to the current folder
        return read_identities(default.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return read_identities(default)


# -- applying it --------------------------------------------------------------------------------------
def apply_identities(dataset: Dataset, identities: Identities) -> Dataset:
    """The dataset with ``person`` and ``name`` of every post by a listed account set to its person.

    The one step: every other column naming an account (a thread's opener, a revision's author) is
    mapped through the posts (:func:`~impactreport.people.account_people`, :func:`account_persons`).
    """
    if not identities:
        return dataset
    frames = {name: getattr(dataset, name) for name in TABLES}
    frames["posts"] = _as_people(dataset.posts, identities)
    return Dataset(
        **frames,
        text_basis=dataset.text_basis,
        usernames_known=dataset.usernames_known,
        warnings=(*dataset.warnings, *identities.unmatched(dataset.posts)),
    )


def _as_people(frame: pl.DataFrame, identities: Identities) -> pl.DataFrame:
    """``person`` and ``name`` of the rows (``source``, ``username``) of a listed account: its person's."""
    if not identities:
        return frame
    return (
        frame.with_columns(account_name().alias("_account"))
        .join(identities.accounts().drop("_written"), on="_account", how="left", maintain_order="left")
        .with_columns(person=pl.coalesce("_person", "person"), name=pl.coalesce("_name", "name"))
        .drop("_account", "_person", "_name")
    )


def account_persons(dataset: Dataset, identities: Identities | None = None) -> pl.DataFrame:
    """Every account of the dataset and its person: ``source``, ``profile_id``, ``username``,
    ``person``, ``name`` (one row per account).

    Authors of posts as the posts carry them (:func:`~impactreport.people.account_people`, identities
    already applied by :func:`apply_identities`); the other profiles (an editor who never posted) as
    :func:`~impactreport.people.account_key`, with ``identities`` applied to them when given, so a
    revision's author is the same person whether or not they also wrote a post.
    """
    authors = account_people(dataset.posts).select("source", "profile_id", "username", "person", "name")
    others = (
        dataset.profiles.filter(pl.col("profile_id").is_not_null())
        .unique(["source", "profile_id"], keep="last", maintain_order=True)
        .join(authors, on=["source", "profile_id"], how="anti")
        .select("source", "profile_id", "username", account_key().alias("person"), "name")
    )
    return pl.concat([authors, _as_people(others, identities or Identities())])


def team_with(team: Team, identities: Identities, posts: pl.DataFrame) -> Team:
    """The team given plus the accounts of the people the file marks ``team: true``.

    Only accounts that wrote something in ``posts`` are added: the others are already warned about
    (:meth:`Identities.unmatched`), and a person counts as team when any of their accounts does.
    """
    present = set(posts.select(account_name()).drop_nulls().to_series().to_list())
    team_accounts = identities.team_accounts()
    names = account_names(_split(account) for account in team_accounts)
    extra = [account for account, name in zip(team_accounts, names, strict=True) if name in present]
    return Team(tuple(dict.fromkeys((*team.entries, *extra)))) if extra else team


def describe_team(team: Team, identities: Identities, posts: pl.DataFrame) -> str:
    """The line about the team, in people when identities are applied: ``team (2 people, 4 accounts):
    Daniel Himmelstein, thinklab:caseygreene`` (without identities, :meth:`Team.describe`).

    Why people: with identities the statistics count a person as team when any of their accounts is,
    so the team is that many people, whatever number of entries or accounts named them. ``posts`` are
    the pipeline's (identities applied, team from :func:`team_with`); accounts are the authors of
    comments and notes among them (:func:`~impactreport.people.account_key`) that belong to a team
    person; people are identities persons (by name) and lone accounts (by ``source:username``).
    """
    if not identities or not team:
        return team.describe()
    authors = posts.filter(pl.col("kind").is_in(AUTHORED_KINDS) & pl.col("person").is_not_null())
    members = authors.filter(team.member()).select("person").unique()
    rows = authors.join(members, on="person", how="semi")
    listed = identities.accounts().select(pl.col("_person").alias("person"), pl.col("_name").alias("shown"))
    people = (
        rows.group_by("person")
        .agg(pl.col("source", "username").sort_by("published").first())
        .join(listed.unique("person"), on="person", how="left")
        .select(pl.coalesce("shown", account_name()).alias("shown"))
        .to_series()
        .to_list()
    )
    accounts = rows.select(account_key()).n_unique()
    counts = f"{counted(len(people), 'person', 'people')}, {counted(accounts, 'account')}"
    shown = ", ".join(sorted((str(name) for name in people), key=folded))
    return f"team ({counts}): {shown}" if people else f"team ({counts}): {', '.join(team.entries)}"


def shared_usernames(posts: pl.DataFrame) -> list[str]:
    """Usernames (ignoring case) of authors in more than one source, sorted (the ``summary`` hint)."""
    authors = posts.filter(pl.col("kind").is_in(AUTHORED_KINDS) & pl.col("username").is_not_null()).select(
        pl.col("source").fill_null(DEFAULT_SOURCE), pl.col("username").str.to_lowercase()
    )
    shared = authors.unique().group_by("username").agg(pl.len()).filter(pl.col("len") > 1)
    return sorted(shared["username"].to_list())


# -- suggesting merges --------------------------------------------------------------------------------
def folded(name: str | None) -> str:
    """A full name for comparison: NFKC-normalised, case-folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())


def _name_quality(name: str) -> tuple[bool, bool]:
    """Prefer a name already in NFKC form, and one in mixed case (``Casey Greene`` over ``ＣＡＳＥＹ``)."""
    return unicodedata.normalize("NFKC", name) == name, not (name.isupper() or name.islower())


@dataclass(frozen=True)
class Suggestion:
    """A candidate person: the file entry, why it is proposed and what argues against it.

    Why both: a shared username or full name is only a hint, so the reviewer sees the evidence and the
    differences (written as comments above the entry by :func:`suggestions_yaml`) and can reject a
    false match (two people called ``alex``) without looking the accounts up.
    """

    entry: dict[str, object]
    reasons: tuple[str, ...]
    doubts: tuple[str, ...]


@dataclass(frozen=True)
class _Candidate:
    """One account considered: its source, username as written, and full name (None: none given)."""

    source: str
    username: str
    full_name: str | None

    @property
    def account(self) -> str:
        return f"{self.source}:{self.username}"


def suggest(posts: pl.DataFrame) -> list[Suggestion]:
    """Candidate people across sources: accounts of two or more sources that share a username
    (ignoring case) or a full name (:func:`folded`), grouped transitively; each as a file entry with
    its reasons and doubts.

    Only authors of comments and notes are considered (the accounts that can be counted). An account is
    :func:`~impactreport.people.account_name`; a ``name`` that is only the username (the loader's
    fallback when a profile has no full name) is no full name.
    """
    accounts = (
        posts.filter(pl.col("kind").is_in(AUTHORED_KINDS) & pl.col("username").is_not_null())
        .with_columns(pl.col("source").fill_null(DEFAULT_SOURCE), account_name().alias("_account"))
        .sort("published")
        .group_by("_account", maintain_order=True)
        .agg(
            pl.col("source", "username").first(),
            pl.col("name").filter(pl.col("name") != pl.col("username")).drop_nulls().first(),
        )
        .sort("source", "username")
    )
    rows = [
        _Candidate(source, username, name or None)
        for source, username, name in accounts.select("source", "username", "name").rows()
    ]
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _, _, keyer in _SAME:
        first: dict[str, int] = {}
        for index, row in enumerate(rows):
            key = keyer(row)
            if not key:
                continue
            if key in first:
                parent[find(index)] = find(first[key])
            else:
                first[key] = index
    groups: dict[int, list[_Candidate]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(find(index), []).append(row)
    found = []
    for members in groups.values():
        if len({row.source for row in members}) < 2:
            continue  # one source: accounts of one source are never merged by a guess
        names = [row.full_name for row in members if row.full_name]
        entry: dict[str, object] = {
            "name": max(names, key=_name_quality) if names else members[0].username,
            "team": False,
            "accounts": [row.account for row in members],
        }
        found.append(Suggestion(entry, _reasons(members), _doubts(members)))
    return sorted(found, key=lambda found: folded(str(found.entry["name"])))


#: What makes two accounts one candidate person, as (what, the value as written, the value compared):
#: the same username ignoring case, the same full name after :func:`folded`.
_SAME: tuple[tuple[str, Callable[[_Candidate], str | None], Callable[[_Candidate], str]], ...] = (
    ("username", lambda row: row.username, lambda row: row.username.lower()),
    ("full name", lambda row: row.full_name, lambda row: folded(row.full_name)),
)


def _quoted(text: str) -> str:
    """A value from the data in a YAML comment: double-quoted, and every character that is not
    printable (a line break such as U+2028 would end the comment) escaped."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in json.dumps(text, ensure_ascii=False))


def _plain(text: str) -> str:
    """A source name in a comment: unquoted, non-printable characters escaped."""
    return _quoted(text)[1:-1]


def _listed(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _spellings(
    members: list[_Candidate],
    value: Callable[[_Candidate], str | None],
    key: Callable[[_Candidate], str] | None = None,
) -> list[str]:
    """Each distinct ``value`` (by ``key`` when given: the first spelling shown) and the sources
    writing it, sorted: ``"dhimmel" (github, thinklab)``."""
    written: dict[str, tuple[str, list[str]]] = {}
    for row in members:
        text = value(row)
        if not text:
            continue
        sources = written.setdefault(key(row) if key else text, (text, []))[1]
        if row.source not in sources:
            sources.append(row.source)
    return [
        f"{_quoted(shown)} ({', '.join(map(_plain, sources))})"
        for _, (shown, sources) in sorted(written.items())
    ]


def _reasons(members: list[_Candidate]) -> tuple[str, ...]:
    """Why the accounts are proposed as one person: each username and full name two of them share."""
    reasons = []
    for what, value, key in _SAME:
        shared: dict[str, list[_Candidate]] = {}
        for row in members:
            if compared := key(row):
                shared.setdefault(compared, []).append(row)
        for rows in (rows for rows in shared.values() if len(rows) > 1):
            sources = sorted({row.source for row in rows})
            if len(sources) == 1:
                where = f"in {len(rows)} accounts of {_plain(sources[0])}"
            elif what == "username":
                where = f"in {len(sources)} sources ({', '.join(map(_plain, sources))})"
            else:
                where = f"in sources {_listed([_plain(source) for source in sources])}"
            spellings = _spellings(rows, value)
            if len(spellings) == 1:
                reasons.append(f"same {what} {_quoted(str(value(rows[0])))} {where}")
            else:
                ignoring = "ignoring case" if what == "username" else "after Unicode and case folding"
                reasons.append(f"same {what} {ignoring} {where}: {', '.join(spellings)}")
    return tuple(reasons)


def _doubts(members: list[_Candidate]) -> tuple[str, ...]:
    """What argues against one person: usernames or full names that differ (beyond case and Unicode
    form), accounts without a full name (only a username matched them), several accounts of one source."""
    doubts = []
    for what, value, key in _SAME:
        differing = _spellings(members, value, key)
        if len(differing) > 1:
            doubts.append(f"{what}s differ: " + " vs ".join(differing))
    unnamed = [_plain(row.account) for row in members if not row.full_name]
    if unnamed and len(unnamed) < len(members):
        doubts.append(f"no full name to compare on {_listed(unnamed)}")
    elif unnamed:
        doubts.append("no account has a full name: only the usernames match")
    per_source: dict[str, list[str]] = {}
    for row in members:
        per_source.setdefault(row.source, []).append(row.username)
    for source, usernames in sorted(per_source.items()):
        if len(usernames) > 1:
            listed = _listed([_quoted(name) for name in usernames])
            doubts.append(f"{len(usernames)} accounts in {_plain(source)} ({listed}): are they one person?")
    return tuple(doubts)


def hint(posts: pl.DataFrame, identities: Identities) -> str | None:
    """The one line ``summary`` prints when usernames recur across sources and no file joins them."""
    if identities:
        return None
    shared = shared_usernames(posts)
    if not shared:
        return None
    shown = ", ".join(shared[:3]) + (", …" if len(shared) > 3 else "")
    many = "1 username appears" if len(shared) == 1 else f"{len(shared)} usernames appear"
    return (
        f"{many} in several sources ({shown}) and count as different people: to count a person once, "
        f"list their accounts in {DEFAULT_PATH} or --identities FILE (impactreport identities suggest)"
    )


def suggestions_yaml(suggestions: Iterable[Suggestion]) -> str:
    """The suggestions as an identities file to review: a comment on top says so, and above each entry
    its reasons (``# why:``) and what argues against it (``# against:``)."""
    suggestions = list(suggestions)
    head = (
        "# Candidate people across sources (impactreport identities suggest): same username ignoring case,\n"
        '# or the same full name. Review every entry: "why" says what matched, "against" what differs.\n'
        "# Delete wrong ones, set team: true for the team, and save as data/identities.yml (or pass\n"
        "# --identities FILE). Nothing is merged until you do.\n"
    )
    if not suggestions:
        return head + "[]\n"
    parts = [head]
    for suggestion in suggestions:
        parts.extend(f"# why: {reason}\n" for reason in suggestion.reasons)
        doubts = suggestion.doubts or ("nothing found: the usernames and full names agree",)
        parts.extend(f"# against: {doubt}\n" for doubt in doubts)
        # Unicode as is, unless the entry holds a control or bidi character: then YAML's own escapes
        # (\u202e), so the file shows what is there and reads back the same
        plain = not has_unsafe(json.dumps(suggestion.entry, ensure_ascii=False))
        parts.append(
            yaml.safe_dump(
                [suggestion.entry], allow_unicode=plain, sort_keys=False, default_flow_style=None, width=100
            )
        )
    return "".join(parts)
