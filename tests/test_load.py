"""The loader on the real Thinklab exports: every format, row counts from the data's README, key recovery."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from impactreport import load_dataset
from impactreport.load.formats import detect_format, normalise
from impactreport.load.read import read_export
from impactreport.load.resolve import resolve_keys
from impactreport.schema import TABLES, polars_schema

pytestmark = pytest.mark.shared

# ../shared/thinklab/README.md, "Rows in latest/": documents, threads, comments, notes, profiles
LATEST_ROWS = {
    "dFoxPoperant": (1, 3, 5, 0, 2),
    "EdgeProject": (1, 4, 12, 0, 3),
    "HHMI_Bcr_Abl": (1, 5, 97, 0, 6),
    "issnindiadatabase": (1, 2, 2, 0, 2),
    "LWT_FOR_OPEN_SCIENCE": (1, 1, 0, 0, 0),
    "meta": (1, 43, 188, 80, 16),
    "MicrobeResist": (1, 8, 21, 7, 7),
    "pathways4life": (1, 10, 39, 3, 5),
    "rephetio": (3, 86, 622, 191, 48),
    "thinklabOSP": (1, 9, 177, 1, 6),
}

# The README's snapshot table: folder -> (format, documents, threads, comments, notes, profiles, rephetio comments)
SNAPSHOT_ROWS = {
    "2016-04-09": ("A", 11, 146, 909, 211, 83, 400),
    "2016-04-19": ("B", 11, 151, 952, 227, 84, 420),
    "2016-05-04": ("B", 11, 155, 963, 232, 84, 428),
    "2016-05-09": ("B", 11, 157, 971, 238, 84, 436),
    "2016-06-02": ("C", 11, 161, 988, 240, 87, 452),
    "2016-08-06": ("C", 11, 164, 1006, 241, 90, 467),
    "2016-09-01": ("C", 11, 164, 1011, 244, 90, 470),
    "2016-10-01": ("C", 11, 165, 1022, 244, 91, 481),
    "2016-11-01": ("C", 11, 165, 1030, 252, 91, 489),
    "2016-12-01": ("C", 12, 167, 1056, 256, 91, 515),
    "2017-01-01": ("C", 12, 169, 1113, 271, 93, 572),
    "2017-02-01": ("C", 12, 171, 1143, 281, 95, 602),
    "2017-03-01": ("C", 12, 171, 1149, 281, 95, 608),
    "2017-04-01": ("C", 12, 171, 1155, 282, 95, 614),
    "2017-05-01": ("C", 12, 171, 1159, 282, 95, 618),
    "2017-06-01": ("C", 12, 171, 1161, 282, 95, 620),
    "2017-07-01": ("C", 12, 171, 1161, 282, 95, 620),
    "2017-08-01": ("C", 12, 171, 1163, 282, 95, 622),
    "2017-08-02": ("C", 12, 171, 1163, 282, 95, 622),
    "2017-09-01": ("C", 12, 171, 1163, 282, 95, 622),
    "2017-09-09": ("C", 12, 171, 1163, 282, 95, 622),
}

TABLE_ORDER = ("documents", "threads", "comments", "notes", "profiles")


def _counts(dataset, project: str) -> tuple[int, ...]:
    return tuple(getattr(dataset, t).filter(pl.col("project") == project).height for t in TABLE_ORDER)


def test_latest_row_counts_per_project(latest_dir: Path) -> None:
    dataset = load_dataset(latest_dir)
    assert sorted(dataset.projects, key=str.lower) == sorted(LATEST_ROWS, key=str.lower)
    for project, expected in LATEST_ROWS.items():
        assert _counts(dataset, project) == expected, project
    assert dataset.warnings == ()
    assert dataset.usernames_known


@pytest.mark.parametrize("folder", sorted(SNAPSHOT_ROWS))
def test_every_snapshot_set_loads_with_readme_counts(thinklab_dir: Path, folder: str) -> None:
    export_format, *totals, rephetio_comments = SNAPSHOT_ROWS[folder]
    dataset = load_dataset(thinklab_dir / "snapshots" / folder)
    assert set(dataset.snapshots["format"].to_list()) == {export_format}
    assert tuple(getattr(dataset, t).height for t in TABLE_ORDER) == tuple(totals)
    assert dataset.comments.filter(pl.col("project") == "rephetio").height == rephetio_comments
    assert dataset.posts.height == totals[0] + totals[2] + totals[3]


def test_every_table_has_the_documented_schema(thinklab_dir: Path) -> None:
    for path in sorted((thinklab_dir / "formats").iterdir()):
        dataset = load_dataset(path)
        for table in TABLES:
            assert getattr(dataset, table).schema == polars_schema(table), (path.name, table)


def test_three_formats_of_meta_agree_where_they_overlap(thinklab_dir: Path) -> None:
    """A, B and B′ files of project meta, read as one project each: same people write the same texts."""
    by_format = {}
    for path in sorted((thinklab_dir / "formats").iterdir()):
        raw = read_export(path)
        by_format[detect_format(raw.tables)] = load_dataset(path)
    assert set(by_format) == {"A", "B", "B′"}
    a, b_prime = by_format["A"], by_format["B′"]
    # Format A (2016-04-08) is older than B′ (2016-05-09): every A comment is in B′ with the same id,
    # thread, author and time (A has millisecond precision).
    joined = a.comments.join(b_prime.comments, on="comment_id", suffix="_b")
    assert joined.height == a.comments.height
    assert (joined["thread_id"] == joined["thread_id_b"]).all()
    assert (joined["profile_id"] == joined["profile_id_b"]).all()
    assert (joined["published"].dt.truncate("1ms") == joined["published_b"].dt.truncate("1ms")).all()


def test_format_b_keys_recovered_from_a_snapshot_with_ids(thinklab_dir: Path) -> None:
    formats = thinklab_dir / "formats"
    b = read_export(formats / "2016-04-19-rest-without-ids-meta.json.gz")
    b_prime = read_export(formats / "2016-05-09-rest-bare-id-meta.json.gz")
    assert detect_format(b.tables) == "B" and detect_format(b_prime.tables) == "B′"
    resolved = resolve_keys(normalise(b.tables, "B"), normalise(b_prime.tables, "B′"))
    assert resolved["comments"]["comment_id"].null_count() == 0
    assert resolved["profiles"]["profile_id"].null_count() == 0
    assert resolved["threads"]["thread_id"].null_count() == 0
    # Independent check: a comment's url (thread path + #position) also identifies it in B′.
    ids_by_url = dict(zip(b_prime.tables["comments"]["url"], b_prime.tables["comments"]["id"], strict=True))
    urls = b.tables["comments"]["url"].to_list()
    assert [ids_by_url[u] for u in urls] == resolved["comments"]["comment_id"].to_list()
    usernames = dict(
        zip(b_prime.tables["profiles"]["username"], b_prime.tables["profiles"]["id"], strict=True)
    )
    assert resolved["profiles"]["profile_id"].to_list() == [
        usernames[u] for u in b.tables["profiles"]["username"]
    ]


def test_format_b_in_a_tree_resolves_usernames(thinklab_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "exports" / "thinklab" / "meta"
    store.mkdir(parents=True)
    shutil.copy(
        thinklab_dir / "formats" / "2016-04-19-rest-without-ids-meta.json.gz",
        store / "2016-04-19T010910Z.json.gz",
    )
    alone = load_dataset(store / "2016-04-19T010910Z.json.gz")
    assert not alone.usernames_known
    assert alone.posts.filter(pl.col("kind") != "document")["username"].null_count() > 0
    shutil.copy(
        thinklab_dir / "formats" / "2016-05-09-rest-bare-id-meta.json.gz",
        store / "2016-05-09T204900Z.json.gz",
    )
    both = load_dataset(tmp_path / "exports", all_snapshots=True)
    assert both.usernames_known
    assert both.posts.filter(pl.col("kind") != "document")["username"].null_count() == 0
    assert both.snapshots.height == 2
    assert both.snapshots["retrieved"].dt.year().to_list() == [2016, 2016]


def test_profiles_are_global_people(latest_dir: Path) -> None:
    import json

    dataset = load_dataset(latest_dir)
    people: dict[int, set[str]] = {}
    for path in latest_dir.glob("*.json"):
        for profile in json.loads(path.read_text())["profiles"]:
            people.setdefault(int(profile["profile_id"]), set()).add(path.stem)
    assert dataset.profiles.height == sum(len(v) for v in people.values())  # one row per person and project
    assert dataset.posts["profile_id"].drop_nulls().n_unique() == len(people)
    assert sum(1 for v in people.values() if len(v) > 1) == 14  # the data README: 14 ids in several projects
    assert max(len(v) for v in people.values()) == 7


def test_times_are_utc_and_retrieved_is_kept(latest_dir: Path) -> None:
    dataset = load_dataset(latest_dir)
    assert dataset.posts.schema["published"] == pl.Datetime("us", "UTC")
    retrieved = dict(zip(dataset.snapshots["project"], dataset.snapshots["retrieved"], strict=True))
    assert retrieved["rephetio"].isoformat() == "2017-09-09T23:29:47.925703+00:00"
    assert dataset.posts["published"].null_count() == 0
