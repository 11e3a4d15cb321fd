"""Which files are exports, and which one is a project's newest.

- A project given by several files outside the store (``latest/rephetio.json`` and a dated snapshot,
  as two paths or two folders) is counted from the newest by the files' own ``retrieved`` times, in
  whatever order the paths come, with a notice naming both; every snapshot of it is ordered oldest
  first by the same times (what the history relies on). Store files keep their stamps' order.
- Hidden files and folders (``.history``, ``.git``, ``.anything``) are never exports: neither for the
  loader nor for ``fetch archive --from FOLDER``, which also skips JSON that is not a project export.
- ``fetch`` says where it creates a new data folder.

Real files from ``../shared/thinklab``; rephetio's comments are 470 on 2016-09-01 and 622 on
2017-09-09 (its README).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from impactreport.history import load_versions
from impactreport.snapshots import find
from tests.runner import main_json, run_main

pytestmark = pytest.mark.shared

OLD_COMMENTS, NEW_COMMENTS = 470, 622  # rephetio on 2016-09-01 and on 2017-09-09


@pytest.fixture
def newer(thinklab_dir: Path) -> Path:
    return thinklab_dir / "latest" / "rephetio.json"  # retrieved 2017-09-09 23:29 UTC


@pytest.fixture
def older(thinklab_dir: Path) -> Path:
    return thinklab_dir / "snapshots" / "2016-09-01" / "rephetio.json.gz"  # retrieved 2016-09-01 21:05 UTC


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict, str]:
    return main_json(capsys, "summary", *args)


def given_twice(newer: Path, older: Path) -> str:
    return (
        f"project rephetio given twice: counting {newer} (retrieved 2017-09-09 23:29 UTC), "
        f"not {older} (retrieved 2016-09-01 21:05 UTC)"
    )


def test_the_newest_export_is_found_whatever_the_order_of_the_paths(newer: Path, older: Path) -> None:
    for paths in ([newer, older], [older, newer]):
        found = find(paths)
        assert [f.path for f in found.files] == [newer]
        assert found.notices == (given_twice(newer, older),)
        every = find(paths, all_snapshots=True)
        assert [f.path for f in every.files] == [older, newer]  # oldest first, by their own times
        assert len(every.notices) == 1 and str(newer) in every.notices[0] and str(older) in every.notices[0]


@pytest.mark.parametrize("reverse", [False, True], ids=["newer first", "older first"])
def test_summary_counts_the_newest_export(
    newer: Path, older: Path, reverse: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(older), str(newer)] if reverse else [str(newer), str(older)]
    result, err = summary(capsys, *paths)
    assert result["projects"]["rephetio"]["comments"] == NEW_COMMENTS
    assert str(newer) in err and str(older) in err and "given twice" in err
    alone, _ = summary(capsys, str(older))
    assert alone["projects"]["rephetio"]["comments"] == OLD_COMMENTS  # the older one would have differed


@pytest.mark.parametrize("reverse", [False, True], ids=["latest first", "dated first"])
def test_two_folders_count_each_project_from_its_newest_export(
    thinklab_dir: Path, reverse: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = [str(thinklab_dir / "latest"), str(thinklab_dir / "snapshots" / "2016-09-01")]
    result, err = summary(capsys, *(folders[::-1] if reverse else folders))
    assert result["overall"]["comments"] == 1163  # every project as on 2017-09-09
    assert result["projects"]["rephetio"]["comments"] == NEW_COMMENTS
    assert err.count("given twice") == 10


@pytest.mark.parametrize("reverse", [False, True], ids=["newer first", "older first"])
def test_history_orders_the_files_by_retrieval(
    newer: Path, older: Path, reverse: bool, thinklab_dir: Path
) -> None:
    middle = thinklab_dir / "snapshots" / "2017-03-01" / "rephetio.json.gz"
    paths = [newer, middle, older]
    versions = load_versions(paths[::-1] if reverse else paths, print)
    rows = versions.snapshots.sort("seq")
    assert rows["path"].to_list() == [str(older), str(middle), str(newer)]
    assert rows["retrieved"].is_sorted()


def test_a_file_without_retrieved_is_the_oldest(newer: Path, tmp_path: Path) -> None:
    export = json.loads(newer.read_text(encoding="utf-8"))
    del export["retrieved"]
    undated = tmp_path / "rephetio.json"
    undated.write_text(json.dumps(export), encoding="utf-8")
    for paths in ([undated, newer], [newer, undated]):
        found = find(paths)
        assert [f.path for f in found.files] == [newer]
        assert found.notices == (
            f"project rephetio given twice: counting {newer} (retrieved 2017-09-09 23:29 UTC), "
            f"not {undated} (no retrieved time)",
        )


def test_store_files_keep_their_stamp_order_and_need_no_notice(older: Path, tmp_path: Path) -> None:
    """Stamps are not re-read: a store file's name says when it was retrieved."""
    folder = tmp_path / "exports" / "thinklab" / "rephetio"
    folder.mkdir(parents=True)
    for stamp in ("2016-09-01T210516Z", "2017-01-01T000000Z"):
        shutil.copy2(older, folder / f"{stamp}.json.gz")
    found = find([tmp_path / "exports"])
    assert [f.path.name for f in found.files] == ["2017-01-01T000000Z.json.gz"] and found.notices == ()
    every = find([tmp_path / "exports"], all_snapshots=True)
    assert [f.order for f in every.files] == ["2016-09-01T210516Z", "2017-01-01T000000Z"]
    assert all(f.retrieved is None for f in every.files)


# --- hidden files and folders are never exports -----------------------------------------------------


def exports_with_hidden_things(latest: Path, folder: Path) -> Path:
    """Two real exports, and JSON in hidden places: a cache's manifest, a git folder, a hidden file."""
    folder.mkdir(parents=True)
    for project in ("meta", "thinklabOSP"):
        shutil.copy2(latest / f"{project}.json", folder / f"{project}.json")
    (folder / ".history").mkdir()
    (folder / ".history" / "manifest.json").write_text('{"format": 2, "tables": {}}', encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "x.json").write_text("{}", encoding="utf-8")
    shutil.copy2(latest / "meta.json", folder / ".hidden.json")  # even a real export, when hidden
    return folder


def test_hidden_files_and_folders_are_never_exports(latest_dir: Path, tmp_path: Path) -> None:
    folder = exports_with_hidden_things(latest_dir, tmp_path / "folder")
    found = find([folder], all_snapshots=True)
    assert sorted(f.path.name for f in found.files) == ["meta.json", "thinklabOSP.json"]
    assert found.notices == ()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_main(capsys, *args)


def test_archive_import_from_a_folder_takes_only_the_real_projects(
    latest_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = exports_with_hidden_things(latest_dir, tmp_path / "folder")
    (folder / "package.json").write_text('{"name": "not-an-export"}', encoding="utf-8")
    data = tmp_path / "data"
    code, out, err = cli(capsys, "fetch", "archive", "--from", str(folder), "--data", str(data), "--json")
    assert code == 0, err
    assert sorted(item["project"] for item in json.loads(out)["projects"]) == ["meta", "thinklabOSP"]
    assert sorted(p.name for p in (data / "exports" / "thinklab").iterdir()) == ["meta", "thinklabOSP"]
    assert f"note: {folder / 'package.json'}: not a project export" in err
    assert ".history" not in err and ".git" not in err and ".hidden" not in err


# --- fetch says where it creates a data folder --------------------------------------------------------


def test_fetch_says_where_it_creates_a_data_folder(
    latest_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    with gzip.open(folder / "issnindiadatabase.json.gz", "wb") as handle:
        handle.write((latest_dir / "issnindiadatabase.json").read_bytes())
    monkeypatch.chdir(tmp_path)  # the default --data is ./data
    code, _, err = cli(capsys, "fetch", "archive", "--from", str(folder), "--quiet")
    assert code == 0, err
    expected = tmp_path / "data" / "exports"
    assert err.splitlines() == [f"note: creating data folder {expected}"]
    assert os.path.isabs(str(expected)) and expected.is_dir()
    code, _, err = cli(capsys, "fetch", "archive", "--from", str(folder), "--quiet")
    assert code == 0 and err == ""  # it exists now: nothing to say
