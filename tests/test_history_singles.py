"""Projects of one snapshot each are versioned in one query per table, with the same result as the
per-project state machine (issue 22: ``summary --history`` on 10,000 tiny exports took 152 s)."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import polars as pl
import pytest

from impactreport.history import versions as V
from impactreport.snapshots import discover


def _export(number: int, extra_column: bool = False) -> dict:
    comment = {
        "comment_id": number,
        "thread_id": number,
        "profile_id": 1,
        "body_md": f"text {number}",
        "body_html": f"<p>text {number}</p>",
        "published": "2017-01-01T00:00:00.000000Z",
    }
    if extra_column:
        comment["likes"] = 3
    return {
        "documents": [],
        "threads": [{"thread_id": number, "profile_id": 1, "document_id": None, "subject": f"s{number}",
                     "published": "2017-01-01T00:00:00.000000Z"}],
        "comments": [comment, {**comment}],  # a duplicate row: the first of its key is kept
        "notes": [],
        "profiles": [{"profile_id": 1, "username": "alice", "first_name": "", "last_name": ""}],
    }  # fmt: skip


def _build(paths: list[Path], per_project: bool, monkeypatch: pytest.MonkeyPatch) -> V.Versions:
    if per_project:  # every project as if it had several snapshots: the state machine's path
        monkeypatch.setattr(V, "Counter", lambda _: collections.defaultdict(lambda: 2))
    try:
        return V.build_projects(discover(paths, all_snapshots=True), paths)
    finally:
        monkeypatch.undo()


def test_single_snapshot_projects_equal_the_per_project_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for number in range(1, 6):
        (folder / f"p{number}.json").write_text(json.dumps(_export(number, extra_column=number == 3)))
    fast = _build([folder], per_project=False, monkeypatch=monkeypatch)
    slow = _build([folder], per_project=True, monkeypatch=monkeypatch)
    order = ["source", "project", "key", "first_seq"]
    assert fast.snapshots.sort("project").equals(slow.snapshots.sort("project"))
    for name in ("threads", "comments", "profiles"):
        a, b = fast.tables[name].sort(order), slow.tables[name]
        assert a.height == 5
        assert a.equals(b.select(a.columns).sort(order)), name


def test_projects_whose_columns_differ_are_hashed_apart() -> None:
    """The hash covers a project's own columns: two layouts are two queries, each as its project has it."""
    one = pl.DataFrame({"profile_id": [1], "username": ["a"]})
    two = pl.DataFrame({"profile_id": [1], "username": ["a"], "url": ["u"]})
    out = V.single_snapshot_versions([("s", "p1", {"profiles": one}), ("s", "p2", {"profiles": two})])
    first, second = out["profiles"]
    assert first["hash"].to_list() == one.select(V.content_hash(one.columns))["profile_id"].to_list()
    assert second["hash"].to_list() == two.select(V.content_hash(two.columns))["profile_id"].to_list()
    assert "url" not in first.columns and second["url"].to_list() == ["u"]
