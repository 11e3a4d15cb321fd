"""Authors as the report names them: ``Name`` or ``Name <ORCID>``, the ORCID checked.

Authors are written ``Name`` or ``Name <ORCID>`` (a plain YAML string each, e.g.
``-P 'authors:["Ada Lovelace <0000-0002-1825-0097>", Grace Hopper]'``); a mapping ``{name, orcid}`` is
read too. An ORCID must be ``0000-0000-0000-000X`` with a valid check digit (ISO 7064 11,2).

Why a bottom module: the ``authors`` parameter is checked with every other parameter
(:mod:`impactreport.settings`) and printed by the cite block (:mod:`impactreport.citation`, which
re-exports these names); here neither imports the other in a circle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from impactreport.errors import InputError

ORCID = re.compile(r"^(\d{4})-(\d{4})-(\d{4})-(\d{3}[\dX])$")
_ORCID_URL = re.compile(r"^https?://(www\.)?orcid\.org/", re.IGNORECASE)
_WITH_ORCID = re.compile(r"^(?P<name>.*?)\s*<(?P<orcid>[^<>]*)>\s*$")


@dataclass(frozen=True)
class Author:
    """One author: a name as it should be printed, and an ORCID iD (``0000-0002-1825-0097``) or ""."""

    name: str
    orcid: str = ""

    def __str__(self) -> str:
        """``Name <ORCID>`` or ``Name``: the parameter's own form (it reads back to the same author)."""
        return f"{self.name} <{self.orcid}>" if self.orcid else self.name

    @property
    def orcid_url(self) -> str:
        return f"https://orcid.org/{self.orcid}" if self.orcid else ""

    def bibtex_name(self) -> str:
        """``Family, Given``: a name already holding a comma is taken as written; otherwise its last word
        is the family name (write ``van Gogh, Vincent`` for a family name of several words)."""
        if "," in self.name:
            return self.name
        given, _, family = self.name.rpartition(" ")
        return f"{family}, {given}" if given else family


def orcid_check_digit(digits: str) -> str:
    """The ISO 7064 11,2 check character of the first 15 digits of an ORCID iD."""
    total = 0
    for digit in digits:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def check_orcid(value: str, name: str) -> str:
    """``value`` as a bare ORCID iD (an ``https://orcid.org/`` prefix is dropped); a one-line error
    naming ``name`` when it is not ``0000-0000-0000-000X`` or its check digit is wrong."""
    text = _ORCID_URL.sub("", value.strip()).upper()
    match = ORCID.match(text)
    if not match:
        raise InputError(f"{name}: ORCID {value.strip()!r} is not of the form 0000-0000-0000-000X")
    digits = text.replace("-", "")
    if orcid_check_digit(digits[:15]) != digits[15]:
        raise InputError(f"{name}: ORCID {text!r} has a wrong check digit (a typing error?)")
    return text


def parse_author(value: object, name: str) -> Author:
    """``"Name"``, ``"Name <ORCID>"`` or ``{name: ..., orcid: ...}`` → :class:`Author` (one-line errors)."""
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - {"name", "orcid"})
        if unknown:
            raise InputError(f"{name}: unknown key {unknown[0]!r} in an author (expected name and orcid)")
        raw_name, raw_orcid = value.get("name"), value.get("orcid")
        if not isinstance(raw_name, str) or not raw_name.strip():
            raise InputError(f"{name}: an author needs a name, got {dict(value)!r}")
        if raw_orcid is not None and not isinstance(raw_orcid, str):
            raise InputError(f"{name}: ORCID {raw_orcid!r} is not of the form 0000-0000-0000-000X")
        text, orcid = raw_name, raw_orcid or ""
    elif isinstance(value, str):
        match = _WITH_ORCID.match(value)
        text, orcid = (match.group("name"), match.group("orcid")) if match else (value, "")
    else:
        raise InputError(f'{name}: expected an author as "Name" or "Name <ORCID>", got {value!r}')
    text = " ".join(text.split())
    if not text:
        raise InputError(f'{name}: an author needs a name, e.g. "Ada Lovelace <0000-0002-1825-0097>"')
    if any(char in text for char in "<>\n"):
        raise InputError(f'{name}: {value!r}: write an author as "Name" or "Name <ORCID>"')
    return Author(text, check_orcid(orcid, name) if orcid.strip() else "")


def parse_authors(value: object, name: str) -> tuple[str, ...]:
    """The ``authors`` parameter: a list (or one author) → each in its canonical ``Name <ORCID>`` form."""
    if value is None or value == "":
        return ()
    items = list(value) if isinstance(value, list | tuple) else [value]
    return tuple(str(parse_author(item, name)) for item in items)


def authors_of(authors: Sequence[str], author: str = "") -> tuple[Author, ...]:
    """The report's authors: ``authors`` (checked already), else the single ``author`` given."""
    if authors:
        return tuple(parse_author(item, "authors") for item in authors)
    return (Author(" ".join(author.split())),) if author.strip() else ()


def byline(authors: Sequence[Author]) -> str:
    """``A, B and C``: the names as a sentence lists them."""
    names = [author.name for author in authors]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
