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
so statistics, analyses, figures, CSVs and the report all count people; :func:`suggest` proposes
candidate entries (same username ignoring case, or the same full name after NFKC normalisation and case
folding in two sources) that are never applied until the user writes them into their file.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from impactreport.errors import InputError
from impactreport.files import read_user_text
from impactreport.people import AUTHORED_KINDS, CASE_INSENSITIVE_SOURCES, DEFAULT_SOURCE, Team
from impactreport.schema import TABLES, Dataset

#: Where the report and the commands look for the file when none is given (relative to the project
#: root for the report, to the current folder for ``summary`` and ``figures``).
DEFAULT_PATH = Path("data") / "identities.yml"
KEYS = ("name", "team", "accounts")
#: Prefix of the ``person`` key of a person named in the file (accounts are ``<source>:<id>``).
PERSON_PREFIX = "person:"
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}


def comparable(source: str, username: str) -> str:
    """``source:username`` as the source compares usernames (lower-cased where it ignores case)."""
    source = source.lower()
    return f"{source}:{username.lower() if source in CASE_INSENSITIVE_SOURCES else username}"


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
        """One row per account: ``_account`` (comparable ``source:username``), ``_person``, ``_name``."""
        rows = [
            (comparable(*account.split(":", 1)), person.key, person.name)
            for person in self.people
            for account in person.accounts
        ]
        return pl.DataFrame(
            rows, schema={"_account": pl.String, "_person": pl.String, "_name": pl.String}, orient="row"
        )

    def team_accounts(self) -> tuple[str, ...]:
        """Accounts of the people marked ``team: true`` (team entries of the form ``source:username``)."""
        return tuple(account for person in self.people if person.team for account in person.accounts)

    def describe(self) -> str:
        """The line ``summary`` prints about the file it applied."""
        count = len(self.people)
        accounts = sum(len(p.accounts) for p in self.people)
        people = "1 person" if count == 1 else f"{count} people"
        return f"identities {self.path}: {people}, {accounts} accounts"

    def unmatched(self, posts: pl.DataFrame) -> list[str]:
        """One warning per account of the file that matches no author in ``posts``."""
        known = set(posts.select(_account()).drop_nulls()["_account"].to_list())
        return [
            f"{self.path}:{person.line}: account {account!r} of {person.name!r} matches no author"
            for person in self.people
            for account in person.accounts
            if comparable(*account.split(":", 1)) not in known
        ]


def _account() -> pl.Expr:
    source = pl.col("source").fill_null(DEFAULT_SOURCE).str.to_lowercase()
    username = (
        pl.when(source.is_in(CASE_INSENSITIVE_SOURCES))
        .then(pl.col("username").str.to_lowercase())
        .otherwise(pl.col("username"))
    )
    return pl.concat_str(source, pl.lit(":"), username).alias("_account")


# -- reading the file ---------------------------------------------------------------------------------
def read_identities(path: str | Path) -> Identities:
    """The people of an identities file; any problem is one :class:`InputError` naming file and line."""
    return parse_identities(read_user_text(path, "identities file"), str(path))


def parse_identities(text: str, shown: str = "identities") -> Identities:
    """Check and read the YAML text of an identities file (``shown`` names it in errors)."""

    def fail(node: yaml.Node | None, message: str) -> InputError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return InputError(f"{shown}{line}: {message}")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
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
        for account in person.accounts:
            key = comparable(*account.split(":", 1))
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
        if not path.is_file():
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
    """The dataset with ``person`` and ``name`` of every post by a listed account set to its person."""
    if not identities:
        return dataset
    posts = (
        dataset.posts.with_columns(_account())
        .join(identities.accounts(), on="_account", how="left")
        .with_columns(
            person=pl.coalesce("_person", "person"),
            name=pl.coalesce("_name", "name"),
        )
        .drop("_account", "_person", "_name")
    )
    frames = {name: getattr(dataset, name) for name in TABLES}
    frames["posts"] = posts
    return Dataset(
        **frames,
        text_basis=dataset.text_basis,
        usernames_known=dataset.usernames_known,
        warnings=(*dataset.warnings, *identities.unmatched(dataset.posts)),
    )


def team_with(team: Team, identities: Identities, posts: pl.DataFrame) -> Team:
    """The team given plus the accounts of the people the file marks ``team: true``.

    Only accounts that wrote something in ``posts`` are added: the others are already warned about
    (:meth:`Identities.unmatched`), and a person counts as team when any of their accounts does.
    """
    present = set(posts.select(_account()).drop_nulls()["_account"].to_list())
    extra = [a for a in identities.team_accounts() if comparable(*a.split(":", 1)) in present]
    return Team(tuple(dict.fromkeys((*team.entries, *extra)))) if extra else team


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


def suggest(posts: pl.DataFrame) -> list[dict[str, object]]:
    """Candidate people across sources: accounts of two or more sources that share a username
    (ignoring case) or a full name (:func:`folded`), grouped transitively; each as a file entry.

    Only authors of comments and notes are considered (the accounts that can be counted).
    """
    accounts = (
        posts.filter(pl.col("kind").is_in(AUTHORED_KINDS) & pl.col("username").is_not_null())
        .with_columns(pl.col("source").fill_null(DEFAULT_SOURCE))
        .sort("published")
        .group_by("source", "username", maintain_order=True)
        .agg(pl.col("name").drop_nulls().first())
        .sort("source", "username")
    )
    rows = accounts.rows()
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for keyer in (lambda row: row[1].lower(), lambda row: folded(row[2])):
        first: dict[str, int] = {}
        for index, row in enumerate(rows):
            key = keyer(row)
            if not key:
                continue
            if key in first:
                parent[find(index)] = find(first[key])
            else:
                first[key] = index
    groups: dict[int, list[int]] = {}
    for index in range(len(rows)):
        groups.setdefault(find(index), []).append(index)
    entries = []
    for members in groups.values():
        if len({rows[i][0] for i in members}) < 2:
            continue  # one source: accounts of one source are never merged by a guess
        names = [rows[i][2] for i in members if rows[i][2]]
        entries.append(
            {
                "name": max(names, key=_name_quality) if names else rows[members[0]][1],
                "team": False,
                "accounts": [f"{rows[i][0]}:{rows[i][1]}" for i in members],
            }
        )
    return sorted(entries, key=lambda entry: folded(str(entry["name"])))


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


def suggestions_yaml(entries: Iterable[dict[str, object]]) -> str:
    """The suggestions as an identities file to review (a comment on top says so)."""
    entries = list(entries)
    head = (
        "# Candidate people across sources (impactreport identities suggest): same username ignoring case,\n"
        "# or the same full name. Review every entry, delete wrong ones, set team: true for the team, and\n"
        "# save as data/identities.yml (or pass --identities FILE). Nothing is merged until you do.\n"
    )
    if not entries:
        return head + "[]\n"
    body = yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, default_flow_style=None, width=100)
    return head + body
