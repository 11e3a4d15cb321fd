"""The history cache never gives wrong numbers: a build killed at any point, two runs at once, a damaged
cache, one more snapshot added — each time ``impactreport summary <folder> --history --json`` (the real
command, in a subprocess) prints what a clean cold run prints.

The folder is the 21 real snapshot sets of ../shared/thinklab/snapshots (210 files, formats A, B and C)
laid out as the store does, ``exports/thinklab/<project>/<retrieved>.json.gz``. The command has no hook
to stop it mid-write, so it is killed (SIGKILL, its whole process group) when the file system shows a
moment of the write — the cache folder appearing, a new Parquet file appearing, the manifest being
replaced — and at fractions of a cold run's duration.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from impactreport.history.cache import cache_dir
from tests.runner import COMMAND, environment

pytestmark = [pytest.mark.shared, pytest.mark.slow]  # every test runs the command 3-20 times

LAST_DAY = "2017-09-09"  # the snapshot set added to a folder whose cache holds the 20 before it


def summary(folder: Path) -> subprocess.Popen[str]:
    """``summary <folder>/exports --history --json`` started in its own process group."""
    return subprocess.Popen(
        [*COMMAND, "summary", str(folder / "exports"), "--history", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment({"COLUMNS": "200"}),
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[dict[str, Any], str]:
    """(the printed JSON, stderr) of a run that must succeed."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out), err


def run(folder: Path) -> tuple[dict[str, Any], str]:
    return finish(summary(folder))


def kill(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # the run and any worker it started
    process.communicate(timeout=60)


def run_killed(folder: Path, moment: Callable[[], bool], timeout: float = 120.0) -> bool:
    """Start a run and SIGKILL it as soon as ``moment()`` holds (polled every half millisecond).
    True when it was killed, False when it had finished first."""
    process = summary(folder)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if moment():
            kill(process)
            return True
        time.sleep(0.0005)
    if process.poll() is None:
        kill(process)
        pytest.fail(f"no kill moment within {timeout} s")
    process.communicate()
    return False


def store_layout(source: Path, target: Path, days: list[str]) -> None:
    """Copy the snapshot sets of ``days`` into ``target/exports/thinklab/<project>/<stamp>.json.gz``
    (stamp from each file's own ``retrieved``), keeping modification times."""
    for day in days:
        for path in sorted((source / day).glob("*.json.gz")):
            retrieved = json.loads(gzip.decompress(path.read_bytes()))["retrieved"]
            moment = datetime.fromisoformat(retrieved.replace("Z", "+00:00"))
            folder = target / "exports" / "thinklab" / path.name.removesuffix(".json.gz")
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, folder / f"{moment.strftime('%Y-%m-%dT%H%M%SZ')}.json.gz")


@dataclass
class Series:
    """A folder with every snapshot (``whole``), one without the last set (``before``), the last set's
    files alone (``last``), what a clean cold run of ``whole`` prints, and how long that run took."""

    whole: Path
    before: Path
    last: Path
    expected: dict[str, Any]
    cold_seconds: float

    def fresh(self, target: Path, *, complete: bool = True) -> Path:
        """A private copy (without any cache) of ``whole`` or ``before``."""
        shutil.copytree(self.whole if complete else self.before, target, copy_function=shutil.copy2)
        shutil.rmtree(cache_dir(target / "exports"), ignore_errors=True)
        return target

    def add_last(self, folder: Path) -> None:
        shutil.copytree(self.last, folder, dirs_exist_ok=True, copy_function=shutil.copy2)


@pytest.fixture(scope="module")
def series(thinklab_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Series:
    snapshots = thinklab_dir / "snapshots"
    days = sorted(p.name for p in snapshots.iterdir() if p.is_dir())
    assert days[-1] == LAST_DAY and len(days) == 21
    base = tmp_path_factory.mktemp("series")
    store_layout(snapshots, base / "whole", days)
    store_layout(snapshots, base / "before", days[:-1])
    store_layout(snapshots, base / "last", days[-1:])
    clean = Series(base / "whole", base / "before", base / "last", {}, 0.0).fresh(base / "clean")
    start = time.monotonic()
    expected, err = run(clean)
    seconds = time.monotonic() - start
    assert err == ""
    level = expected["overall"]["history"]
    assert level["snapshots"] == 210 and level["revisions"] > 0 and level["rerenders"] > 0
    return Series(base / "whole", base / "before", base / "last", expected, seconds)


def consistent_on_disk(exports: Path) -> None:
    """Whatever a kill left: a manifest, when there is one, names only complete files."""
    manifest = cache_dir(exports) / "manifest.json"
    if manifest.exists():
        names = json.loads(manifest.read_text(encoding="utf-8"))["tables"]
        for name in names.values():
            assert (cache_dir(exports) / name).stat().st_size > 0, name


def recovers(folder: Path, expected: dict[str, Any]) -> None:
    """After a kill: the next run prints the cold numbers, and leaves a cache the run after it uses
    silently. (A generation the killed run had replaced but not yet removed may stay on disk until the
    next write: it costs space, never numbers, since only the manifest's files are read.)"""
    exports = folder / "exports"
    consistent_on_disk(exports)
    result, err = run(folder)
    assert result == expected
    assert all("history cache" in line for line in err.splitlines()), err
    again, err = run(folder)
    assert again == expected and err == ""
    consistent_on_disk(exports)


def appears(path: Path) -> Callable[[], bool]:
    return path.exists


def new_parquet(cache: Path) -> Callable[[], bool]:
    """A Parquet file that was not there when the run started (a new generation being written)."""
    old = {p.name for p in cache.glob("*.parquet")} if cache.exists() else set()
    return lambda: cache.exists() and any(p.name not in old for p in cache.glob("*.parquet"))


def manifest_replaced(cache: Path) -> Callable[[], bool]:
    manifest = cache / "manifest.json"
    first = manifest.stat().st_ino if manifest.exists() else None

    def moment() -> bool:
        try:
            return manifest.stat().st_ino != first
        except FileNotFoundError:
            return False

    return moment


def after(seconds: float) -> Callable[[], bool]:
    start = time.monotonic()
    return lambda: time.monotonic() - start >= seconds


COLD_MOMENTS = ("cache folder appears", "first Parquet file appears", "0.5", "0.85")


@pytest.mark.parametrize("moment", COLD_MOMENTS)
def test_a_killed_cold_build_leaves_no_wrong_cache(series: Series, tmp_path: Path, moment: str) -> None:
    folder = series.fresh(tmp_path / "data")
    cache = cache_dir(folder / "exports")
    if moment == "cache folder appears":
        assert run_killed(folder, appears(cache))
    elif moment == "first Parquet file appears":
        assert run_killed(folder, new_parquet(cache))
    else:  # a fraction of a cold run's duration
        run_killed(folder, after(float(moment) * series.cold_seconds))
    recovers(folder, series.expected)


INCREMENTAL_MOMENTS = ("new Parquet file appears", "manifest replaced", "0.7")


@pytest.mark.parametrize("moment", INCREMENTAL_MOMENTS)
def test_a_killed_incremental_update_leaves_no_wrong_cache(
    series: Series, tmp_path: Path, moment: str
) -> None:
    """The cache holds 20 snapshot sets; the 21st is added; the run that extends the cache is killed."""
    folder = series.fresh(tmp_path / "data", complete=False)
    run(folder)
    series.add_last(folder)
    cache = cache_dir(folder / "exports")
    if moment == "new Parquet file appears":
        assert run_killed(folder, new_parquet(cache))
    elif moment == "manifest replaced":
        assert run_killed(folder, manifest_replaced(cache))
    else:
        run_killed(folder, after(float(moment) * series.cold_seconds))
    recovers(folder, series.expected)


def test_one_more_snapshot_warm_equals_cold(series: Series, tmp_path: Path) -> None:
    """Incremental = cold on real files, through the command: the cache of 20 sets extended by the 21st
    prints what a cold run of all 21 prints (and test_history.py holds the same on hand-made files)."""
    folder = series.fresh(tmp_path / "data", complete=False)
    before, _ = run(folder)
    assert before["overall"]["history"]["snapshots"] == 200
    series.add_last(folder)
    warm, err = run(folder)
    assert err == "" and warm == series.expected


@pytest.mark.parametrize("cached", [False, True], ids=["cold", "incremental"])
def test_two_runs_at_once_both_print_the_cold_numbers(series: Series, tmp_path: Path, cached: bool) -> None:
    """A second run started while the first is building (or extending) the cache."""
    folder = series.fresh(tmp_path / "data", complete=not cached)
    if cached:
        run(folder)
        series.add_last(folder)
    first = summary(folder)
    lock = cache_dir(folder / "exports") / ".lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    second = summary(folder)
    assert finish(first) == (series.expected, "")
    assert finish(second) == (series.expected, "")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGE: dict[str, Callable[[Path], None]] = {
    "manifest truncated": lambda cache: _truncate(cache / "manifest.json"),
    "Parquet file truncated": lambda cache: _truncate(next(cache.glob("comments-*.parquet"))),
    "Parquet file missing": lambda cache: next(cache.glob("notes-*.parquet")).unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_is_rebuilt_with_one_line(series: Series, tmp_path: Path, damage: str) -> None:
    folder = series.fresh(tmp_path / "data")
    run(folder)
    cache = cache_dir(folder / "exports")
    DAMAGE[damage](cache)
    result, err = run(folder)
    assert result == series.expected
    lines = err.splitlines()
    assert len(lines) == 1 and str(cache) in lines[0] and "rebuilding" in lines[0], err
    again, err = run(folder)
    assert again == series.expected and err == ""
