"""Caches live in the cache folder, never in the data read: ``summary --history`` and ``figures`` leave
the data tree exactly as they found it (paths, sizes, modification times), a read-only data folder
works, ``--cache-dir`` is honoured, and the cache folder is ours alone (private, never a link).

The data is a small store made of real files: three dated snapshot sets of two projects from
``../shared/thinklab/snapshots``, laid out as ``fetch`` writes them.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
from datetime import datetime
from pathlib import Path

import pytest

from impactreport.cache_home import CACHE_HOME_ENV
from impactreport.cli.main import main
from impactreport.history import load_versions
from impactreport.history.cache import cache_dir
from tests.conftest import listing_changes, tree_listing
from tests.runner import main_json

pytestmark = pytest.mark.shared

DAYS = ("2016-09-01", "2017-03-01", "2017-09-09")
PROJECTS = ("meta", "rephetio")
PERIOD = ("--since", "2016-09-01", "--until", "2017-08-31")


@pytest.fixture
def data(thinklab_dir: Path, tmp_path: Path) -> Path:
    """``data/exports/thinklab/<project>/<stamp>.json.gz`` for :data:`DAYS` × :data:`PROJECTS` (copies
    keeping their modification times; stamp from each file's own ``retrieved``)."""
    root = tmp_path / "data"
    for day in DAYS:
        for project in PROJECTS:
            source = thinklab_dir / "snapshots" / day / f"{project}.json.gz"
            retrieved = json.loads(gzip.decompress(source.read_bytes()))["retrieved"]
            moment = datetime.fromisoformat(retrieved.replace("Z", "+00:00"))
            folder = root / "exports" / "thinklab" / project
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / f"{moment:%Y-%m-%dT%H%M%SZ}.json.gz")
    return root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache home of this test's own (``IMPACTREPORT_CACHE_DIR``)."""
    folder = tmp_path / "cache-home"
    monkeypatch.setenv(CACHE_HOME_ENV, str(folder))
    return folder


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict, str]:
    """``impactreport summary ... --json`` in this process: (the JSON printed, stderr)."""
    return main_json(capsys, "summary", *args)


def manifests(home: Path) -> list[Path]:
    return sorted(home.glob("history/*/manifest.json"))


@pytest.mark.slow  # draws every figure (vl-convert)
def test_read_commands_leave_the_data_tree_as_it_was(
    data: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_listing(data)
    result, first_err = summary(capsys, str(data / "exports"), *PERIOD, "--history")
    assert result["overall"]["history"]["snapshots"] == 4  # two sets of two projects in the period
    out = tmp_path / "figures"
    assert main(["figures", str(data / "exports"), "--out", str(out), "--formats", "svg", *PERIOD]) == 0
    capsys.readouterr()
    assert (out / "views-over-time.svg").exists()
    assert listing_changes(before, tree_listing(data)) == []
    assert manifests(home) == [cache_dir(data / "exports") / "manifest.json"]
    again, err = summary(capsys, str(data / "exports"), *PERIOD, "--history")  # from the cache
    assert again == result and err == first_err  # the period's notes, nothing about the cache
    assert "cache" not in err
    assert listing_changes(before, tree_listing(data)) == []


@pytest.mark.slow
def test_render_leaves_the_data_tree_as_it_was(
    data: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report's code runs in a Jupyter kernel (a child process): it finds the cache folder through
    the environment it inherits."""
    before = tree_listing(data)
    out = tmp_path / "out"
    params = ["-P", f"data:{data}", "-P", "since:2016-09-01", "-P", "until:2017-08-31"]
    assert main(["render", "--engine", "builtin", "--to", "html", "--output-dir", str(out), *params]) == 0
    capsys.readouterr()
    assert (out / "index.html").exists()
    assert listing_changes(before, tree_listing(data)) == []
    assert manifests(home) == [cache_dir(data) / "manifest.json"]


def _chmod_tree(root: Path, *, writable: bool) -> None:
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755 if writable else 0o555)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644 if writable else 0o444)


def test_a_read_only_data_folder_works_and_its_cache_goes_to_the_cache_folder(
    data: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _chmod_tree(data, writable=False)
    try:
        before = tree_listing(data)
        result, err = summary(capsys, str(data), *PERIOD, "--history")
        assert "cache" not in err
        assert result["overall"]["history"]["snapshots"] == 4
        assert listing_changes(before, tree_listing(data)) == []
        assert manifests(home) == [cache_dir(data) / "manifest.json"]
    finally:
        _chmod_tree(data, writable=True)


def test_cache_dir_option_is_honoured_for_one_command(
    data: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = tmp_path / "chosen"
    before = tree_listing(data)
    result, _ = summary(capsys, str(data), "--history", "--cache-dir", str(chosen))
    assert len(manifests(chosen)) == 1 and manifests(home) == []
    assert os.environ[CACHE_HOME_ENV] == str(home)  # restored when the command ended
    assert listing_changes(before, tree_listing(data)) == []
    again, err = summary(capsys, str(data), "--history", "--cache-dir", str(chosen))
    assert again == result and err == "" and len(manifests(chosen)) == 1


def test_xdg_cache_home_is_the_default(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_HOME_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    where = cache_dir(data)
    assert where.parent == tmp_path / "xdg" / "impactreport" / "history"
    assert where.name.startswith("data-") and len(where.name) == len("data-") + 16


def test_two_folders_of_one_name_get_two_caches(tmp_path: Path, home: Path) -> None:
    (tmp_path / "a" / "exports").mkdir(parents=True)
    (tmp_path / "b" / "exports").mkdir(parents=True)
    first, second = cache_dir(tmp_path / "a" / "exports"), cache_dir(tmp_path / "b" / "exports")
    assert first != second and first.parent == second.parent == home / "history"
    assert cache_dir(tmp_path / "a" / "exports" / ".." / "exports") == first  # keyed by the resolved path


def test_the_cache_folder_is_private(data: Path, home: Path) -> None:
    load_versions([data], print)
    for folder in (home, home / "history", cache_dir(data)):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in cache_dir(data).iterdir():
        assert stat.S_IMODE(file.lstat().st_mode) == 0o600, file


def test_a_link_at_the_cache_folder_is_not_followed(data: Path, home: Path, tmp_path: Path) -> None:
    """A symbolic link planted where the cache would be: nothing is written through it, one notice."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = cache_dir(data)
    where.parent.mkdir(parents=True)
    where.symlink_to(elsewhere)
    notices: list[str] = []
    versions = load_versions([data], notices.append)
    assert versions.snapshots.height == len(DAYS) * len(PROJECTS)
    assert list(elsewhere.iterdir()) == []
    assert len(notices) == 1 and str(where) in notices[0] and "symbolic link" in notices[0], notices


def test_only_files_of_our_own_pattern_are_removed(data: Path, home: Path) -> None:
    load_versions([data], print)
    where = cache_dir(data)
    first = {p.name for p in where.glob("*.parquet")}
    foreign = [where / "notes.parquet", where / "mine-0123456789ab.parquet.keep", where / "README"]
    for path in foreign:
        path.write_text("not ours")
    max((data / "exports" / "thinklab" / "meta").iterdir()).unlink()  # a change: the cache is rewritten
    notices: list[str] = []
    load_versions([data], notices.append)
    assert notices and "meta" in notices[0]
    assert not first & {p.name for p in where.glob("*.parquet")}  # the old generation is gone
    assert all(path.read_text() == "not ours" for path in foreign)


def test_an_old_history_folder_in_the_data_is_neither_read_nor_removed(
    data: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = data / "exports" / ".history"
    old.mkdir()
    (old / "manifest.json").write_text("{not json", encoding="utf-8")
    before = tree_listing(data)
    _, err = summary(capsys, str(data), "--history")
    assert err == ""  # a damaged cache there would have said "rebuilding"
    assert listing_changes(before, tree_listing(data)) == []


@pytest.mark.parametrize("home", ["", "/", "relative/home"])
def test_an_empty_or_odd_home_never_puts_the_cache_at_the_root(
    home: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty HOME once put the cache in /.cache: the account's home is used instead."""
    import pwd

    from impactreport.cache_home import cache_home

    monkeypatch.delenv("IMPACTREPORT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # relative: ignored, as the XDG rule says
    monkeypatch.setenv("HOME", home)
    where = cache_home()
    assert where.is_absolute() and where.parts[:2] != ("/", ".cache")
    assert where == Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "impactreport"
