"""Special files where a file is read: a FIFO never blocks a command and ``/dev/zero`` never fills memory.

Each case runs the real CLI in a subprocess against a demo store (``impactreport demo``) with one file
replaced by a named pipe or given as ``/dev/zero``; the answer must be one line naming the file and what
it is, within seconds (a FIFO opened for reading blocks for ever without a writer).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.runner import cli

ZERO = Path("/dev/zero")


def run(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return cli(*args, env={"IMPACTREPORT_CACHE_DIR": str(cache), "COLUMNS": "200"}, cwd=cwd, timeout=60)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo store: DIR/exports/thinklab/<project>/<stamp>.json.gz, several snapshots each."""
    folder = tmp_path_factory.mktemp("demo")
    done = run("demo", str(folder), "--posts", "60", "--snapshots", "2", cwd=folder, cache=folder / "cache")
    assert done.returncode == 0, done.stderr
    return folder


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("impactreport: error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("option", ["--team-file", "--identities"])
def test_a_special_file_as_team_or_identities_file_is_one_line(
    store: Path, tmp_path: Path, kind: str, option: str
) -> None:
    path = ZERO
    if kind == "fifo":
        path = tmp_path / "team.txt"
        os.mkfifo(path)
    line = one_line(run("summary", str(store), option, str(path), cwd=tmp_path, cache=tmp_path / "c"))
    assert str(path) in line
    assert ("named pipe" if kind == "fifo" else "character device") in line
    assert "no such file" not in line


def test_a_fifo_as_an_export_is_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "project.json"
    os.mkfifo(fifo)
    line = one_line(run("summary", str(fifo), cwd=tmp_path, cache=tmp_path / "c"))
    assert str(fifo) in line and "named pipe" in line


def test_a_fifo_as_the_store_manifest_is_one_line(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    subprocess.run(["cp", "-r", str(store), str(copy)], check=True)
    manifest = copy / "exports" / "manifest.jsonl"
    manifest.unlink(missing_ok=True)
    os.mkfifo(manifest)
    done = run(
        "fetch",
        "archive",
        "--from",
        str(store / "exports"),
        "--data",
        str(copy),
        cwd=tmp_path,
        cache=tmp_path / "c",
    )
    line = one_line(done)
    assert "manifest.jsonl" in line and "named pipe" in line


def test_a_fifo_as_the_history_cache_manifest_is_rebuilt(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run("summary", str(store), "--history", "--json", cwd=tmp_path, cache=cache)
    assert first.returncode == 0, first.stderr
    manifests = list(cache.rglob("manifest.json"))
    assert manifests, sorted(cache.rglob("*"))
    for manifest in manifests:
        manifest.unlink()
        os.mkfifo(manifest)
    again = run("summary", str(store), "--history", "--json", cwd=tmp_path, cache=cache)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert "rebuilding" in again.stderr


def _overall(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    import json

    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["overall"]


def test_a_hand_edited_history_cache_is_rebuilt_not_trusted(store: Path, tmp_path: Path) -> None:
    """Views ×1,000 written into the cache were reported as they stood."""
    import polars as pl

    cache = tmp_path / "cache"
    first = run("summary", str(store), "--history", "--json", cwd=tmp_path, cache=cache)
    before = _overall(first)
    [threads] = list(cache.rglob("threads-*.parquet"))
    frame = pl.read_parquet(threads)
    assert "views" in frame.columns and frame["views"].sum() > 0
    frame.with_columns(pl.col("views") * 1000).write_parquet(threads)
    again = run("summary", str(store), "--history", "--json", cwd=tmp_path, cache=cache)
    assert _overall(again) == before
    assert "sha256" in again.stderr and "rebuilding" in again.stderr


def test_a_snapshot_edited_with_its_size_and_time_kept_is_read_again(store: Path, tmp_path: Path) -> None:
    """An edit that keeps a snapshot's size and restores its modification time was never re-read."""
    import gzip
    import re
    import shutil

    data = tmp_path / "data"
    shutil.copytree(store, data)
    newest = max((data / "exports").rglob("*.json.gz"), key=lambda path: path.name)
    text = gzip.decompress(newest.read_bytes())
    newest.write_bytes(gzip.compress(text, compresslevel=0, mtime=0))  # stored: same length, same size
    cache = tmp_path / "cache"
    first = _overall(run("summary", str(data), "--history", "--json", cwd=tmp_path, cache=cache))
    info = newest.stat()
    views = re.search(rb'"views": ([1-9][0-9]*)', text)
    assert views is not None
    bigger = str(int(views.group(1)) + 1).encode()
    bigger = bigger if len(bigger) == len(views.group(1)) else b"1" * len(views.group(1))
    edited = text[: views.start(1)] + bigger + text[views.end(1) :]
    newest.write_bytes(gzip.compress(edited, compresslevel=0, mtime=0))
    os.utime(newest, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert newest.stat().st_size == info.st_size and newest.stat().st_mtime_ns == info.st_mtime_ns
    again = run("summary", str(data), "--history", "--json", cwd=tmp_path, cache=cache)
    assert "changed: rebuilding" in again.stderr, again.stderr
    assert _overall(again) != first


@pytest.mark.slow
def test_figures_on_a_full_disk_is_one_line_and_leaves_no_new_files(store: Path, tmp_path: Path) -> None:
    """``figures --out`` on a full disk ended in an OSError and left 17 figures, like a finished run."""
    from tests.test_hostile_store import small_fs

    with small_fs(tmp_path / "fs", "200k") as fs:
        out = fs / "figures"
        done = run("figures", str(store), "--out", str(out), cwd=tmp_path, cache=tmp_path / "cache")
        line = one_line(done)
        assert f"--out {out}: cannot write" in line and "No space left on device" in line
        assert not out.exists() or not any(out.iterdir())


def test_a_full_disk_under_the_history_cache_leaves_no_partial_files(store: Path, tmp_path: Path) -> None:
    """A full disk under the cache left partial files for ever, and every later run failed."""
    from tests.test_hostile_store import small_fs

    with small_fs(tmp_path / "fs", "64k") as fs:
        cache = fs / "cache"
        first = run("summary", str(store), "--history", "--json", cwd=tmp_path, cache=cache)
        assert first.returncode == 0, first.stderr
        assert "history cache not written" in first.stderr and "No space left" in first.stderr
        assert not list(cache.rglob("*.parquet")) and not list(cache.rglob(".manifest*"))
        again = run("summary", str(store), "--history", "--json", cwd=tmp_path, cache=cache)
        assert again.returncode == 0 and again.stdout == first.stdout, again.stderr
