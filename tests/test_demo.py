"""The demo exports: deterministic, real format C, consistent keys, growing snapshots, the promised shape.

Every check reads the written files back with the standard library (gzip, json) rather than trusting
the generator's own bookkeeping.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from impactreport.cli.demo import command
from impactreport.demo import DEMO_TEAM, marker_text, write_demo
from impactreport.demo import writer as demo_writer
from impactreport.demo.writer import Growing, Member, write_snapshots
from impactreport.layout import DEMO_MARKER

KEYS = {
    "documents": {
        "document_id",
        "title",
        "intro_md",
        "intro_html",
        "body_md",
        "body_html",
        "doc_published",
        "topic_field",
        "doi",
        "url",
        "views",
    },
    "threads": {
        "thread_id",
        "profile_id",
        "document_id",
        "subject",
        "published",
        "topic_field",
        "doi_field",
        "doi",
        "url",
        "views",
    },
    "comments": {"comment_id", "thread_id", "profile_id", "body_md", "body_html", "published", "url"},
    "notes": {"note_id", "comment_id", "profile_id", "body_md", "body_html", "added", "url"},
    "profiles": {"profile_id", "username", "first_name", "last_name", "url"},
}
ID = {"documents": "document_id", "threads": "thread_id", "comments": "comment_id", "notes": "note_id"}
TIME = {"threads": "published", "comments": "published", "notes": "added"}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def read(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def tree(root: Path) -> dict[str, list[Path]]:
    """project -> snapshot files, oldest first (names are UTC stamps, so they sort by time)."""
    out: dict[str, list[Path]] = {}
    for path in sorted((root / "exports" / "thinklab").glob("*/*.json.gz")):
        out.setdefault(path.parent.name, []).append(path)
    return out


def newest(root: Path) -> dict[str, dict]:
    return {project: read(files[-1]) for project, files in tree(root).items()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    write_demo(root)
    return root


def test_same_seed_same_bytes_other_seed_other_bytes(demo: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    other = tmp_path / "other"
    paths = write_demo(again)
    write_demo(other, seed=8)
    first = {p.relative_to(demo): p.read_bytes() for p in demo.rglob("*.json.gz")}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*.json.gz")}
    assert first == second
    assert sorted(p.relative_to(again) for p in paths) == sorted(second)
    # every file of the tree, the marker included
    everything = {p.relative_to(demo): p.read_bytes() for p in demo.rglob("*") if p.is_file()}
    assert everything == {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    third = {p.relative_to(other): p.read_bytes() for p in other.rglob("*.json.gz")}
    assert set(first.values()).isdisjoint(third.values())


def test_layout_atomic_and_plain_gzip(demo: Path) -> None:
    files = tree(demo)
    assert len(files) >= 5
    assert all(len(snapshots) == 6 for snapshots in files.values())
    everything = list(demo.rglob("*"))
    hidden = [p for p in everything if p.name.startswith(".")]
    assert hidden == [demo / DEMO_MARKER], "temporary files left behind"
    for snapshots in files.values():
        for path in snapshots:
            data = path.read_bytes()
            assert data[:4] == b"\x1f\x8b\x08\x00" and data[4:8] == b"\0\0\0\0", "gzip with mtime 0"
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z\.json\.gz", path.name)
    if shutil.which("gzip"):  # an independent implementation checks CRC and length
        check = subprocess.run(["gzip", "-t", *map(str, demo.rglob("*.json.gz"))], capture_output=True)
        assert check.returncode == 0, check.stderr


def check_format(root: Path) -> None:
    for snapshots in tree(root).values():
        for path in snapshots:
            raw = gzip.decompress(path.read_bytes())
            export = json.loads(raw)
            # the real exports' layout: indent 2, sorted keys, raw UTF-8, no trailing newline
            assert json.dumps(export, indent=2, sort_keys=True, ensure_ascii=False).encode() == raw
            assert set(export) == {*KEYS, "retrieved"}
            assert STAMP.match(export["retrieved"])
            stamp = export["retrieved"]
            assert path.name == f"{stamp[:10]}T{stamp[11:13]}{stamp[14:16]}{stamp[17:19]}Z.json.gz"
            for table, keys in KEYS.items():
                for row in export[table]:
                    assert set(row) == keys, (path, table)
            for table, key in ID.items():
                ids = [row[key] for row in export[table]]
                assert all(type(i) is int for i in ids)
                assert ids == sorted(set(ids)), f"{table} sorted by unique id"
            for table, key in TIME.items():
                assert all(STAMP.match(row[key]) for row in export[table])
            for row in export["threads"] + export["documents"]:
                assert type(row["views"]) is int and row["views"] >= 0
            assert all(type(p["profile_id"]) is int for p in export["profiles"])


def check_keys(root: Path) -> None:
    for snapshots in tree(root).values():
        for path in snapshots:
            export = read(path)
            threads = {t["thread_id"]: t for t in export["threads"]}
            comments = {c["comment_id"]: c for c in export["comments"]}
            documents = {d["document_id"] for d in export["documents"]}
            assert len(documents) == 1
            assert all(c["thread_id"] in threads for c in comments.values())
            assert all(n["comment_id"] in comments for n in export["notes"])
            authors = {c["profile_id"] for c in comments.values()} | {
                n["profile_id"] for n in export["notes"]
            }
            assert {p["profile_id"] for p in export["profiles"]} == authors
            openers = {t["profile_id"] for t in threads.values()} - {None}
            assert openers <= authors
            for thread in threads.values():
                if thread["profile_id"] is None:
                    assert thread["document_id"] in documents
                    assert thread["url"] == f"/doc/{thread['document_id']}/review"
                else:
                    assert thread["document_id"] is None
            for comment in comments.values():
                assert comment["published"] >= threads[comment["thread_id"]]["published"]
            for note in export["notes"]:
                assert note["added"] >= comments[note["comment_id"]]["published"]


def check_urls(root: Path) -> None:
    for project, export in newest(root).items():
        threads = {t["thread_id"]: t for t in export["threads"]}
        position: Counter[int] = Counter()
        for comment in export["comments"]:  # id order
            thread = threads[comment["thread_id"]]
            position[thread["thread_id"]] += 1
            n = position[thread["thread_id"]]
            review = thread["profile_id"] is None
            expected = thread["url"] if n == 1 and not review else f"{thread['url']}#{n}"
            assert comment["url"] == expected
        comments = {c["comment_id"]: c for c in export["comments"]}
        for note in export["notes"]:
            thread = threads[comments[note["comment_id"]]["thread_id"]]
            assert note["url"] == f"{thread['url']}#note-{note['note_id']}"
        for thread in threads.values():
            assert thread["doi"] == f"10.15363/thinklab.d{thread['thread_id']}"
            if thread["profile_id"] is not None:
                assert re.fullmatch(rf"/discussion/[a-z0-9-]+/{thread['thread_id']}", thread["url"])
        for profile in export["profiles"]:
            assert profile["url"] == f"/u/{profile['username']}"
        (document,) = export["documents"]
        assert document["doi"] == f"10.15363/thinklab.a{document['document_id']}"
        assert document["url"] == f"/p/{project}"


def check_growth(root: Path) -> None:
    for snapshots in tree(root).values():
        exports = [read(path) for path in snapshots]
        assert [e["retrieved"] for e in exports] == sorted(e["retrieved"] for e in exports)
        for before, after in itertools.pairwise(exports):
            for table, key in ID.items():
                old = {row[key]: row for row in before[table]}
                new = {row[key]: row for row in after[table]}
                assert old.keys() <= new.keys(), f"{table}: a row disappeared"
                for row_id, row in old.items():
                    later = new[row_id]
                    if "views" in row:
                        assert later["views"] >= row["views"]
                    assert {k: v for k, v in row.items() if k != "views"} == {
                        k: v for k, v in later.items() if k != "views"
                    }
                # a prefix in time: what was added happened after the earlier retrieval
                if table in TIME:
                    assert all(row[TIME[table]] <= before["retrieved"] for row in old.values())
                    added = [new[i] for i in new.keys() - old.keys()]
                    assert all(row[TIME[table]] > before["retrieved"] for row in added)
            grown = [
                (t["views"], {x["thread_id"]: x["views"] for x in after["threads"]}[t["thread_id"]])
                for t in before["threads"]
            ]
            assert any(b > a for a, b in grown) or len(grown) < 3, "views grow between snapshots"


def test_format_c_exactly(demo: Path) -> None:
    check_format(demo)


def test_foreign_keys_resolve_and_profiles_are_the_authors(demo: Path) -> None:
    check_keys(demo)


def test_urls_follow_thinklab(demo: Path) -> None:
    check_urls(demo)


def test_snapshots_only_grow_and_views_never_decrease(demo: Path) -> None:
    check_growth(demo)


@pytest.mark.parametrize(
    ("posts", "snapshots", "seed"), [(50, 1, 3), (57, 2, 11), (333, 13, 5), (120, 40, 0)]
)
def test_small_and_odd_sizes_are_still_valid(tmp_path: Path, posts: int, snapshots: int, seed: int) -> None:
    paths = write_demo(tmp_path, posts=posts, snapshots=snapshots, seed=seed)
    assert len(paths) == snapshots * len(tree(tmp_path))
    check_format(tmp_path)
    check_keys(tmp_path)
    check_urls(tmp_path)
    check_growth(tmp_path)
    exports = newest(tmp_path)
    assert sum(len(e["comments"]) + len(e["notes"]) for e in exports.values()) == posts


def test_the_shape_the_report_needs(demo: Path) -> None:
    exports = newest(demo)
    posts = {p: len(e["comments"]) + len(e["notes"]) for p, e in exports.items()}
    total = sum(posts.values())
    assert 1900 <= total <= 2100
    assert max(posts.values()) > 0.5 * total, "one dominant project"
    assert min(posts.values()) < 0.02 * total, "and a tiny one"

    usernames = {p["profile_id"]: p["username"] for e in exports.values() for p in e["profiles"]}
    by_author = Counter(
        usernames[row["profile_id"]] for e in exports.values() for row in e["comments"] + e["notes"]
    )
    owner, count = by_author.most_common(1)[0]
    assert owner == DEMO_TEAM[0] and count > 0.3 * total
    assert set(DEMO_TEAM) <= set(by_author)
    assert sum(by_author[u] for u in DEMO_TEAM) > 0.5 * total
    assert len(by_author) > 20, "a long tail of outsiders"
    # the same person in several projects under one id
    projects_per_id = Counter(p["profile_id"] for e in exports.values() for p in e["profiles"])
    assert max(projects_per_id.values()) >= 5

    everything = [row for e in exports.values() for row in e["comments"] + e["notes"]]
    subjects = {t["subject"] for e in exports.values() for t in e["threads"]}
    assert "<script>alert(1)</script>" in subjects
    names = {f"{p['first_name']} {p['last_name']}" for e in exports.values() for p in e["profiles"]}
    assert any("&" in name and "<b>" in name for name in names)
    reviews = [t for e in exports.values() for t in e["threads"] if t["profile_id"] is None]
    assert len(reviews) >= 2

    md = [row["body_md"] for row in everything]
    html = [row["body_html"] for row in everything]
    assert any(re.search(r"\[@10\.\d{4,}/[^\]]+\]", text) for text in md)
    doi_link = re.compile(
        r'<span class="citation">\[<a href="https://doi\.org/(10\.[^"]+)" class="citation" '
        r'data-key="\1">\d+</a>\]</span>'
    )
    assert any(doi_link.search(text) for text in html)
    assert any(re.search(r'data-key="(?!10\.)[A-Za-z_]+\d*"', text) for text in html)
    assert any("\r\n" in text for text in md) and any("\n" in t and "\r\n" not in t for t in md)
    assert any("&amp;" in text for text in html) and any("&lt;" in text for text in html)
    assert any(re.search(r"[^\x00-\x7f]", text) for text in html)
    assert any("<ul>" in t or "<ol>" in t for t in html) and any("<code>" in t for t in html)
    assert any('<a href="http' in t for t in html)
    # markdown and HTML cite the same things, in the same order
    for row in everything:
        md_keys = re.findall(r"\[@([^\]]+)\]", row["body_md"])
        html_keys = re.findall(r'class="citation" data-key="([^"]+)"', row["body_html"])
        assert md_keys == html_keys

    # activity in waves: the busiest month is far above a typical month
    months = Counter(row.get("published", row.get("added"))[:7] for row in everything)
    ordered = sorted(months.values())
    assert ordered[-1] >= 3 * ordered[len(ordered) // 2]
    assert len(months) >= 20, "activity spread over about two years"


@pytest.mark.parametrize("posts", [500, 20_000])
def test_posts_scales_comments_and_notes(tmp_path: Path, posts: int) -> None:
    write_demo(tmp_path, posts=posts, snapshots=2)
    exports = newest(tmp_path)
    written = sum(len(e["comments"]) + len(e["notes"]) for e in exports.values())
    assert abs(written - posts) <= 0.05 * posts
    notes = sum(len(e["notes"]) for e in exports.values())
    assert 0.1 * posts < notes < 0.3 * posts


def test_one_snapshot(tmp_path: Path) -> None:
    paths = write_demo(tmp_path, posts=100, snapshots=1)
    assert len(paths) == len(tree(tmp_path)) >= 5


def test_the_tree_is_marked_as_demo_data(demo: Path, tmp_path: Path) -> None:
    marker = demo / DEMO_MARKER
    text = marker.read_text(encoding="utf-8")
    assert text == marker_text(2000, 7, 6)
    assert text.count("\n") == 1 and text.endswith("\n"), "one line"
    assert "demo" in text and "impactreport demo" in text and "--posts 2000 --seed 7 --snapshots 6" in text
    # the marker says how the tree was made: other arguments, other line
    write_demo(tmp_path, posts=60, seed=3, snapshots=2)
    assert "--posts 60 --seed 3 --snapshots 2" in (tmp_path / DEMO_MARKER).read_text(encoding="utf-8")


ROWS = [
    {"b": i, "a": f'line\nbreak "quoted" é 🧬 東京 \x07 {i}', "n": None, "f": 1.5, "t": i % 2 == 0}
    for i in range(23)
]


def members(fail_after: int | None = None) -> dict[str, Member]:
    def rows(start: int, stop: int) -> list[dict[str, object]]:
        if fail_after is not None and stop > fail_after:
            raise RuntimeError("disk on fire")
        return [dict(row) for row in ROWS[start:stop]]

    return {
        "rows": Growing([0, 5, 5, 23], rows),
        "empty": Growing([0, 0, 0, 0], rows),
        "nested": lambda k: [{"list": [k, {"z": [], "y": {}}], "obj": {"b": 1, "a": [1, 2]}}, {}],
        "value": lambda k: {"k": k, "none": None, "text": "ünïcode"},
        "plain": lambda k: "2017-01-01T00:00:00.000000Z",
        "zeroes": lambda k: [],
    }


def expected(k: int) -> bytes:
    counts = [0, 5, 5, 23]
    export = {name: m(k) for name, m in members().items() if not isinstance(m, Growing)}
    export.update(rows=ROWS[: counts[k]], empty=[])
    return json.dumps(export, indent=2, sort_keys=True, ensure_ascii=False).encode()


def test_writer_gives_exactly_the_json_dumps_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_writer, "BATCH", 4)  # pieces end inside and at the snapshot boundaries
    paths = [tmp_path / f"{k}.json.gz" for k in range(4)]
    write_snapshots(paths, members())
    for k, path in enumerate(paths):
        data = path.read_bytes()
        assert data[:4] == b"\x1f\x8b\x08\x00" and data[4:8] == b"\0\0\0\0"
        assert gzip.decompress(data) == expected(k)
    if shutil.which("gzip"):
        check = subprocess.run(["gzip", "-t", *map(str, paths)], capture_output=True)
        assert check.returncode == 0, check.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]


def test_writer_failure_leaves_targets_and_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_writer, "BATCH", 4)
    paths = [tmp_path / f"{k}.json.gz" for k in range(4)]
    paths[3].write_bytes(b"the previous snapshot")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_snapshots(paths, members(fail_after=13))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.json.gz"]
    assert paths[3].read_bytes() == b"the previous snapshot"


def test_cli_table_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(command, [str(tmp_path / "d"), "--posts", "300", "--snapshots", "3"])
    assert result.exit_code == 0, result.output
    for word in ("project", "snapshots", "threads", "comments", "notes", "hetnet-atlas", "tiny-pilot"):
        assert word in result.output
    result = runner.invoke(command, [str(tmp_path / "j"), "--posts", "300", "--snapshots", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    exports = newest(tmp_path / "j")
    assert payload["team"] == list(DEMO_TEAM)
    assert set(payload["projects"]) == set(exports)
    for project, export in exports.items():
        counts = payload["projects"][project]
        assert counts["snapshots"] == 3
        for table in ("threads", "comments", "notes", "profiles", "documents"):
            assert counts[table] == len(export[table])
    assert len(payload["files"]) == 3 * len(exports)
    # same arguments, same files: the second run overwrites with identical bytes
    before = {p: p.read_bytes() for p in (tmp_path / "j").rglob("*.json.gz")}
    assert runner.invoke(command, [str(tmp_path / "j"), "--posts", "300", "--snapshots", "3"]).exit_code == 0
    assert before == {p: p.read_bytes() for p in (tmp_path / "j").rglob("*.json.gz")}


def test_cli_rejects_bad_numbers(tmp_path: Path) -> None:
    result = CliRunner().invoke(command, [str(tmp_path), "--posts", "5"])
    assert result.exit_code == 2 and "--posts" in result.output
    assert not (tmp_path / "exports").exists()


def test_unwritable_directory_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from impactreport.cli.main import main

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", str(blocker / "demo"), "--posts", "50"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("impactreport: error: ") and "cannot write the demo exports" in err
    assert "\n" not in err and "Traceback" not in err
    assert blocker.read_text() == "not a folder"


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("impactreport")
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    done = subprocess.run(
        [str(script), "demo", str(tmp_path), "--posts", "200", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    assert sum(p["comments"] + p["notes"] for p in json.loads(done.stdout)["projects"].values()) == 200


def test_loader_counts_match_the_json(demo: Path) -> None:
    load = pytest.importorskip("impactreport.load")
    if not hasattr(load, "load_dataset"):
        pytest.skip("impactreport.load.load_dataset not there yet")
    dataset = load.load_dataset(demo / "exports")
    exports = newest(demo)
    assert sorted(dataset.projects, key=str.lower) == sorted(exports, key=str.lower)
    for table in ("threads", "comments", "notes", "profiles", "documents"):
        counts = dict(dataset.__getattribute__(table).group_by("project").len().iter_rows())
        assert {p: counts.get(p, 0) for p in exports} == {p: len(e[table]) for p, e in exports.items()}, table
    posts = dict(dataset.posts.group_by("kind").len().iter_rows())
    assert posts["comment"] == sum(len(e["comments"]) for e in exports.values())
    assert posts["note"] == sum(len(e["notes"]) for e in exports.values())
    retrieved = {row["project"]: row["retrieved"] for row in dataset.snapshots.iter_rows(named=True)}
    for project, export in exports.items():
        assert retrieved[project].strftime("%Y-%m-%dT%H:%M:%S.%fZ") == export["retrieved"]
    assert not dataset.warnings
