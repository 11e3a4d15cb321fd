"""Contributor absence factor (:mod:`impactreport.community.absence`): CHAOSS's definition, its
worked example, and the real final Thinklab exports against counts from the raw JSON.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from impactreport import load_dataset, summarise
from tests import builders, independent
from tests.community_data import (
    T0,
    export,
    raw_absence,
    raw_texts,
    rules_dataset,
    stamp,
)


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


def test_bots_are_not_counted_in_the_absence_factor(tmp_path: Path) -> None:
    stats = summarise(rules_dataset(tmp_path)).overall
    # alice 10 posts (9 comments + 1 note) of 20 (bob 6, carol 4): exactly half reaches it (>=)
    assert stats.absence_factor.posts == 1


CHAOSS = [1000, 202, 90, 33, 332, 343, 42, 433]


def test_chaoss_absence_factor_example(tmp_path: Path) -> None:
    """CHAOSS's worked example: contributions [1000, 202, 90, 33, 332, 343, 42, 433] give 2."""
    people = {pid: f"user{pid}" for pid in range(1, len(CHAOSS) + 1)} | {99: "renovate[bot]"}
    document = export([])
    document["profiles"] = [builders.profile(pid, name, url=f"/u/{pid}") for pid, name in people.items()]
    document["threads"] = [builders.thread(1, 1, stamp(T0), subject="t", url="/t/1")]
    sizes = [*CHAOSS, 100_000]  # the bot's huge comment must not count
    document["comments"] = [
        builders.comment(10 + i, 1, pid, stamp(T0 + timedelta(hours=i)), "x" * size, url=f"/t/1#{i}")
        for i, (pid, size) in enumerate(zip(people, sizes, strict=True))
    ]
    path = tmp_path / "chaoss.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    stats = summarise(load_dataset(path)).overall
    assert stats["comment_characters"] == sum(CHAOSS)
    assert stats.absence_factor.characters == 2 == raw_absence(dict(enumerate(CHAOSS)))
    assert stats.absence_factor.posts == 4  # one post each: 4 of 8 reach half (>=)
