"""Counted periods kept in the user's cache (:mod:`impactreport.memo`): the same numbers as counting
afresh, never for other data, parameters or a damaged file.

On the real 2016–2017 snapshot sets (21 retrievals of every project): a period with its previous period
and an award year, counted once into an empty cache folder, then again from what was kept; each kept
result must give exactly what a run with an empty cache gives, and a run that finds its results must
not count (the statistics and the snapshot reader are replaced by functions that fail).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from impactreport import memo
from tests.runner import main_json

PERIOD = ["--since", "2016-10-01", "--until", "2016-12-31", "--compare-previous"]
AWARD = ["--award-start", "2016-10-01", "--years", "1"]


#: The retrievals these periods are counted from and bracketed by (2016-06-02 before the previous
#: period, 2017-01-01 the first after the period, 2017-09-09 the newest, for the award year).
DAYS = ("2016-06-02", "2016-09-01", "2016-10-01", "2016-12-01", "2017-01-01", "2017-09-09")


@pytest.fixture(scope="module")
def snapshots(thinklab_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six of the 21 snapshot sets: every one the periods below are counted from."""
    store = tmp_path_factory.mktemp("snapshots")
    for day in DAYS:
        shutil.copytree(thinklab_dir / "snapshots" / day, store / day)
    return store


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for this test."""
    where = tmp_path / "cache"
    monkeypatch.setenv("IMPACTREPORT_CACHE_DIR", str(where))
    return where


def _fresh(capsys, monkeypatch, tmp_path: Path, *args: str | Path) -> tuple[dict, str]:
    """The run with a cache folder nobody used: what counting afresh gives."""
    folder = tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*')))}"
    with monkeypatch.context() as patch:
        patch.setenv("IMPACTREPORT_CACHE_DIR", str(folder))
        return main_json(capsys, *args)


def _kept(cache: Path, kind: str) -> list[Path]:
    return sorted((cache / memo.FOLDER / kind).glob("*.zip"))


def _no_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, counting a period or reading a bracketing snapshot fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("counted again: the kept result was not used")

    monkeypatch.setattr("impactreport.counting.summarise", refuse)
    monkeypatch.setattr("impactreport.history.versions.snapshot_tables", refuse)


def test_kept_numbers_equal_counting_afresh(
    snapshots: Path, cache: Path, capsys, monkeypatch, tmp_path
) -> None:
    args = ["summary", snapshots, "--team", "dhimmel", *PERIOD, *AWARD]
    first, first_err = main_json(capsys, *args)
    # the period, the previous one, and Year 1 (one key with "since the award start", the same days)
    assert len(_kept(cache, "period")) == 3
    assert len(_kept(cache, "views")) == 1
    _no_counting(monkeypatch)
    again, again_err = main_json(capsys, *args)
    assert again == first and again_err == first_err
    monkeypatch.undo()
    fresh, fresh_err = _fresh(capsys, monkeypatch, tmp_path, *args)
    assert fresh == first and fresh_err == first_err
    # the numbers themselves, from the same snapshots counted by the tests of periods
    assert first["overall"]["comments"] == 91 and first["previous"]["comments"] == 20
    assert first["award_years"][0]["overall"]["comments"] == 141


def test_another_parameter_is_counted_afresh(
    snapshots: Path, cache: Path, capsys, monkeypatch, tmp_path
) -> None:
    """A kept result is never given for another team, identities file or threshold."""
    base = ["summary", snapshots, *PERIOD]
    with_team, _ = main_json(capsys, *base, "--team", "dhimmel")
    without, _ = main_json(capsys, *base)
    assert without["overall"]["non_team_contributors"] > with_team["overall"]["non_team_contributors"]
    assert without == _fresh(capsys, monkeypatch, tmp_path, *base)[0]
    identities = tmp_path / "identities.yml"
    identities.write_text("- name: Daniel Himmelstein\n  team: true\n  accounts: [thinklab:dhimmel]\n")
    joined, _ = main_json(capsys, *base, "--identities", identities)
    assert joined["overall"]["non_team_contributors"] == with_team["overall"]["non_team_contributors"]
    thresholds, _ = main_json(capsys, *base, "--team", "dhimmel", "--thresholds", "7")
    assert list(thresholds["overall"]["contributors_over"]) == ["7"]


def _edit_comment(path: Path, words: str) -> None:
    """Append ``words`` to the first comment of October–December 2016 in the export at ``path``."""
    export = json.loads(gzip.decompress(path.read_bytes()))
    comment = next(c for c in export["comments"] if "2016-10" <= c["published"][:7] <= "2016-12")
    comment["body_md"] += f" {words}"
    comment["body_html"] = comment["body_html"].removesuffix("</p>") + f" {words}</p>"
    path.write_bytes(gzip.compress(json.dumps(export).encode()))


def test_a_changed_snapshot_is_counted_afresh(
    thinklab_dir: Path, cache: Path, capsys, monkeypatch, tmp_path
) -> None:
    """The counted snapshot (the first after the period) edited in place: its new text is counted."""
    snapshots = thinklab_dir / "snapshots"
    store = tmp_path / "store"
    for day in ("2016-09-01", "2016-10-01", "2017-01-01"):
        shutil.copytree(snapshots / day, store / day)
    args = ["summary", store, "--since", "2016-10-01", "--until", "2016-12-31"]
    before, _ = main_json(capsys, *args)
    _edit_comment(store / "2017-01-01" / "rephetio.json.gz", "three more words")
    after, _ = main_json(capsys, *args)
    assert after["overall"]["words"] == before["overall"]["words"] + 3
    assert after == _fresh(capsys, monkeypatch, tmp_path, *args)[0]
    # a snapshot of a later day does not move the closed period, and is a new store: counted afresh
    shutil.copytree(snapshots / "2017-02-01", store / "2017-02-01")
    later, _ = main_json(capsys, *args)
    assert later["overall"] == after["overall"] | {"views": later["overall"]["views"]}
    assert len(_kept(cache, "period")) == 3


def _rewrite_meta(path: Path, change) -> None:
    """Rewrite a kept result's meta.json with ``change`` applied (frames kept as they are)."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    head = json.loads(parts["meta.json"])
    change(head)
    parts["meta.json"] = json.dumps(head).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def test_a_damaged_result_is_never_trusted(
    snapshots: Path, cache: Path, capsys, monkeypatch, tmp_path
) -> None:
    args = ["summary", snapshots, *PERIOD]
    counted, _ = main_json(capsys, *args)
    (kept,) = [p for p in _kept(cache, "period") if b'"comments": 91' in p.read_bytes()]

    def inflate(head: dict) -> None:
        head["meta"]["stats"]["overall"]["comments"] = 9_999

    _rewrite_meta(kept, inflate)
    assert main_json(capsys, *args)[0] == counted
    # the views frame altered behind its sha256, then a file that is not a zip at all
    (views,) = _kept(cache, "views")
    with zipfile.ZipFile(views) as archive:
        frame = archive.read("views.arrow")
    data = views.read_bytes()
    views.write_bytes(data.replace(frame[-64:], bytes(64)))
    assert main_json(capsys, *args)[0] == counted
    for path in _kept(cache, "period"):
        path.write_bytes(b"not a zip")
    assert main_json(capsys, *args)[0] == counted


def test_results_are_private_and_the_oldest_go(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(memo, "KEEP", 2)
    keys = [memo.key_of("period", {"n": n}) for n in range(4)]
    folder = cache / memo.FOLDER / "period"
    for n, key in enumerate(keys):
        memo.save("period", key, {"n": n})
        (folder / "notes.txt").write_text("not ours")
        os.utime(folder / f"{key}.zip", ns=(n * 10**9, n * 10**9))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{keys[2]}.zip", f"{keys[3]}.zip", "notes.txt"]
    )
    assert memo.load("period", keys[3]) == memo.Entry({"n": 3})
    assert memo.load("period", keys[0]) is None
    assert memo.load("period", keys[2]).meta == {"n": 2}  # another key's file is never read for it
    assert stat.S_IMODE((folder / f"{keys[3]}.zip").stat().st_mode) == 0o600
    for where in (cache, cache / memo.FOLDER, folder):
        assert stat.S_IMODE(where.stat().st_mode) == 0o700
    # a key is of everything it names
    assert memo.key_of("period", {"n": 1}) != memo.key_of("views", {"n": 1}) != memo.key_of("views", {"n": 2})


def test_a_link_in_place_of_a_result_is_not_followed(cache: Path, tmp_path: Path) -> None:
    key = memo.key_of("period", {"n": 1})
    memo.save("period", key, {"n": 1})
    where = cache / memo.FOLDER / "period" / f"{key}.zip"
    elsewhere = tmp_path / "elsewhere.zip"
    where.rename(elsewhere)
    where.symlink_to(elsewhere)
    assert memo.load("period", key) is None
