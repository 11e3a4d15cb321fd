"""Community health: time to first response, new and returning contributors, absence factor.

Every number on the real final Thinklab exports is compared with a count made here from the raw JSON
(plain ``json`` and ``datetime``, not the package's tables); the rules' edge cases (a thread answered
only by its opener, a bot's comment, the github/issue-metrics cases, CHAOSS's absence-factor example)
are small export files read through the loader.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from impactreport import load_dataset, summarise
from impactreport.analyses import AnalysisParams, compute_all
from impactreport.counting import restrict
from impactreport.settings import Period
from tests import independent

HOUR = timedelta(hours=1)


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


# -- real data -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raws(latest_dir: Path) -> dict[str, dict[str, Any]]:
    return raw_exports(latest_dir)


@pytest.fixture(scope="module")
def dataset(latest_dir: Path):
    return load_dataset(latest_dir)


@pytest.mark.shared
def test_first_response_matches_raw_json(dataset, raws) -> None:
    stats = summarise(dataset)
    everything: list[float | None] = []
    for project, raw in raws.items():
        hours = raw_response_hours(raw)
        everything += hours
        assert stats.projects[project].to_json()["first_response"] == first_response_numbers(hours), project
    overall = stats.overall.to_json()["first_response"]
    assert overall == first_response_numbers(everything)
    # every discussion is either answered or not; and the data really has both, and review threads
    assert overall["answered"] + overall["unanswered"] == stats.overall["discussions"] == 171
    assert overall["answered"] == 133 and overall["unanswered"] == 38
    assert any(t["profile_id"] is None for raw in raws.values() for t in raw["threads"])


@pytest.mark.shared
def test_absence_factor_matches_raw_json(dataset, raws) -> None:
    stats = summarise(dataset)
    all_characters: dict[int, int] = defaultdict(int)
    all_posts: dict[int, int] = defaultdict(int)
    for project, raw in raws.items():
        characters: dict[int, int] = defaultdict(int)
        posts: dict[int, int] = defaultdict(int)
        for text in raw_texts(raw):
            size = independent.html_metrics(text["html"])[0]
            characters[text["author"]] += size
            posts[text["author"]] += 1
            all_characters[text["author"]] += size
            all_posts[text["author"]] += 1
        expected = {"characters": raw_absence(characters), "posts": raw_absence(posts)}
        assert stats.projects[project].to_json()["absence_factor"] == expected, project
    assert stats.overall.to_json()["absence_factor"] == {
        "characters": raw_absence(all_characters),
        "posts": raw_absence(all_posts),
    }
    # a project without a comment or note has none
    assert stats.projects["LWT_FOR_OPEN_SCIENCE"].to_json()["absence_factor"] == {
        "characters": None,
        "posts": None,
    }


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


PERIOD = Period(date(2016, 1, 1), date(2016, 12, 31))


@pytest.mark.shared
def test_new_and_returning_contributors_in_a_period_match_raw_json(dataset, raws) -> None:
    """New = first contribution of all time in the period, never the earliest inside the period."""
    stats = summarise(restrict(dataset, PERIOD), history=dataset.posts)
    first_in_project, first_overall = raw_first_contributions(raws)
    start, end = PERIOD.start, PERIOD.end
    assert start is not None and end is not None
    active_overall: set[int] = set()
    for project, raw in raws.items():
        active = {t["author"] for t in raw_texts(raw) if start <= t["at"] < end}
        active_overall |= active
        new = {a for a in active if first_in_project[(project, a)] >= start}
        level = stats.projects[project]
        assert (level["new_contributors"], level["returning_contributors"]) == (
            len(new),
            len(active) - len(new),
        ), project
        assert level["contributors"] == len(active)
    new_overall = {a for a in active_overall if first_overall[a] >= start}
    assert stats.overall["new_contributors"] == len(new_overall) == 26
    assert stats.overall["returning_contributors"] == len(active_overall) - len(new_overall) == 12
    # without history, the earliest post inside the period would make every contributor "new"
    pitfall = summarise(restrict(dataset, PERIOD))
    assert pitfall.overall["new_contributors"] == pitfall.overall["contributors"] == len(active_overall)


@pytest.mark.shared
def test_first_response_in_a_period_counts_discussions_opened_in_it(dataset, raws) -> None:
    """Discussions opened in the period; their first response whenever it came (here: all time)."""
    stats = summarise(restrict(dataset, PERIOD), history=dataset.posts, period=PERIOD)
    everything: list[float | None] = []
    for project, raw in raws.items():
        hours = raw_response_hours(raw, opened_in=PERIOD)
        everything += hours
        assert stats.projects[project].to_json()["first_response"] == first_response_numbers(hours), project
    assert stats.overall.to_json()["first_response"] == first_response_numbers(everything)
    assert stats.overall["discussions"] > len(everything)  # old threads commented on in 2016 are not counted


@pytest.mark.shared
def test_without_the_period_the_first_post_says_which_discussions_were_opened(dataset, raws) -> None:
    """The fallback (no ``period``): a thread counts when its earliest post is in the period's posts.

    It differs from the publication time only where a thread's posts predate it: rephetio threads 226
    and 231 were published (2017-03-10) after their first comments (Nov 2016, Jan 2017).
    """
    restricted = restrict(dataset, PERIOD)
    exact = summarise(restricted, history=dataset.posts, period=PERIOD)
    fallback = summarise(restricted, history=dataset.posts)
    everything: list[float | None] = []
    for project, raw in raws.items():
        hours = raw_response_hours(raw, opened_in=PERIOD, by_first_post=True)
        everything += hours
        got = fallback.projects[project].to_json()["first_response"]
        assert got == first_response_numbers(hours), project
    assert fallback.overall.to_json()["first_response"] == first_response_numbers(everything)
    moved = [t for t in raws["rephetio"]["threads"] if t["thread_id"] in (226, 231)]
    assert [moment(t["published"]).date() for t in moved] == [date(2017, 3, 10)] * 2
    # thread 226's first comment is of Nov 2016: the fallback counts it in 2016 (231's is of Jan 2017)
    assert fallback.overall.first_response.answered == exact.overall.first_response.answered + 1


@pytest.mark.shared
def test_counts_add_up_over_disjoint_periods(dataset) -> None:
    whole = summarise(dataset).overall
    periods = [Period(date(y, 1, 1), date(y, 12, 31)) for y in range(2014, 2018)]
    years = [summarise(restrict(dataset, p), history=dataset.posts, period=p) for p in periods]
    assert sum(y.overall["new_contributors"] for y in years) == whole["new_contributors"] == 67
    for key in ("answered", "unanswered", "within_24h", "within_7d"):
        assert sum(getattr(y.overall.first_response, key) for y in years) == getattr(
            whole.first_response, key
        ), key


@pytest.mark.shared
def test_contributors_over_time_csv_matches_raw_json(dataset, raws) -> None:
    frames = compute_all(restrict(dataset, PERIOD), AnalysisParams(), history=dataset.posts, period=PERIOD)
    months = frames["contributors-over-time"]
    assert months["month"].to_list() == [date(2016, m, 1) for m in range(1, 13)]
    _, first = raw_first_contributions(raws)
    texts = [t for raw in raws.values() for t in raw_texts(raw)]
    for row in months.iter_rows(named=True):
        month = datetime(row["month"].year, row["month"].month, 1, tzinfo=UTC)
        following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        active = {t["author"] for t in texts if month <= t["at"] < following}
        new = {a for a in active if first[a] >= month}
        assert (row["new"], row["returning"], row["active"]) == (
            len(new),
            len(active) - len(new),
            len(active),
        )
        assert row["cumulative"] == sum(1 for at in first.values() if at < following)
    stats = summarise(restrict(dataset, PERIOD), history=dataset.posts, period=PERIOD)
    assert months["new"].sum() == stats.overall["new_contributors"]
    responses = frames["first-response"]
    assert responses["answered"].sum() == stats.overall.first_response.answered
    assert responses.height == stats.overall.first_response.answered + stats.overall.first_response.unanswered


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
            {
                "thread_id": thread_id,
                "profile_id": opener,
                "document_id": None,
                "subject": f"t{thread_id}",
                "published": stamp(opened[thread_id]),
                "url": f"/t/{thread_id}",
                "views": 1,
            }
        )
        for index, (author, days) in enumerate(posts):
            comments.append(
                {
                    "comment_id": thread_id * 100 + index,
                    "thread_id": thread_id,
                    "profile_id": author,
                    "published": stamp(opened[thread_id] + timedelta(days=days)),
                    "url": f"/t/{thread_id}#{index}",
                    "body_md": "x",
                    "body_html": "<p>x</p>",
                }
            )
    thread_of = {c["comment_id"]: c["thread_id"] for c in comments}
    note_rows = [
        {
            "note_id": note_id,
            "comment_id": comment_id,
            "profile_id": author,
            "added": stamp(opened[thread_of[comment_id]] + timedelta(days=days)),
            "url": f"/n/{note_id}",
            "body_md": "y",
            "body_html": "<p>y</p>",
        }
        for note_id, comment_id, author, days in notes
    ]
    profiles = [
        {"profile_id": pid, "username": name, "first_name": "", "last_name": "", "url": f"/u/{pid}"}
        for pid, name in PEOPLE.items()
    ]
    return {"source": "github", "retrieved": "2021-01-01T00:00:00.000000Z", "documents": [], "threads": rows,
            "comments": comments, "notes": note_rows, "profiles": profiles}  # fmt: skip


def rules_dataset(tmp_path: Path):
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


def test_first_response_rules(tmp_path: Path) -> None:
    dataset = rules_dataset(tmp_path)
    frame = compute_all(dataset)["first-response"].sort("thread_id")
    assert frame["hours"].to_list() == [24.0, 72.0, None, None, 120.0, 240.0, 6.0]
    assert frame["answered"].to_list() == [True, True, False, False, True, True, True]
    stats = summarise(dataset).overall.to_json()["first_response"]
    # five answered: 6, 24, 72, 120, 240 hours → median 72; within a day: 6 and 24 (inclusive)
    assert stats == {"answered": 5, "unanswered": 2, "median_hours": 72.0, "within_24h": 2, "within_7d": 4}


def test_median_of_an_even_count_is_the_mean_of_the_middle_two(tmp_path: Path) -> None:
    threads = [(1, 1, [(1, 0), (2, 1)]), (2, 1, [(1, 0), (2, 2)]), (3, 1, [(1, 0), (2, 3)]),
               (4, 1, [(1, 0), (2, 10)])]  # fmt: skip
    path = tmp_path / "even.json"
    path.write_text(json.dumps(export(threads)), encoding="utf-8")
    stats = summarise(load_dataset(path)).overall.first_response
    assert stats.median_hours == (48 + 72) / 2
    assert (stats.within_24h, stats.within_7d) == (1, 3)


def test_bots_are_not_contributors_of_new_counts_or_absence(tmp_path: Path) -> None:
    stats = summarise(rules_dataset(tmp_path)).overall
    assert stats["contributors"] == 3  # alice, bob, carol; the two bots are left out
    assert (stats["new_contributors"], stats["returning_contributors"]) == (3, 0)
    # alice 10 posts (9 comments + 1 note) of 20 (bob 6, carol 4): exactly half reaches it (>=)
    assert stats.absence_factor.posts == 1


CHAOSS = [1000, 202, 90, 33, 332, 343, 42, 433]


def test_chaoss_absence_factor_example(tmp_path: Path) -> None:
    """CHAOSS's worked example: contributions [1000, 202, 90, 33, 332, 343, 42, 433] give 2."""
    people = {pid: f"user{pid}" for pid in range(1, len(CHAOSS) + 1)} | {99: "renovate[bot]"}
    document = export([])
    document["profiles"] = [{"profile_id": pid, "username": name, "first_name": "", "last_name": "",
                             "url": f"/u/{pid}"} for pid, name in people.items()]  # fmt: skip
    document["threads"] = [{"thread_id": 1, "profile_id": 1, "document_id": None, "subject": "t",
                            "published": stamp(T0), "url": "/t/1", "views": 1}]  # fmt: skip
    sizes = [*CHAOSS, 100_000]  # the bot's huge comment must not count
    document["comments"] = [
        {"comment_id": 10 + i, "thread_id": 1, "profile_id": pid, "published": stamp(T0 + timedelta(hours=i)),
         "url": f"/t/1#{i}", "body_md": "x" * size, "body_html": "<p>" + "x" * size + "</p>"}
        for i, (pid, size) in enumerate(zip(people, sizes, strict=True))
    ]  # fmt: skip
    path = tmp_path / "chaoss.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    stats = summarise(load_dataset(path)).overall
    assert stats["comment_characters"] == sum(CHAOSS)
    assert stats.absence_factor.characters == 2 == raw_absence(dict(enumerate(CHAOSS)))
    assert stats.absence_factor.posts == 4  # one post each: 4 of 8 reach half (>=)


def test_empty_dataset_has_no_community_numbers(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(export([])), encoding="utf-8")
    dataset = load_dataset(path)
    stats = summarise(dataset).overall.to_json()
    assert stats["first_response"] == {"answered": 0, "unanswered": 0, "median_hours": None,
                                       "within_24h": 0, "within_7d": 0}  # fmt: skip
    assert stats["absence_factor"] == {"characters": None, "posts": None}
    assert (stats["new_contributors"], stats["returning_contributors"]) == (0, 0)
    frames = compute_all(dataset)
    assert frames["contributors-over-time"].is_empty() and frames["first-response"].is_empty()


def test_json_shape_is_the_contract() -> None:
    from impactreport.stats import KEYS, LevelStats

    assert KEYS[-4:] == ("first_response", "new_contributors", "returning_contributors", "absence_factor")
    shape = LevelStats().to_json()
    assert set(shape["first_response"]) == {
        "answered",
        "unanswered",
        "median_hours",
        "within_24h",
        "within_7d",
    }
    assert set(shape["absence_factor"]) == {"characters", "posts"}


def test_figures_are_built(tmp_path: Path) -> None:
    from impactreport.analyses import FIGURE_NAMES
    from impactreport.figures import build_all, csv_bytes

    assert {"first-response", "contributors-over-time"} <= set(FIGURE_NAMES)
    frames = compute_all(rules_dataset(tmp_path))
    charts = build_all(frames)
    for name in ("first-response", "contributors-over-time"):
        spec = charts[name].to_dict()
        assert spec["description"] and "No data" not in spec["description"], name
    monthly = pl.read_csv(csv_bytes(frames["contributors-over-time"]))
    assert monthly.columns == ["month", "new", "returning", "active", "cumulative"]
    assert monthly.height == 1 and monthly.row(0) == ("2020-03-01", 3, 0, 3, 3)


def test_many_discussions_are_pooled_on_a_log_grid(tmp_path: Path) -> None:
    """Above ``max_points`` answered discussions the chart draws one tick per log bin (bounded size)."""
    from impactreport.figures import build_all

    params = AnalysisParams(max_points=2)
    frames = compute_all(rules_dataset(tmp_path), params)
    spec = json.dumps(build_all(frames, params)["first-response"].to_dict())
    assert '"discussions"' in spec and "pooled on a log grid" in spec
    assert frames["first-response"].height == 7  # the CSV keeps one row per discussion
