"""An independent route to the impact numbers, straight from raw format-C JSON.

Tests compare the package against this. It shares no code with the package: Python's ``json`` instead of
polars, the standard library's ``html.parser`` instead of selectolax/lexbor, plain loops instead of
queries. The rules it applies by hand: the HTML standard's newline normalisation (CRLF and CR become LF before
parsing), which every HTML parser performs, and layout whitespace between elements counted as one line
break (``counted_nodes``), the definition the package documents.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

WORD = re.compile(r"\w+")
CITATION_TAG = re.compile(r"<a\s[^>]*class=\"(?:[^\"]* )?citation(?: [^\"]*)?\"[^>]*>")
ATTRIBUTE = re.compile(r"(href|data-key)=\"([^\"]*)\"")
MD_CITATION = re.compile(r"\[(@[^\]]*)\]")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def text_nodes(html: str) -> list[str]:
    """Visible text nodes of an HTML fragment."""
    parser = _Text()
    parser.feed(html.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    return parser.parts


def counted_nodes(html: str) -> list[str]:
    """Visible text nodes as counted: layout whitespace between elements (a whitespace-only node holding a
    line break) counts as one line break, as libxml2-based tools (R's rvest, BeautifulSoup + lxml) count it."""
    return ["\n" if re.fullmatch(r"[ \t\n]*\n[ \t\n]*", node) else node for node in text_nodes(html)]


def html_metrics(html: str) -> tuple[int, int]:
    """(characters, words) on the html basis."""
    nodes = counted_nodes(html)
    return len("".join(nodes)), len(WORD.findall(" ".join(nodes)))


def dois(html: str, markdown: str) -> set[str]:
    """DOIs cited by citation links and markdown citations."""
    found: set[str] = set()
    for tag in CITATION_TAG.findall(html):
        attributes = dict(ATTRIBUTE.findall(tag))
        href, key = attributes.get("href", ""), attributes.get("data-key", "")
        for prefix in ("/doi/", "https://doi.org/", "http://doi.org/", "http://dx.doi.org/"):
            if href.startswith(prefix) and href[len(prefix) :].startswith("10."):
                found.add(href[len(prefix) :].lower())
                break
        else:
            if re.match(r"^10\.\d+/\S+$", key):
                found.add(key.lower())
    for group in MD_CITATION.findall(markdown):
        for item in group.split(";"):
            item = item.strip()
            if re.fullmatch(r"@10\.\d+/[^\s;\]]+", item):
                found.add(item[1:].lower())
    return found


def read(path: Path) -> dict:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return json.loads(data)


def project_numbers(export: dict, team: set[str], thresholds: tuple[int, ...] = (500, 4000)) -> dict:
    """The statistics of one format-C export, computed by hand."""
    usernames = {p["profile_id"]: p["username"] for p in export["profiles"]}
    numbers = {
        "discussions": len(export["threads"]),
        "comments": len(export["comments"]),
        "notes": len(export["notes"]),
        "documents": len(export["documents"]),
    }
    authors: set[int] = set()
    per_person: dict[int, int] = {}
    cited: set[str] = set()
    for kind in ("comment", "note"):
        words = characters = 0
        for row in export[kind + "s"]:
            c, w = html_metrics(row["body_html"])
            characters += c
            words += w
            authors.add(row["profile_id"])
            per_person[row["profile_id"]] = per_person.get(row["profile_id"], 0) + c
            cited |= dois(row["body_html"], row["body_md"])
        numbers[f"{kind}_words"], numbers[f"{kind}_characters"] = words, characters
    words = characters = 0
    for row in export["documents"]:
        for part in ("intro", "body"):
            c, w = html_metrics(row[part + "_html"])
            characters += c
            words += w
            cited |= dois(row[part + "_html"], row[part + "_md"])
    numbers["document_words"], numbers["document_characters"] = words, characters
    numbers["words"] = sum(numbers[f"{k}_words"] for k in ("comment", "note", "document"))
    numbers["characters"] = sum(numbers[f"{k}_characters"] for k in ("comment", "note", "document"))
    numbers["contributors"] = len(authors)
    numbers["non_team_contributors"] = len([a for a in authors if usernames.get(a) not in team])
    numbers["views"] = sum(int(t["views"]) for t in export["threads"]) + sum(
        int(d["views"]) for d in export["documents"]
    )
    numbers["cited_dois"] = len(cited)
    numbers["doi_registrants"] = len({doi.split("/")[0] for doi in cited})
    numbers["contributors_over"] = {str(t): sum(1 for v in per_person.values() if v > t) for t in thresholds}
    numbers["_authors"] = authors
    numbers["_per_person"] = per_person
    numbers["_dois"] = cited
    return numbers


#: The id column of each post table in format C (formats A and B have none; B′ has a bare ``id``).
ID_KEYS = {"documents": "document_id", "threads": "thread_id", "comments": "comment_id", "notes": "note_id"}


def has_ids(export: dict[str, Any]) -> bool:
    """Format C: the rows carry their ``*_id``."""
    return any(key in rows[0] for table, key in ID_KEYS.items() if (rows := export.get(table)))


def archive_exports(clone: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(project, export) of every ``export/json/<project>.json`` a commit of the Thinklab archive
    changed, oldest commit first, read with plain ``git`` (one ``cat-file --batch``) and ``json``.

    Only changed files: an unchanged export repeats the one before, so it changes no count of
    revisions, re-renders or deletions.
    """
    log = subprocess.run(
        [
            "git",
            "-C",
            str(clone),
            "log",
            "--reverse",
            "--format=commit %H",
            "--name-only",
            "--",
            "export/json/",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    batch = subprocess.Popen(
        ["git", "-C", str(clone), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert batch.stdin is not None and batch.stdout is not None
    commit = ""
    try:
        for line in log:
            if line.startswith("commit "):
                commit = line.split()[1]
                continue
            if not line.endswith(".json"):
                continue
            batch.stdin.write(f"{commit}:{line}\n".encode())
            batch.stdin.flush()
            header = batch.stdout.readline().split()
            if header[-1] == b"missing":
                continue  # deleted in this commit
            yield Path(line).stem, json.loads(batch.stdout.read(int(header[2]) + 1)[:-1])
    finally:
        batch.stdin.close()
        batch.wait()
