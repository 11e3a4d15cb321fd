"""The loader: on the real Thinklab exports (every format, row counts from the data's README, key recovery),
and on small files built here (sources kept apart, a document's introduction measured with its body)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from impactreport import load_dataset
from impactreport.cli.main import main
from impactreport.load.formats import detect_format, normalise
from impactreport.load.read import read_export
from impactreport.load.resolve import resolve_keys
from impactreport.metrics import text_metrics
from impactreport.schema import TABLES, polars_schema
from tests import builders
from tests.builders import write_export

shared = pytest.mark.shared  # needs ../shared (the fixtures skip with the reason when it is absent)

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


@shared
def test_latest_row_counts_per_project(latest_dir: Path) -> None:
    dataset = load_dataset(latest_dir)
    assert sorted(dataset.projects, key=str.lower) == sorted(LATEST_ROWS, key=str.lower)
    for project, expected in LATEST_ROWS.items():
        assert _counts(dataset, project) == expected, project
    assert dataset.warnings == ()
    assert dataset.usernames_known


@shared
@pytest.mark.parametrize("folder", sorted(SNAPSHOT_ROWS))
def test_every_snapshot_set_loads_with_readme_counts(thinklab_dir: Path, folder: str) -> None:
    export_format, *totals, rephetio_comments = SNAPSHOT_ROWS[folder]
    dataset = load_dataset(thinklab_dir / "snapshots" / folder)
    assert set(dataset.snapshots["format"].to_list()) == {export_format}
    assert tuple(getattr(dataset, t).height for t in TABLE_ORDER) == tuple(totals)
    assert dataset.comments.filter(pl.col("project") == "rephetio").height == rephetio_comments
    assert dataset.posts.height == totals[0] + totals[2] + totals[3]


@shared
def test_every_table_has_the_documented_schema(thinklab_dir: Path) -> None:
    for path in sorted((thinklab_dir / "formats").iterdir()):
        dataset = load_dataset(path)
        for table in TABLES:
            assert getattr(dataset, table).schema == polars_schema(table), (path.name, table)


@shared
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


@shared
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


@shared
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


@shared
def test_profiles_are_global_people(latest_dir: Path) -> None:
    dataset = load_dataset(latest_dir)
    people: dict[int, set[str]] = {}
    for path in latest_dir.glob("*.json"):
        for profile in json.loads(path.read_text())["profiles"]:
            people.setdefault(int(profile["profile_id"]), set()).add(path.stem)
    assert dataset.profiles.height == sum(len(v) for v in people.values())  # one row per person and project
    assert dataset.posts["profile_id"].drop_nulls().n_unique() == len(people)
    authored = dataset.posts.filter(pl.col("kind") != "document")
    assert authored["person"].null_count() == 0
    assert set(authored["person"]) == {f"thinklab:{pid}" for pid in people}
    for table in TABLES:
        assert set(getattr(dataset, table)["source"]) == {"thinklab"}, table
    assert sum(1 for v in people.values() if len(v) > 1) == 14  # the data README: 14 ids in several projects
    assert max(len(v) for v in people.values()) == 7


@shared
def test_times_are_utc_and_retrieved_is_kept(latest_dir: Path) -> None:
    dataset = load_dataset(latest_dir)
    assert dataset.posts.schema["published"] == pl.Datetime("us", "UTC")
    retrieved = dict(zip(dataset.snapshots["project"], dataset.snapshots["retrieved"], strict=True))
    assert retrieved["rephetio"].isoformat() == "2017-09-09T23:29:47.925703+00:00"
    assert dataset.posts["published"].null_count() == 0


# --- small files built here -------------------------------------------------------------------------


def _write(path: Path, data: dict) -> Path:
    return write_export(path, data)


def _export(
    profile_id: int, username: str, *, source: str | None = None, note: bool = False, **ids: int
) -> dict:
    """One thread, one comment (and a note) by one person, format C; ``ids`` sets thread/comment/note ids."""
    thread_id, comment_id, note_id = (
        ids.get("thread_id", 1),
        ids.get("comment_id", 10),
        ids.get("note_id", 20),
    )
    notes = [
        builders.note(
            note_id,
            comment_id,
            profile_id,
            "2016-01-02T00:00:00.000000Z",
            "n",
            url=f"/t/{thread_id}#note-{note_id}",
        )
    ]
    return builders.export(
        threads=[
            builders.thread(thread_id, profile_id, "2016-01-01T00:00:00.000001Z", url=f"/t/{thread_id}")
        ],
        comments=[
            builders.comment(
                comment_id, thread_id, profile_id, "2016-01-01T00:00:00.000002Z", body=username, url="/c"
            )
        ],
        notes=notes if note else [],
        profiles=[builders.profile(profile_id, username)],
        retrieved="2017-01-01T00:00:00.000000Z",
        source=source,
    )


def test_sources_are_namespaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Thinklab profile 172 and Discourse user 172 are two people; same ids in one project name stay apart."""
    thinklab = _write(tmp_path / "meta.json", _export(172, "ann"))
    store = tmp_path / "data" / "exports"
    # Two snapshots of a Discourse project also called "meta", with the same thread, comment and note ids.
    _write(
        store / "discourse" / "meta" / "2017-01-01T000000Z.json.gz", _export(172, "bob", source="discourse")
    )
    _write(
        store / "discourse" / "meta" / "2017-02-01T000000Z.json.gz",
        _export(172, "Bob", source="discourse", note=True),
    )
    # A store file without a `source` field: its source is the store folder it sits in.
    _write(
        store / "github" / "owner-repo" / "2017-01-01T000000Z.json.gz",
        _export(172, "cy", thread_id=2, comment_id=30),
    )
    dataset = load_dataset([thinklab, tmp_path / "data"], all_snapshots=True)
    assert dataset.warnings == ()
    people = dataset.posts.select("source", "project", "kind", "person", "username").sort("source", "kind")
    assert people.rows() == [
        ("discourse", "meta", "comment", "discourse:172", "Bob"),
        ("discourse", "meta", "note", "discourse:172", "Bob"),
        ("github", "owner-repo", "comment", "github:172", "cy"),
        ("thinklab", "meta", "comment", "thinklab:172", "ann"),
    ]
    # Rows are merged per (source, project, id): the Discourse thread does not replace the Thinklab one.
    assert sorted(dataset.threads.select("source", "project", "thread_id").rows()) == [
        ("discourse", "meta", 1),
        ("github", "owner-repo", 2),
        ("thinklab", "meta", 1),
    ]
    assert dataset.profiles.select("source", "profile_id", "username").sort("source").rows() == [
        ("discourse", 172, "Bob"),
        ("github", 172, "cy"),
        ("thinklab", 172, "ann"),
    ]
    assert dict(dataset.snapshots.select("path", "source").rows())[str(thinklab)] == "thinklab"
    for table in TABLES:
        assert getattr(dataset, table)["source"].null_count() == 0, table
    # The summary counts three people, not one "172".
    assert main(["summary", str(thinklab), str(tmp_path / "data"), "--all-snapshots", "--json"]) in (0, None)
    assert json.loads(capsys.readouterr().out)["overall"]["contributors"] == 3


@shared
def test_a_recorded_discourse_topic_and_a_thinklab_profile_with_the_same_id(
    fixtures_dir: Path, latest_dir: Path, tmp_path: Path
) -> None:
    """A Discourse snapshot mapped from a recorded topic, beside real Thinklab exports: ids collide, people do not."""
    from impactreport.fetch.mapping import assemble, discourse_topic

    topic = json.loads((fixtures_dir / "discourse" / "t_1148.perceval.json").read_text())
    forum = assemble(
        [discourse_topic(topic, topic["post_stream"]["posts"], "https://forum.example")], "discourse"
    )
    colliding = 2544  # the topic's author on the forum
    assert colliding in {row["profile_id"] for row in forum["profiles"]}
    meta = json.loads((latest_dir / "meta.json").read_text())
    thinklab_id = meta["profiles"][0]["profile_id"]
    # Give the forum user the id of a real Thinklab author, as two sources can.
    for table in ("threads", "comments", "profiles"):
        for row in forum[table]:
            if row.get("profile_id") == colliding:
                row["profile_id"] = thinklab_id
    data = tmp_path / "data" / "exports"
    _write(data / "discourse" / "forum" / "2025-01-01T000000Z.json.gz", forum)
    shutil.copy(latest_dir / "meta.json", tmp_path / "meta.json")
    dataset = load_dataset([tmp_path / "data", tmp_path / "meta.json"])
    authored = dataset.posts.filter(pl.col("kind") != "document", pl.col("profile_id") == thinklab_id)
    by_person = dict(authored.group_by("person").agg(pl.col("username").unique()).rows())
    assert by_person == {
        f"thinklab:{thinklab_id}": [meta["profiles"][0]["username"]],
        f"discourse:{thinklab_id}": ["gorhill"],
    }
    contributors = dataset.posts.filter(pl.col("kind") != "document")["person"].n_unique()
    forum_people = len({row["profile_id"] for row in forum["comments"]})
    assert contributors == len({p["profile_id"] for p in meta["profiles"]}) + forum_people


def test_document_intro_is_measured_with_its_own_document(tmp_path: Path) -> None:
    """Each document's text is its introduction plus its body, matched by key whatever the row order."""
    documents: dict[str, list[tuple[int, str | None, str, str]]] = {
        "small": [(101, "<p>a</p>", "<p>body one</p>", "[@10.1/x]")],
        "large": [
            (201, "<p>an introduction of six words here</p>", "<p>b</p>", ""),
            (202, None, "<p>a body of five words</p>", ""),
            (203, '<p><a class="citation" href="/doi/10.2/y">c</a></p>', "<p>body</p>", "[@10.1/x]"),
        ],
    }
    for project, rows in documents.items():
        data = _export(1, "ann", comment_id=len(project))
        data["threads"][0]["thread_id"] = data["comments"][0]["thread_id"] = len(project)
        data["documents"] = [
            {
                "document_id": i,
                "intro_html": intro,
                "intro_md": "",
                "body_html": body,
                "body_md": md,
                "doc_published": "2016-01-01T00:00:00.000000Z",
                "url": f"/p/{project}",
                "views": 1,
            }
            for i, intro, body, md in rows
        ]
        _write(tmp_path / f"{project}.json", data)
    dataset = load_dataset(tmp_path)
    posts = dataset.posts.filter(pl.col("kind") == "document").sort("post_id")
    expected = []
    for _, rows in sorted(documents.items(), key=lambda item: item[1][0][0]):
        for _, intro, body, md in rows:
            frame = pl.DataFrame({"body_md": [md, ""], "body_html": [body, intro]})
            measured = text_metrics(frame)
            dois = sorted(set(measured["dois"][0].to_list()) | set(measured["dois"][1].to_list()))
            expected.append((measured["characters"].sum(), measured["words"].sum(), dois))
    assert posts.select("characters", "words", "dois").rows() == expected
    assert posts["characters"].to_list() == [1 + 8, 33 + 1, 20, 1 + 4]
    assert posts["dois"].to_list()[3] == ["10.1/x", "10.2/y"]


@shared
def test_small_exports_read_together_equal_one_at_a_time(
    thinklab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small exports are parsed a batch at a time, one call per JSON shape: the dataset is exactly the
    one read file by file, on the small real snapshots of every format and on variants that change a
    file's shape (explicit nulls, ids as text, an extra nested key, empty tables, a table of nulls,
    a retrieval time that is not text, a counter that is not a whole number)."""
    from impactreport.load import small

    tree = tmp_path / "tree"
    tree.mkdir()
    for path in sorted(thinklab_dir.glob("snapshots/*/*.json.gz")):
        if len(gzip.decompress(path.read_bytes())) <= small.SMALL_EXPORT_BYTES:
            shutil.copy(path, tree / f"{path.parent.name}-{path.name}")
    base = json.loads((thinklab_dir / "latest" / "issnindiadatabase.json").read_text(encoding="utf-8"))

    def variant(name: str, change) -> None:
        export = json.loads(json.dumps(base))
        change(export)
        _write(tree / f"variant-{name}.json", export)

    variant("null-doi", lambda e: e["documents"][0].update(doi=None))
    variant("ids-as-text", lambda e: [c.update(comment_id=str(c["comment_id"])) for c in e["comments"]])
    variant("nested", lambda e: e["threads"][0].update(extra={"a": 1, "b": [1, 2]}))
    variant("empty", lambda e: e.update(comments=[], notes=[]))
    variant("nulls", lambda e: e.update(notes=[None]))
    variant("retrieved-number", lambda e: e.update(retrieved=20170909))
    variant("thread-profiles-null", lambda e: [t.update(profile_id=None) for t in e["threads"]])
    variant("views-text", lambda e: e["threads"][0].update(views="12k"))
    assert len(list(tree.iterdir())) > 60

    stacked_calls: list[int] = []
    original = small.parse_stacked

    def counting(exports):
        stacked_calls.append(len(exports))
        return original(exports)

    monkeypatch.setattr("impactreport.load.batch.parse_stacked", counting)
    together = load_dataset(tree)
    assert max(stacked_calls) > 10  # files of one shape were parsed in one call
    monkeypatch.setattr(small, "SMALL_EXPORT_BYTES", 0)
    alone = load_dataset(tree)
    for table in TABLES:
        assert_frame_equal(getattr(together, table), getattr(alone, table))
    assert together.warnings == alone.warnings
    assert together.usernames_known == alone.usernames_known


@shared
def test_read_files_without_measuring_gives_each_files_rows(thinklab_dir: Path) -> None:
    """The batched reader without a metrics pool (what another reader of many files can use): each
    file's rows equal those of that file read and normalised alone."""
    from impactreport.load.batch import read_files
    from impactreport.snapshots import find

    files = find(
        [thinklab_dir / "snapshots" / "2016-05-04", thinklab_dir / "latest"], all_snapshots=True
    ).files
    assert len(files) == 20
    loaded = read_files(files, None, [file.path.stat().st_size for file in files])
    assert sorted(loaded.files) == list(range(len(files)))
    for index, file in enumerate(files):
        raw = read_export(file.path)
        alone = normalise(raw.tables, detect_format(raw.tables, path=file.path), path=file.path)
        batched = loaded.tables_of(index)
        assert loaded.files[index].export_format == detect_format(raw.tables)
        for table, frame in alone.items():
            assert_frame_equal(batched[table], frame)
