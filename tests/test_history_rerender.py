"""A re-render day of the real archive yields zero revisions.

On some days Thinklab re-rendered many posts at once: their HTML changed, the markdown the authors
typed did not. The day is found here by a count of our own over every commit of the archive bundle
(plain ``git cat-file`` + ``json``, not the package's loader): per UTC day of ``retrieved``, posts whose
text (markdown when both versions have it, else HTML; CRLF → LF) differs from the previous export of
their project that held them (revisions), and posts whose HTML alone changed (re-renders). Then
``impactreport summary <data>/exports --history --since D --until D --json`` (the real command) must
say 0 revisions and exactly that many re-renders, overall and per project. (The day found is
2017-01-14: 250 re-renders in 8 projects, 229 of them in rephetio, and no edit.)
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.independent import archive_exports, has_ids
from tests.runner import cli

pytestmark = [pytest.mark.shared, pytest.mark.slow]  # the archive import (shared) and its history


def posts(export: dict[str, Any]) -> dict[tuple[str, int], tuple[str | None, str | None]]:
    """(kind, id) → (markdown, HTML) of every comment, note and document (introduction + body)."""

    def lf(text: str | None) -> str | None:
        return None if text is None else text.replace("\r\n", "\n")

    def joined(first: str | None, second: str | None) -> str | None:
        return None if first is None and second is None else f"{first or ''}\n\n{second or ''}"

    out = {
        ("comment", r["comment_id"]): (lf(r.get("body_md")), lf(r.get("body_html")))
        for r in export["comments"]
    }
    out |= {("note", r["note_id"]): (lf(r.get("body_md")), lf(r.get("body_html"))) for r in export["notes"]}
    for row in export["documents"]:
        out[("document", row["document_id"])] = (
            lf(joined(row.get("intro_md"), row.get("body_md"))),
            lf(joined(row.get("intro_html"), row.get("body_html"))),
        )
    return out


def daily_changes(clone: Path) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Revisions per day, and re-renders per (day, project)."""
    held: dict[str, dict[tuple[str, int], tuple[str | None, str | None]]] = {}
    revisions: Counter[str] = Counter()
    rerenders: Counter[tuple[str, str]] = Counter()
    for project, export in archive_exports(clone):
        if not has_ids(export):
            continue
        day = export["retrieved"][:10]  # ISO UTC: the date is its first ten characters
        now = posts(export)
        before = held.setdefault(project, {})
        for key, (markdown, html) in now.items():
            if key not in before:
                continue  # a first appearance is no change
            old_markdown, old_html = before[key]
            on_markdown = markdown is not None and old_markdown is not None
            new, old = (markdown, old_markdown) if on_markdown else (html or "", old_html or "")
            if new != old:
                revisions[day] += 1
            elif html != old_html:
                rerenders[(day, project)] += 1
        before.update(now)
    return revisions, rerenders


def test_a_rerender_day_has_no_revisions(archive: tuple[Path, Path]) -> None:
    data, clone = archive
    revisions, rerenders = daily_changes(clone)
    per_day: Counter[str] = Counter()
    for (day, _), count in rerenders.items():
        per_day[day] += count
    quiet = {day: count for day, count in per_day.items() if revisions[day] == 0}
    day = max(quiet, key=lambda d: (quiet[d], d))
    assert quiet[day] >= 100, f"no mass re-render day in the archive: {sorted(per_day.items())}"

    period = ["--since", day, "--until", day]
    result = cli("summary", data / "exports", "--history", *period, "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    overall = summary["overall"]["history"]
    assert overall["first_snapshot"].startswith(day) and overall["last_snapshot"].startswith(day)
    assert overall["revisions"] == overall["edited_posts"] == 0
    assert overall["inserted_characters"] == overall["deleted_characters"] == 0
    assert overall["rerenders"] == quiet[day]
    got = {name: level["history"]["rerenders"] for name, level in summary["projects"].items()}
    want = {project: count for (when, project), count in rerenders.items() if when == day}
    assert {name: count for name, count in got.items() if count} == want
