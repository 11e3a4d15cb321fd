"""The shared snapshot store: layout, bytes on disk, deduplication, manifest, lock, crash leftovers."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from impactreport.fetch.store import (
    SnapshotStore,
    StoreLocked,
    is_canonical,
    newest_snapshot,
    replace_retrieved,
    retrieved_in_text,
    save_snapshot,
    serialise,
    store_lock,
    text_hash,
)
from impactreport.snapshots import discover
from tests import builders

T1 = datetime(2017, 9, 9, 23, 29, 39, 378903, tzinfo=UTC)
T2 = datetime(2017, 9, 10, 8, 0, 0, 1, tzinfo=UTC)
T3 = datetime(2017, 9, 11, 8, 0, 0, 0, tzinfo=UTC)


def export(comments: int = 2) -> dict:
    """A small export with non-ASCII text (kept raw) and nested keys in unsorted order."""
    return builders.export(
        threads=[{"thread_id": 1, "subject": "Café ✓ 🧬", "profile_id": None}],
        comments=[{"comment_id": i, "body_md": f"line {i}\r\nnext", "thread_id": 1} for i in range(comments)],
        profiles=[{"username": "ana", "profile_id": 7}],
    )


def files(data: Path) -> list[Path]:
    return sorted((data / "exports").rglob("*.json.gz"))


def manifest(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / "exports/manifest.jsonl").read_text().splitlines()]


def test_stored_file_layout_and_bytes(tmp_path: Path) -> None:
    result = save_snapshot(tmp_path, "thinklab", "meta", export(), retrieved=T1)
    assert result.status == "stored"
    assert result.path == tmp_path / "exports/thinklab/meta/2017-09-09T232939Z.json.gz"
    raw = result.path.read_bytes()
    assert raw[4:8] == b"\0\0\0\0", "gzip mtime must be 0 for deterministic bytes"
    text = gzip.decompress(raw).decode("utf-8")
    expected = dict(export(), retrieved="2017-09-09T23:29:39.378903Z")
    assert text == json.dumps(expected, sort_keys=True, indent=2, ensure_ascii=False)
    assert "Café ✓ 🧬" in text and "\\u" not in text
    assert result.sha256 == hashlib.sha256(raw).hexdigest()
    assert result.bytes == len(raw)
    assert result.rows == {"comments": 2, "documents": 0, "notes": 0, "profiles": 1, "threads": 1}
    # the same content at the same time in another store gives the same bytes
    again = save_snapshot(tmp_path / "other", "thinklab", "meta", export(), retrieved=T1)
    assert again.path.read_bytes() == raw
    # the loader sees it as a snapshot of project meta
    [found] = discover([tmp_path / "exports"], all_snapshots=True)
    assert (found.source, found.project, found.path) == ("thinklab", "meta", result.path)


def test_unchanged_content_stores_nothing(tmp_path: Path) -> None:
    first = save_snapshot(tmp_path, "thinklab", "meta", export(), retrieved=T1)
    before = first.path.read_bytes()
    second = save_snapshot(tmp_path, "thinklab", "meta", dict(export(), retrieved="ignored"), retrieved=T2)
    assert second.status == "unchanged"
    assert second.path == first.path
    assert files(tmp_path) == [first.path]
    assert len(manifest(tmp_path)) == 1
    third = save_snapshot(tmp_path, "thinklab", "meta", export(comments=3), retrieved=T3)
    assert third.status == "stored"
    assert files(tmp_path) == [first.path, third.path]
    assert first.path.read_bytes() == before, "an earlier snapshot must never change"
    assert newest_snapshot(tmp_path, "thinklab", "meta")[0] == third.path
    assert newest_snapshot(tmp_path, "thinklab", "meta")[1]["comments"][2]["comment_id"] == 2
    assert newest_snapshot(tmp_path, "thinklab", "other") is None


def test_manifest_rows_match_files(tmp_path: Path) -> None:
    save_snapshot(tmp_path, "thinklab", "meta", export(), retrieved=T1)
    save_snapshot(tmp_path, "github", "owner/repo", export(comments=5), retrieved=T2)
    rows = manifest(tmp_path)
    assert [row["project"] for row in rows] == ["meta", "owner/repo"]
    for row in rows:
        path = tmp_path / row["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
        assert row["bytes"] == path.stat().st_size
        content = json.loads(gzip.decompress(path.read_bytes()))
        assert row["retrieved"] == content["retrieved"]
        assert row["rows"] == {k: len(v) for k, v in content.items() if isinstance(v, list)}
    assert rows[1]["file"] == "exports/github/owner__repo/2017-09-10T080000Z.json.gz"
    assert rows[1]["source"] == "github"


def test_older_version_compares_with_the_one_before_it(tmp_path: Path) -> None:
    """Importing history out of order: each version is compared with the snapshot preceding it."""
    save_snapshot(tmp_path, "thinklab", "p", export(comments=3), retrieved=T3)
    assert save_snapshot(tmp_path, "thinklab", "p", export(comments=1), retrieved=T1).status == "stored"
    assert save_snapshot(tmp_path, "thinklab", "p", export(comments=1), retrieved=T2).status == "unchanged"
    assert save_snapshot(tmp_path, "thinklab", "p", export(comments=3), retrieved=T3).status == "unchanged"
    assert len(files(tmp_path)) == 2


def test_same_second_different_content_moves_on_a_second(tmp_path: Path) -> None:
    a = save_snapshot(tmp_path, "thinklab", "p", export(comments=1), retrieved=T1)
    b = save_snapshot(tmp_path, "thinklab", "p", export(comments=2), retrieved=T1.replace(microsecond=999))
    assert a.path.name == "2017-09-09T232939Z.json.gz"
    assert b.path.name == "2017-09-09T232940Z.json.gz"
    # repeating both is idempotent
    assert save_snapshot(tmp_path, "thinklab", "p", export(comments=2), retrieved=T1).status == "unchanged"
    assert len(files(tmp_path)) == 2


def test_index_without_manifest_reads_the_files(tmp_path: Path) -> None:
    """A run killed between writing a file and its manifest line: the next run completes the manifest."""
    first = save_snapshot(tmp_path, "thinklab", "p", export(), retrieved=T1)
    [row] = manifest(tmp_path)
    (tmp_path / "exports/manifest.jsonl").write_text("")
    assert save_snapshot(tmp_path, "thinklab", "p", export(), retrieved=T2).status == "unchanged"
    assert manifest(tmp_path) == [row]
    assert first.path.read_bytes() == (tmp_path / row["file"]).read_bytes()


def test_bad_names_are_refused(tmp_path: Path) -> None:
    from impactreport.errors import InputError

    for name in ("..", ".hidden", "tab\there", "line\nbreak", ""):
        with pytest.raises(InputError):
            save_snapshot(tmp_path, "thinklab", name, export())
    # any other single path part is a project folder: spaces, quotes, letters beyond ASCII, a leading dash
    for name in ("a b", "it's", "é", "-x"):
        assert save_snapshot(tmp_path, "thinklab", name, export()).path.parent.name == name


def test_stale_temp_files_are_removed_and_ignored(tmp_path: Path) -> None:
    first = save_snapshot(tmp_path, "thinklab", "p", export(), retrieved=T1)
    stale = first.path.parent / ".2017-09-10T000000Z.json.gz.tmp-0123abcd"
    stale.write_bytes(b"\x1f\x8b partial")
    assert [f.path for f in discover([tmp_path / "exports"], all_snapshots=True)] == [first.path]
    with store_lock(tmp_path):
        assert not stale.exists()


LOCK_HOLDER = """
import sys, time
from impactreport.fetch.store import store_lock
with store_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_run_gets_one_line_and_lock_dies_with_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLocked) as caught, store_lock(tmp_path):
            pass
        message = str(caught.value)
        assert "\n" not in message
        assert f"pid {holder.pid}" in message and "another fetch" in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with store_lock(tmp_path):  # the kernel dropped the dead holder's lock
        assert save_snapshot(tmp_path, "thinklab", "p", export()).status == "stored"


def test_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    with store_lock(tmp_path), store_lock(tmp_path):
        save_snapshot(tmp_path, "thinklab", "p", export(), retrieved=T1)
    assert len(files(tmp_path)) == 1


def test_background_writes_match_foreground(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "bg")
    with store.background():
        for i, moment in enumerate((T1, T2, T3)):
            store.save_async("thinklab", "p", export(comments=i), retrieved=moment)
        store.save_async("thinklab", "p", export(comments=2), retrieved=T3.replace(hour=9))
    for i, moment in enumerate((T1, T2, T3)):
        save_snapshot(tmp_path / "fg", "thinklab", "p", export(comments=i), retrieved=moment)
    bg = [p.read_bytes() for p in files(tmp_path / "bg")]
    fg = [p.read_bytes() for p in files(tmp_path / "fg")]
    assert bg == fg and len(bg) == 3
    assert len(manifest(tmp_path / "bg")) == 3


def test_canonical_text_fast_path_matches_serialisation(latest_dir: Path) -> None:
    for path in sorted(latest_dir.glob("*.json")):
        raw = path.read_bytes()
        payload = json.loads(raw)
        body = {k: v for k, v in payload.items() if k != "retrieved"}
        data, content = serialise(body, payload["retrieved"])
        assert data == raw, path.name  # the archive's files are canonical already
        assert is_canonical(raw, payload)
        assert text_hash(raw) == content
        assert retrieved_in_text(raw) == payload["retrieved"]
        moved = replace_retrieved(raw, "2020-01-01T00:00:00.000000Z")
        assert json.loads(moved) == dict(payload, retrieved="2020-01-01T00:00:00.000000Z")
        assert text_hash(moved) == content
    payload = json.loads((latest_dir / "meta.json").read_bytes())
    assert not is_canonical(
        json.dumps(payload, indent=4, sort_keys=True, ensure_ascii=False).encode(), payload
    )
    assert not is_canonical(json.dumps(payload, indent=2, sort_keys=True).encode(), payload)
    unsorted = dict(reversed(list(payload.items())))
    assert not is_canonical(json.dumps(unsorted, indent=2, ensure_ascii=False).encode(), payload)


def test_text_given_but_not_canonical_is_reserialised(tmp_path: Path) -> None:
    payload = dict(export(), retrieved="2017-09-09T23:29:39.378903Z")
    ugly = json.dumps(payload, indent=4).encode()
    store = SnapshotStore(tmp_path)
    result = store.save("thinklab", "p", payload, retrieved=T1, text=ugly)
    assert gzip.decompress(result.path.read_bytes()) == serialise(export(), payload["retrieved"])[0]


def test_save_is_fast_enough_for_daily_use(tmp_path: Path) -> None:
    start = time.monotonic()
    for i in range(50):
        save_snapshot(tmp_path, "thinklab", "p", export(comments=i % 5), retrieved=T1.replace(second=i))
    assert time.monotonic() - start < 30
    assert len(manifest(tmp_path)) == 50
    assert not [name for name in os.listdir(tmp_path / "exports/thinklab/p") if name.startswith(".")]
