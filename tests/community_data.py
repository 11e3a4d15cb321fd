"""The community tests' data: counts made from the raw JSON (plain ``json`` and ``datetime``, not the
package's tables), and small format-C exports for the rules' edge cases.

Why a module of its own: each community metric has its own test file (``test_community_<metric>.py``),
and they compare against the same independent route and read the same small exports.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from impactreport import load_dataset
from impactreport.schema import Dataset
from impactreport.settings import Period
from tests import builders

HOUR = timedelta(hours=1)
#: The period of the period tests (a year of the Thinklab exports).
PERIOD = Period(date(2016, 1, 1), date(2016, 12, 31))


# -- the independent route -----------------------------------------------------------------------------
def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def raw_exports(latest_dir: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(latest_dir.glob("*.json"))}


def raw_texts(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Comments and notes as (kind, id, thread, author, published, characters), notes via their comment."""
    thread_of = {c["comment_id"]: c["thread_id"] for c in raw["comments"]}
    texts = [
        {"kind": "comment", "id": c["comment_id"], "thread": c["thread_id"], "author": c["profile_id"],
         "at": moment(c["published"]), "html": c["body_html"]}
        for c in raw["comments"]
    ] + [
        {"kind": "note", "id": n["note_id"], "thread": thread_of[n["comment_id"]], "author": n["profile_id"],
         "at": moment(n["added"]), "html": n["body_html"]}
        for n in raw["notes"]
    ]  # fmt: skip
    return texts


def raw_response_hours(
    raw: dict[str, Any], opened_in: Period | None = None, *, by_first_post: bool = False
) -> list[float | None]:
    """Hours to first response of each thread (None: unanswered), by the issue's definition.

    ``opened_in``: only threads published in the period (``by_first_post``: whose earliest comment or
    note is in it, or, without any, published in it).
    """
    texts = raw_texts(raw)
    hours: list[float | None] = []
    for thread in raw["threads"]:
        opened = moment(thread["published"])
        in_thread = [t for t in texts if t["thread"] == thread["thread_id"]]
        if opened_in is not None:
            start, end = opened_in.start, opened_in.end
            assert start is not None and end is not None
            when = min(t["at"] for t in in_thread) if by_first_post and in_thread else opened
            if not start <= when < end:
                continue
        opener = thread["profile_id"]
        if opener is None:  # a document-review thread: the author of its earliest comment
            comments = sorted((t["at"], t["id"], t["author"]) for t in in_thread if t["kind"] == "comment")
            opener = comments[0][2] if comments else None
        responses = [t["at"] for t in in_thread if t["at"] >= opened and t["author"] != opener]
        hours.append((min(responses) - opened) / HOUR if responses else None)
    return hours


def first_response_numbers(hours: list[float | None]) -> dict[str, Any]:
    answered = [h for h in hours if h is not None]
    return {
        "answered": len(answered),
        "unanswered": len(hours) - len(answered),
        "median_hours": round(statistics.median(answered), 2) if answered else None,
        "within_24h": sum(h <= 24 for h in answered),
        "within_7d": sum(h <= 24 * 7 for h in answered),
    }


def raw_absence(per_person: dict[Any, int]) -> int | None:
    """CHAOSS: fewest contributors, largest first, holding at least half of the total."""
    total = sum(per_person.values())
    if total == 0:
        return None
    running = 0
    for count, value in enumerate(sorted(per_person.values(), reverse=True), start=1):
        running += value
        if 2 * running >= total:
            return count
    raise AssertionError("unreachable")


def raw_first_contributions(raws: dict[str, dict[str, Any]]) -> tuple[dict, dict]:
    """First contribution per (project, author) and per author over all projects."""
    per_project: dict[tuple[str, int], datetime] = {}
    overall: dict[int, datetime] = {}
    for project, raw in raws.items():
        for text in raw_texts(raw):
            key = (project, text["author"])
            per_project[key] = min(per_project.get(key, text["at"]), text["at"])
            overall[text["author"]] = min(overall.get(text["author"], text["at"]), text["at"])
    return per_project, overall


# -- the rules, on small export files --------------------------------------------------------------------
T0 = datetime(2020, 3, 1, 12, tzinfo=UTC)
PEOPLE = {1: "alice", 2: "bob", 3: "carol", 4: "dependabot[bot]", 5: "github-actions[bot]"}


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def export(threads: list[tuple[int, int | None, list[tuple[int, float]]]], notes=()) -> dict:
    """A format-C GitHub export. threads: (thread id, opener or None, [(author, days after opening)]);
    notes: (note id, comment id, author, days after the thread's opening)."""
    comments, rows = [], []
    opened = {}
    for thread_id, opener, posts in threads:
        opened[thread_id] = T0 + timedelta(days=thread_id)
        rows.append(
            builders.thread(
                thread_id, opener, stamp(opened[thread_id]), subject=f"t{thread_id}", url=f"/t/{thread_id}"
            )
        )
        for index, (author, days) in enumerate(posts):
            at = stamp(opened[thread_id] + timedelta(days=days))
            comments.append(
                builders.comment(
                    thread_id * 100 + index, thread_id, author, at, "x", url=f"/t/{thread_id}#{index}"
                )
            )
    thread_of = {c["comment_id"]: c["thread_id"] for c in comments}
    note_rows = [
        builders.note(
            note_id,
            comment_id,
            author,
            stamp(opened[thread_of[comment_id]] + timedelta(days=days)),
            "y",
            url=f"/n/{note_id}",
        )
        for note_id, comment_id, author, days in notes
    ]
    return builders.export(
        threads=rows,
        comments=comments,
        notes=note_rows,
        profiles=[builders.profile(pid, name, url=f"/u/{pid}") for pid, name in PEOPLE.items()],
        retrieved="2021-01-01T00:00:00.000000Z",
        source="github",
    )


def rules_dataset(tmp_path: Path) -> Dataset:
    threads = [
        (1, 1, [(1, 0), (2, 1), (3, 1.5)]),  # issue-metrics: +1 d and +1.5 d → 1 day
        (
            2,
            1,
            [(1, 0), (1, 1), (1, 2), (2, 3), (2, 4)],
        ),  # the author at +1, +2 d, another at +3, +4 d → 3 days
        (3, 1, [(1, 0), (4, 0.1), (5, 0.2)]),  # only bots → unanswered
        (4, 1, [(1, 0), (1, 2), (1, 3)]),  # answered only by its opener → unanswered
        (5, None, [(2, 0), (2, 0.5), (3, 5)]),  # review thread: opener = earliest comment's author
        (6, 2, [(2, 0), (4, 0.01), (1, 10)]),  # a bot first, then a person at +10 d
        (7, 3, [(3, 0)]),  # a note by someone else is a response (below, +6 h)
    ]
    notes = [(1, 700, 1, 0.25), (2, 100, 3, 1.2)]  # note 2: carol in thread 1, after bob's answer
    path = tmp_path / "octo.json"
    path.write_text(json.dumps(export(threads, notes)), encoding="utf-8")
    return load_dataset(path)
