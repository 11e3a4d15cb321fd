"""Hostile input files (issue 15, items 4 and 6): a gzip bomb, counters that are not numbers, odd file names.

- A small ``.json.gz`` that expands to gigabytes is refused with one line naming the file, the limit
  and how to raise it, having decompressed no more than the limit (the loader, the views loader and
  the archive import share one reader).
- A ``views`` value that is not a whole number is null with a warning naming the file and the field
  and counting the rows; every other number is unchanged. An id that is not a whole number is an error.
- ``fetch archive`` takes file names with spaces, quotes, non-ASCII letters and a leading dash; the
  history of a repository lists even names with a tab or a newline.

Every test here fails on the code before the change: there was no limit (the bomb ended in a
``MemoryError`` traceback, or the kernel's OOM killer), ``"12k"`` views became null silently and an
object made the whole file unreadable, ids like ``"abc"`` became null silently, and ``git log --raw``
quoted names with a quote or tab, so those versions were dropped.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from impactreport.cli.main import main
from impactreport.errors import InputError
from impactreport.fetch.archive import list_versions, open_repository
from impactreport.history.views import load_views
from impactreport.load.read import MAX_EXPORT_BYTES, MAX_EXPORT_BYTES_ENV, export_bytes
from tests import builders
from tests.runner import cli, run_main

MiB = 1024**2
RETRIEVED = "2017-09-09T23:29:37.000000Z"


def gzip_bomb(path: Path, block: int, copies: int) -> Path:
    """A valid export, padded with ``block * copies`` bytes of JSON whitespace, as a multi-member gzip.

    Streaming: one member of ``block`` spaces is compressed once and written ``copies`` times (gzip
    allows members one after another), so a 6 GiB bomb takes a fraction of a second and 6 MB of disk.
    """
    member = gzip.compress(b" " * block, compresslevel=9, mtime=0)
    head = b'{"documents": [], "threads": [], "comments": [], "notes": [], "profiles": [],'
    with path.open("wb") as out:
        out.write(gzip.compress(head, mtime=0))
        for _ in range(copies):
            out.write(member)
        out.write(gzip.compress(f'"retrieved": "{RETRIEVED}"}}'.encode(), mtime=0))
    return path


def summary(capsys, *args: str) -> tuple[int, str, str]:
    return run_main(capsys, "summary", *args)


# --- the size limit ----------------------------------------------------------------------------------


def _limit_address_space() -> None:
    """The child may map at most 6 GiB: the old code needs more for a 6 GiB bomb, the new one ~2.2 GB."""
    resource.setrlimit(resource.RLIMIT_AS, (6 * 1024**3, 6 * 1024**3))


@pytest.mark.slow
def test_six_gib_bomb_is_one_line_at_the_default_limit(tmp_path: Path) -> None:
    """The issue's file: 6.3 MB of gzip, 6 GiB of JSON. One line, exit 2, within bounded memory.

    Measured: 7.7 s and 2.2 GB peak (the 2 GiB limit plus the interpreter). Before: a ``MemoryError``
    traceback after 30 s at this address-space limit; without one, the process was killed.
    """
    bomb = gzip_bomb(tmp_path / "bomb.json.gz", 64 * MiB, 96)
    assert bomb.stat().st_size < 7 * 10**6
    env = {k: v for k, v in os.environ.items() if k != MAX_EXPORT_BYTES_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "impactreport.cli.main", "summary", str(bomb)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_limit_address_space,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.splitlines() == [
        f"impactreport: error: {bomb}: more than 2 GiB (2,147,483,648 bytes) once decompressed "
        f"(the limit for one export; raise it with {MAX_EXPORT_BYTES_ENV}=BYTES)"
    ]


def test_bomb_under_a_lowered_limit(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bomb, small: 64 MiB of JSON refused at a 1 MiB limit; under a 128 MiB limit it is read."""
    bomb = gzip_bomb(tmp_path / "p.json.gz", 8 * MiB, 8)
    monkeypatch.setenv(MAX_EXPORT_BYTES_ENV, "1M")
    code, out, err = summary(capsys, str(bomb))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"impactreport: error: {bomb}: more than 1 MiB (1,048,576 bytes) once decompressed "
        f"(the limit for one export; raise it with {MAX_EXPORT_BYTES_ENV}=BYTES)"
    ]
    monkeypatch.setenv(MAX_EXPORT_BYTES_ENV, str(128 * MiB))
    code, out, err = summary(capsys, str(bomb), "--json")
    assert code == 0, err
    assert json.loads(out)["overall"]["comments"] == 0


def test_limit_is_exact(tmp_path: Path) -> None:
    """An export of exactly the limit is read; one byte more is refused (plain and gzip alike)."""
    data = b'{"documents": [], "threads": [], "comments": [], "notes": [], "profiles": []}' + b" " * 1000
    plain = tmp_path / "p.json"
    plain.write_bytes(data)
    packed = tmp_path / "q.json.gz"
    packed.write_bytes(gzip.compress(data) + gzip.compress(b"\n"))  # two members: the count spans both
    assert export_bytes(plain, len(data)) == data
    assert export_bytes(packed, len(data) + 1) == data + b"\n"
    with pytest.raises(InputError, match=rf"p\.json: more than {len(data) - 1:,} bytes \(the limit"):
        export_bytes(plain, len(data) - 1)
    with pytest.raises(InputError, match=rf"q\.json\.gz: more than {len(data):,} bytes once decompressed"):
        export_bytes(packed, len(data))


def test_plain_json_over_the_limit(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain ``.json`` is capped by its size, before it is read into memory."""
    big = tmp_path / "big.json"
    big.write_bytes(
        b'{"documents": [], "threads": [], "comments": [], "notes": [], "profiles": []}' + b" " * MiB
    )
    monkeypatch.setenv(MAX_EXPORT_BYTES_ENV, "1MiB")
    code, _, err = summary(capsys, str(big))
    assert code == 2
    assert err.splitlines() == [
        f"impactreport: error: {big}: more than 1 MiB (1,048,576 bytes) "
        f"(the limit for one export; raise it with {MAX_EXPORT_BYTES_ENV}=BYTES)"
    ]


def test_bad_limit_setting(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_EXPORT_BYTES_ENV, "lots")
    code, _, err = summary(capsys, str(gzip_bomb(tmp_path / "p.json.gz", MiB, 1)))
    assert code == 2
    assert err.splitlines() == [
        f"impactreport: error: {MAX_EXPORT_BYTES_ENV}='lots': not a size in bytes (e.g. 4294967296 or 4G)"
    ]


def test_views_loader_and_archive_share_the_limit(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The views-over-time loader and ``fetch archive --from FOLDER`` refuse the bomb with the same line."""
    store = tmp_path / "exports" / "thinklab" / "p"
    store.mkdir(parents=True)
    bomb = gzip_bomb(store / "2017-09-09T232937Z.json.gz", 8 * MiB, 8)
    monkeypatch.setenv(MAX_EXPORT_BYTES_ENV, "1M")
    expected = f"{bomb}: more than 1 MiB (1,048,576 bytes) once decompressed"
    with pytest.raises(
        Exception, match="^" + expected.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")
    ):
        load_views([tmp_path / "exports"])
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(bomb, folder / "p.json.gz")
    code = main(["fetch", "archive", "--from", str(folder), "--data", str(tmp_path / "data"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{folder / 'p.json.gz'}: more than 1 MiB (1,048,576 bytes) once decompressed" in err
    assert len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "data").rglob("*.json.gz"))


def test_archive_refuses_a_git_object_over_the_limit(
    latest_dir: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository's export larger than the limit is refused from the object's size, with one line."""
    repo = tmp_path / "repo"
    (repo / "export" / "json").mkdir(parents=True)
    git(repo, "init", "-q")
    shutil.copy(latest_dir / "meta.json", repo / "export" / "json" / "meta.json")  # 409,395 bytes
    git(repo, "add", "--", ".")
    git(repo, "commit", "-q", "-m", "meta")
    monkeypatch.setenv(MAX_EXPORT_BYTES_ENV, "256K")
    code = main(["fetch", "archive", "--from", str(repo), "--data", str(tmp_path / "data"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("impactreport: error:")]
    assert code == 2 and len(errors) == 1, err
    assert errors[0].startswith(f"impactreport: error: {repo / '.git'}: object ")
    assert errors[0].endswith(
        f": more than 256 KiB (262,144 bytes) (the limit for one export; raise it with {MAX_EXPORT_BYTES_ENV}=BYTES)"
    )
    assert not list((tmp_path / "data").rglob("*.json.gz"))


def test_default_limit_is_far_above_the_largest_real_export(thinklab_dir: Path) -> None:
    """Every real export (latest, the monthly snapshots, the early formats) is under a hundredth of it."""
    files = [p for p in thinklab_dir.rglob("*") if p.name.endswith((".json", ".json.gz"))]
    assert len(files) > 200
    largest = max(len(export_bytes(p)) for p in files)
    assert 2_000_000 < largest < MAX_EXPORT_BYTES / 100


# --- counters that are not whole numbers ---------------------------------------------------------------

ODD_VIEWS = {  # thread index -> views as written in the file
    0: "12k",
    1: 12.5,
    2: True,
    3: {"views": "nested", "n": 1},
    4: [7],
}
WHOLE_VIEWS = {5: "40", 6: 41.0}  # whole numbers in another spelling: read as 40 and 41


def odd_export(latest_dir: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    """The real ``meta`` export as is, and a copy with odd views, a tricky body and a key ending in views."""
    data = json.loads((latest_dir / "meta.json").read_text())
    clean = tmp_path / "clean" / "meta.json"
    clean.parent.mkdir()
    clean.write_text(json.dumps(data, indent=2, sort_keys=True))
    for index, value in {**ODD_VIEWS, **WHOLE_VIEWS}.items():
        data["threads"][index]["views"] = value
    data["documents"][0]["views"] = "n/a"
    # Not counters: the text of a comment, and a key that merely ends in `"views`.
    data["comments"][0]["body_md"] += ' "views": "12k", \\"views\\": true'
    data["profiles"][0]['say "views'] = "x"
    odd = tmp_path / "odd" / "meta.json"
    odd.parent.mkdir()
    odd.write_text(json.dumps(data, indent=2, sort_keys=True))
    return clean, odd, json.loads(clean.read_text())


def test_odd_views_are_warned_about_and_nothing_else_changes(
    latest_dir: Path, tmp_path: Path, capsys
) -> None:
    clean, odd, original = odd_export(latest_dir, tmp_path)
    code, out, err = summary(capsys, str(clean), "--json")
    assert code == 0 and "warning:" not in err, err
    before = json.loads(out)
    code, out, err = summary(capsys, str(odd), "--json")
    assert code == 0, err
    after = json.loads(out)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {odd}: documents.views: 1 value(s) that are not counts (whole numbers ≥ 0) ignored, e.g. 'n/a'",
        f"warning: {odd}: threads.views: 5 value(s) that are not counts (whole numbers ≥ 0) ignored, e.g. '12k'",
    ]
    threads = original["threads"]
    lost = sum(threads[i]["views"] for i in ODD_VIEWS) + original["documents"][0]["views"]
    changed = sum(threads[i]["views"] - int(float(WHOLE_VIEWS[i])) for i in WHOLE_VIEWS)
    assert lost > 0 and changed != 0
    for scope in ("overall", "meta"):
        old = before["overall"] if scope == "overall" else before["projects"]["meta"]
        new = after["overall"] if scope == "overall" else after["projects"]["meta"]
        assert new["views"] == old["views"] - lost - changed
        assert {k: v for k, v in new.items() if k != "views"} == {
            k: v for k, v in old.items() if k != "views"
        }


@pytest.mark.parametrize(
    ("value", "example"),
    [
        (True, "true"),
        (False, "false"),
        ({"n": 1}, '{"n": 1}'),
        (12.5, "12.5"),
        ("12k", "'12k'"),
        ([7], "[7]"),
        (-7, "-7"),  # summed without a word before
    ],
)
def test_one_odd_view_among_integers(
    latest_dir: Path, tmp_path: Path, capsys, value: object, example: str
) -> None:
    """Alone among integers, ``true`` is read by polars as 1 and an object fails the whole parse."""
    data = json.loads((latest_dir / "rephetio.json").read_text())
    clean_views = sum(t["views"] for t in data["threads"]) + sum(d["views"] for d in data["documents"])
    lost = data["threads"][7]["views"]
    data["threads"][7]["views"] = value
    path = tmp_path / "rephetio.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    code, out, err = summary(capsys, str(path), "--json")
    assert code == 0, err
    assert (
        f"warning: {path}: threads.views: 1 value(s) that are not counts (whole numbers ≥ 0) ignored, e.g. {example}"
        in (err.splitlines())
    )
    assert json.loads(out)["overall"]["views"] == clean_views - lost


def test_counter_lookalikes_in_text_are_left_alone(latest_dir: Path, tmp_path: Path) -> None:
    """``"views": "12k"`` inside a comment's text, and a key ending in ``"views``, are not counters."""
    from impactreport.load.dataset import load_dataset

    _, odd, _ = odd_export(latest_dir, tmp_path)
    written = json.loads(odd.read_text())
    dataset = load_dataset(odd)
    first = written["comments"][0]
    body = dataset.comments.filter(comment_id=first["comment_id"])["body_md"].item()
    assert body == first["body_md"] and body.endswith(' "views": "12k", \\"views\\": true')


def test_views_over_time_warn_the_same(latest_dir: Path, tmp_path: Path) -> None:
    """The views loader leaves the odd rows out and says so in the same words (once per file and field)."""
    _, odd, original = odd_export(latest_dir, tmp_path)
    store = tmp_path / "exports" / "thinklab" / "meta"
    store.mkdir(parents=True)
    snapshot = store / "2017-09-09T232941Z.json.gz"
    snapshot.write_bytes(gzip.compress(odd.read_bytes()))
    warnings = [
        f"{snapshot}: threads.views: 5 value(s) that are not counts (whole numbers ≥ 0) ignored, e.g. '12k'"
    ]
    series = load_views([tmp_path / "exports"], warnings=warnings)
    assert warnings == [
        f"{snapshot}: threads.views: 5 value(s) that are not counts (whole numbers ≥ 0) ignored, e.g. '12k'",
        f"{snapshot}: documents.views: 1 value(s) that are not counts (whole numbers ≥ 0) ignored, e.g. 'n/a'",
    ]
    threads = series.filter(kind="thread")
    assert threads.height == len(original["threads"]) - len(ODD_VIEWS)
    assert dict(threads.select("id", "views").iter_rows())[original["threads"][5]["thread_id"]] == 40
    assert series.filter(kind="document").height == len(original["documents"]) - 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "1 value(s) that are not whole numbers (an id must be one), e.g. 'abc'"),
        (1.5, "1 value(s) that are not whole numbers (an id must be one), e.g. 1.5"),
        ("", "1 value(s) that are not whole numbers (an id must be one), e.g. ''"),
        ([3], "array values, not whole numbers (an id must be one)"),
    ],
)
def test_an_id_that_is_not_a_whole_number_is_an_error(
    latest_dir: Path, tmp_path: Path, capsys, value: object, problem: str
) -> None:
    """Before, each of these became a null id silently (its comment then dropped as an orphan)."""
    data = json.loads((latest_dir / "meta.json").read_text())
    data["comments"][3]["thread_id"] = value
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(data))
    code, out, err = summary(capsys, str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [f"impactreport: error: {path}: comments.thread_id: {problem}"]


# --- odd file names in the archive -------------------------------------------------------------------

ODD_NAMES = ("my meta", 'say "hi"', "it's", "naïve", "-dash", "--from")
#: Legal in git and on disk, but control characters: listed from the history, refused by the store.
CONTROL_NAMES = ("tab\there", "new\nline")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def test_git_history_lists_every_odd_name(latest_dir: Path, tmp_path: Path) -> None:
    """``git log --raw`` quotes a name with a quote or tab; with ``-z`` every name comes through as is."""
    repo = tmp_path / "repo"
    (repo / "export" / "json").mkdir(parents=True)
    git(repo, "init", "-q")
    names = ODD_NAMES + CONTROL_NAMES
    for name in names:
        shutil.copy(latest_dir / "thinklabOSP.json", repo / "export" / "json" / f"{name}.json")
    git(repo, "add", "--", ".")
    git(repo, "commit", "-q", "-m", "odd names")
    with open_repository(repo) as gitdir:
        versions, commits = list_versions(gitdir)
    assert commits == 1
    assert sorted(v.project for v in versions) == sorted(names)
    assert {v.path for v in versions} == {f"export/json/{name}.json" for name in names}


def test_folder_import_with_odd_names(latest_dir: Path, tmp_path: Path, capsys) -> None:
    """A folder of exports whose names hold spaces, quotes, non-ASCII letters or a leading dash."""
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ODD_NAMES:
        shutil.copy(latest_dir / "thinklabOSP.json", folder / f"{name}.json")
    data = tmp_path / "data"
    code = main(["fetch", "archive", "--from", str(folder), "--data", str(data), "--quiet"])
    assert code == 0, capsys.readouterr().err
    stored = sorted(p.parent.name for p in (data / "exports" / "thinklab").rglob("*.json.gz"))
    assert stored == sorted(ODD_NAMES)
    capsys.readouterr()
    code, out, err = summary(capsys, str(data / "exports"), "--json")
    assert code == 0, err
    assert sorted(json.loads(out)["projects"]) == sorted(ODD_NAMES)


def _export_with(latest_dir: Path, tmp_path: Path, name: str, replace: tuple[str, str]) -> Path:
    """The final meta export with one value replaced in its text (JSON that json.dumps cannot write)."""
    text = (latest_dir / "meta.json").read_text(encoding="utf-8")
    assert replace[0] in text
    path = tmp_path / name
    path.write_text(text.replace(replace[0], replace[1], 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("history", [False, True], ids=["summary", "summary --history"])
def test_a_5000_digit_number_is_one_line(latest_dir: Path, tmp_path: Path, capsys, history: bool) -> None:
    export = json.loads((latest_dir / "meta.json").read_text(encoding="utf-8"))
    views = f'"views": {export["threads"][0]["views"]}'
    path = _export_with(latest_dir, tmp_path, "meta.json", (views, '"views": ' + "9" * 5000))
    code = main(["summary", str(tmp_path), *(["--history"] if history else []), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err[-1] == f"impactreport: error: {path}: a number with more than 4,300 digits (not a count)"


def test_json_nested_a_million_deep_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"threads": ' + "[" * 1_000_000 + "]" * 1_000_000 + "}", encoding="utf-8")
    assert main(["summary", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"impactreport: error: {path}: JSON nested too deeply to read"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("title:x #set", ("title", "x #set")),
        ("title:#1 impact", ("title", "#1 impact")),
        ("author:A: B", ("author", "A: B")),
    ],
)
def test_text_parameters_are_taken_literally(given: str, expected: tuple[str, str]) -> None:
    """``-P 'title:x #set'`` was cut at the ``#`` and ``-P 'title:#…'`` became the default title."""
    from impactreport.cli.render import parse_param

    assert parse_param(given) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("team:&a [*a, *a, *a, *a, *a, *a, *a, *a, *a]", "aliases"),
        ("title:&a [*a]", None),  # text: literal, no YAML at all
        ("projects:" + "[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ("projects:[rephetio] # all of them", "comment"),
    ],
)
def test_yaml_parameters_have_bounded_cost_and_no_silent_cuts(given: str, problem: str | None) -> None:
    """A 9**8 alias tree took 17 s and 1.2 GB before its error; 10**5 brackets a RecursionError."""
    import time

    from impactreport.cli.render import parse_param
    from impactreport.errors import InputError

    began = time.monotonic()
    if problem is None:
        assert parse_param(given) == ("title", "&a [*a]")
        return
    with pytest.raises(InputError) as caught:
        parse_param(given)
    assert problem in str(caught.value) and "\n" not in str(caught.value)
    assert time.monotonic() - began < 1.0


def _export_with_duplicate_notes(folder: Path, order: str) -> Path:
    """A format-C export whose ``notes`` key appears twice: empty first (polars' pick), one note last."""
    note = '{"note_id": 1, "comment_id": 1, "profile_id": 1, "body_md": "a note", "body_html": "<p>a note</p>", "published": "2016-01-02T00:00:00.000000Z"}'
    comment = '{"comment_id": 1, "thread_id": 1, "profile_id": 1, "body_md": "hello", "body_html": "<p>hello</p>", "published": "2016-01-01T00:00:00.000000Z"}'
    thread = '{"thread_id": 1, "profile_id": 1, "document_id": null, "subject": "s", "published": "2016-01-01T00:00:00.000000Z"}'
    profile = '{"profile_id": 1, "username": "alice", "first_name": "Alice", "last_name": "A"}'
    notes = ['"notes": []', f'"notes": [{note}]']
    if order == "full-first":
        notes.reverse()
    text = (
        f'{{"documents": [], "threads": [{thread}], "comments": [{comment}], {notes[0]}, '
        f'"profiles": [{profile}], {notes[1]}}}'
    )
    path = folder / "project.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("order", ["empty-first", "full-first"])
def test_duplicate_table_keys_are_refused_with_the_key_named(tmp_path: Path, order: str) -> None:
    """``"notes": [], …, "notes": [note]`` counted 0 notes where Python's json reads 1."""
    path = _export_with_duplicate_notes(tmp_path, order)
    done = cli("summary", str(path), timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{path}: key 'notes' appears twice" in done.stderr


def test_a_table_name_as_a_text_value_is_no_duplicate(tmp_path: Path) -> None:
    path = _export_with_duplicate_notes(tmp_path, "empty-first")
    text = path.read_text(encoding="utf-8").replace('"notes": [], ', "", 1).replace('"s"', '"notes"')
    path.write_text(text, encoding="utf-8")
    done = cli("summary", str(path), "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["overall"]["notes"] == 1


@pytest.mark.slow
def test_a_bomb_just_past_the_limit_peaks_near_the_limit_not_twice(tmp_path: Path) -> None:
    """At a 2 GiB cap a bomb just past it peaked at 4.1 GB (the capped buffer copied once more); the
    same shape at a 512 MiB cap must stay within the cap plus 0.5 GB (the issue's bound)."""
    import zlib

    limit = 512 * MiB
    bomb = tmp_path / "bomb.json.gz"  # one gzip member of 576 MiB (zlib returns it in one call)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with bomb.open("wb") as out:
        out.write(
            packer.compress(b'{"documents": [], "threads": [], "comments": [], "notes": [], "profiles": []')
        )
        block = b" " * (64 * MiB)
        for _ in range(9):
            out.write(packer.compress(block))
        out.write(packer.compress(b"}") + packer.flush())
    # The peak of this process alone: /proc's VmHWM (ru_maxrss would be at least pytest's own peak,
    # which a child keeps across fork and exec: 1.4 GB in a slow lane that had rendered reports).
    script = (
        "import sys\n"
        "from impactreport.cli.main import main\n"
        "code = main(['summary', sys.argv[1]])\n"
        "with open('/proc/self/status') as status:\n"
        "    print(next(line.split()[1] for line in status if line.startswith('VmHWM:')), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, MAX_EXPORT_BYTES_ENV: str(limit)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, env=env, timeout=300
    )
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and "once decompressed" in lines[0], done.stderr[-2000:]
    peak = int(lines[-1]) * 1024  # VmHWM is in kB
    assert peak < limit + 512 * MiB, f"peak {peak:,} bytes"


@pytest.mark.parametrize("literal", ["NaN", "1e400", "-Infinity"])
def test_a_nan_or_infinite_id_names_the_value_and_where(tmp_path: Path, literal: str) -> None:
    """A NaN or 1e400 id said "JSON with an unexpected shape"."""
    path = tmp_path / "p.json"
    text = json.dumps(builders.export(threads=[{"thread_id": 7, "subject": "s"}]))
    path.write_text(text.replace('"thread_id": 7', f'"thread_id": {literal}'), encoding="utf-8")
    done = cli("summary", path, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    column = text.index("7") + 1
    assert (
        done.stderr.strip()
        == f"impactreport: error: {path}: {literal} at line 1 column {column} is not a number JSON allows"
    )
