"""Projects of one snapshot each are versioned in one query per table, with the same result as the
per-project state machine (issue 22: ``summary --history`` on 10,000 tiny exports took 152 s)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from impactreport.history import versions as V
from impactreport.snapshots import discover
from impactreport.timefmt import iso_z
from tests import builders
from tests.builders import comment, profile, thread


def _export(number: int, extra_column: bool = False) -> dict:
    row = comment(number, number, body=f"text {number}")
    if extra_column:
        row["likes"] = 3
    return builders.export(
        threads=[thread(number, subject=f"s{number}")],
        comments=[row, {**row}],  # a duplicate row: the first of its key is kept
        profiles=[profile(1, "alice")],
    )


def _build(paths: list[Path], per_project: bool) -> V.Versions:
    """``per_project``: every project through the per-project state machine, the path compared with."""
    return V.build_projects(discover(paths, all_snapshots=True), paths, batch_singles=not per_project)


def test_single_snapshot_projects_equal_the_per_project_path(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for number in range(1, 6):
        (folder / f"p{number}.json").write_text(json.dumps(_export(number, extra_column=number == 3)))
    fast = _build([folder], per_project=False)
    slow = _build([folder], per_project=True)
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
    origin = {"source": pl.lit("s"), "project": pl.lit("p1")}
    parts = [one.with_columns(**origin), two.with_columns(**origin | {"project": pl.lit("p2")})]
    out = V.single_snapshot_versions({"profiles": parts})
    first, second = out["profiles"]
    assert first["hash"].to_list() == one.select(V.content_hash(one.columns))["profile_id"].to_list()
    assert second["hash"].to_list() == two.select(V.content_hash(two.columns))["profile_id"].to_list()
    assert "url" not in first.columns and second["url"].to_list() == ["u"]


def _iso(moment: object) -> str | None:
    return iso_z(moment) if isinstance(moment, datetime) else None


def _one_level(
    snapshots: pl.DataFrame, changes: pl.DataFrame, seen: pl.DataFrame, deleted: pl.DataFrame
) -> dict[str, Any]:
    """The levels by filtering, one project at a time (the computation the grouped query replaced)."""
    revisions = changes.filter("revision")
    kinds = revisions["kind"].value_counts()
    by_kind = dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True))
    inserted = int(revisions["inserted"].sum() or 0)
    return {
        "snapshots": snapshots.height,
        "first_snapshot": _iso(snapshots["retrieved"].min()),
        "last_snapshot": _iso(snapshots["retrieved"].max()),
        "revisions": revisions.height,
        "comment_revisions": int(by_kind.get("comment", 0)),
        "note_revisions": int(by_kind.get("note", 0)),
        "document_revisions": int(by_kind.get("document", 0)),
        "edited_posts": revisions.select("source", "project", "kind", "key").n_unique()
        if revisions.height
        else 0,
        "inserted_characters": inserted,
        "deleted_characters": int(revisions["deleted"].sum() or 0),
        "written_characters": int(seen["characters"].sum() or 0) + inserted,
        "rerenders": int(changes["rerender"].sum() or 0),
        "deleted_posts": deleted.height,
    }


def test_per_project_levels_equal_one_filter_per_project(tmp_path: Path) -> None:
    """The revisions summary per project comes from one aggregation per table (10,000 projects spent
    12 s in five filters each); it must equal the per-project computation, edits and deletions included."""
    import gzip

    from impactreport.history import revisions as R
    from impactreport.history.cache import load_versions

    for project in ("alpha", "beta", "gamma"):
        folder = tmp_path / "data" / "exports" / "thinklab" / project
        folder.mkdir(parents=True)
        for day, edit in ((1, ""), (2, " edited"), (3, " edited again")):
            export = _export(len(project))
            export["comments"] = (
                export["comments"][:1] if day == 3 and project == "beta" else export["comments"]
            )
            export["comments"][0] = {**export["comments"][0], "body_md": f"text{edit}", "comment_id": 1}
            export["comments"][-1] = {**export["comments"][-1], "comment_id": 2}
            export["retrieved"] = f"2017-01-0{day}T00:00:00.000000Z"
            (folder / f"2017-01-0{day}T000000Z.json.gz").write_bytes(
                gzip.compress(json.dumps(export).encode())
            )
    versions = load_versions([tmp_path / "data"], lambda _: None)
    summary = R.summarise(versions)
    posts = R.post_versions(versions)
    changes, seen = R.events(versions, posts), R.first_seen(versions, posts)
    deleted = R.deletions(versions, posts)
    assert sum(level["revisions"] for level in summary["projects"].values()) > 0  # the demo has edits
    for name, level in summary["projects"].items():
        mine = pl.col("project") == name
        parts = (versions.snapshots, changes, seen, deleted)
        assert level == _one_level(*(part.filter(mine) for part in parts)), name
    assert summary["overall"] == _one_level(*parts)
