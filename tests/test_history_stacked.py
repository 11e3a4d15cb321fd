"""Projects of one snapshot each are read for the history as the loader reads many files (stacked, one
query per group), and not at all when the run's dataset already read them (issue 22: ``summary
--history`` on 10,000 tiny exports took nine times plain ``summary``). Both must give exactly the
versioned tables of the one-file-at-a-time path, on every real export format."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from impactreport.history import reading
from impactreport.history import versions as V
from impactreport.load.dataset import load_dataset
from impactreport.load.rows import Loaded
from impactreport.snapshots import discover
from tests import builders
from tests.builders import comment, profile, thread
from tests.runner import run_main

ORDER = ["source", "project", "key", "first_seq"]


def _singles(thinklab: Path, target: Path) -> Path:
    """A folder of single-snapshot projects: the final exports and one file of each export format
    (A, B, B′, C), each as a project of its own, and a stray file that is not an export."""
    target.mkdir()
    for path in sorted((thinklab / "latest").glob("*.json*")):
        shutil.copy(path, target / path.name)
    for number, path in enumerate(sorted((thinklab / "formats").glob("*.json*"))):
        shutil.copy(path, target / f"format-{number}.json.gz")
    (target / "notes.json").write_text(json.dumps({"not": "an export"}))
    return target


def _equal(one: V.Versions, other: V.Versions) -> None:
    assert one.snapshots.sort("source", "project", "seq").equals(
        other.snapshots.sort("source", "project", "seq")
    )
    assert set(one.warnings) == set(other.warnings)
    for name, frame in one.tables.items():
        theirs = other.tables[name]
        assert frame.height == theirs.height, name
        if frame.height:
            assert frame.sort(ORDER).equals(theirs.select(frame.columns).sort(ORDER)), name


def test_stacked_singles_equal_the_one_file_path_on_every_format(thinklab_dir: Path, tmp_path: Path) -> None:
    folder = _singles(thinklab_dir, tmp_path / "data")
    files = discover([folder], all_snapshots=True)
    stacked = V.build_projects(files, [folder])
    alone = V.build_projects(files, [folder], batch_singles=False)
    formats = set(stacked.snapshots["format"].to_list())
    assert formats >= {"A", "B", "C"}, formats  # B′ reads as B with ids
    assert stacked.snapshots.height == len(files) - 1  # the stray is skipped, with a warning
    assert any("notes.json" in line and "not a project export" in line for line in stacked.warnings)
    assert stacked.tables["comments"].height > 1_000
    _equal(stacked, alone)


def test_rows_the_dataset_read_are_taken_not_read_again(
    thinklab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader's rows give the same versions, and are really used: the history's reader is asked
    for no file the dataset read, except one rewritten since (its rows may differ: read again)."""
    folder = _singles(thinklab_dir, tmp_path / "data")
    files = discover([folder], all_snapshots=True)
    expected = V.build_projects(files, [folder], batch_singles=False)
    reads: list[Loaded] = []
    load_dataset([folder], reads=reads)
    assert len(reads) == 1 and len(reads[0].files) == len(files) - 1  # the stray is not an export
    asked: list[str] = []
    real = reading.read_files

    def spy(chosen, *args, **kwargs):  # the real reader, recording what it is asked to read
        asked.extend(file.path.name for file in chosen)
        return real(chosen, *args, **kwargs)

    monkeypatch.setattr(reading, "read_files", spy)
    _equal(V.build_projects(files, [folder], reads=reads), expected)
    assert asked == ["notes.json"]
    asked.clear()
    rewritten = next(file.path for file in files if file.path.name == "format-1.json.gz")
    rewritten.write_bytes(rewritten.read_bytes())
    expected = V.build_projects(files, [folder], batch_singles=False)
    _equal(V.build_projects(files, [folder], reads=reads), expected)
    assert sorted(asked) == ["format-1.json.gz", "notes.json"]


def test_summary_history_is_the_same_with_and_without_the_dataset_rows(tmp_path: Path, capsys) -> None:
    """``summary --history`` (which hands the dataset's rows to the history) equals the history built
    cold from the files alone, for tiny projects of one snapshot and one of two snapshots."""
    data = tmp_path / "data"
    for number in range(1, 6):
        export = builders.export(
            threads=[thread(number, subject=f"s{number}")],
            comments=[comment(number, number, body=f"text {number}")],
            profiles=[profile(1, "alice")],
        )
        builders.write_snapshot(data, "thinklab", f"p{number}", datetime(2017, 1, 2, tzinfo=UTC), export)
    builders.write_snapshot(data, "thinklab", "p1", datetime(2017, 1, 1, tzinfo=UTC), builders.one_comment())
    code, out, err = run_main(
        capsys, "summary", str(data), "--history", "--json", "--cache-dir", str(tmp_path / "a")
    )
    assert code == 0, err
    history = json.loads(out)["overall"]["history"]
    from impactreport.history import summarise
    from impactreport.history.cache import load_versions

    cold = summarise(load_versions([data], lambda _: None), None)
    assert history == json.loads(json.dumps(cold["overall"], default=str))
    assert history["snapshots"] == 6


def test_restricted_keeps_only_the_named_files() -> None:
    frame = pl.DataFrame(
        {"_file": [0, 1, 2, 1], "x": [1, 2, 3, 4]}, schema={"_file": pl.Int32, "x": pl.Int64}
    )
    loaded = Loaded(frames={"comments": [frame], "notes": [frame.filter(pl.col("_file") == 0)]})
    kept = loaded.restricted({1})
    assert kept.frames["comments"][0]["x"].to_list() == [2, 4]
    assert kept.frames["notes"] == []
