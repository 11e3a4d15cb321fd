"""Bad input: one line naming the file and the problem, exit code 2, no traceback; recoverable problems warn."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.builders import comment, export, note, profile, thread, write_export
from tests.runner import run_main

RETRIEVED = "2017-01-01T00:00:00.000000Z"
THREAD = thread(
    1,
    published="2016-01-01T00:00:00.000001Z",
    url="/discussion/s/1",
    views=3,
    doi="",
    doi_field=None,
    topic_field="",
)
COMMENT = comment(10, published="2016-01-01T00:00:00.000002Z", url="/discussion/s/1")
NOTE = note(20, added="2016-01-02T00:00:00.000002Z", url="/discussion/s/1#note-20")
PROFILE = profile(1, "ann", "Ann", "Lee")


def run(capsys, *args: str) -> tuple[int, str, str]:
    return run_main(capsys, "summary", *args)


def write(path: Path, data: bytes) -> Path:
    return write_export(path, data, gz=False)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.json", b"this is not json", "not a JSON export object"),
        (
            "p.json",
            b"<html><head><title>502 Bad Gateway</title></head></html>",
            "an HTML page, not a JSON export",
        ),
        ("p.json", b'{"documents": [}', "invalid JSON at line 1"),
        ("p.json", b"", "empty file"),
        ("p.json", b'{"threads": [], "comments": []}', "missing tables documents, notes, profiles"),
        (
            "p.json",
            json.dumps(export(threads=[{"weird": 1}], retrieved=RETRIEVED)).encode(),
            "unknown export format",
        ),
        (
            "p.json",
            json.dumps(export(retrieved=RETRIEVED) | {"threads": 5}).encode(),
            "table 'threads' is not an array",
        ),
        (
            "p.json",
            b'{"documents": [], "threads": [], "comments": [], "notes": [], "profiles": [{"username": "\xff\xfe"}]}',
            "not UTF-8",
        ),
        (
            "p.json",
            json.dumps(export(threads=[dict(THREAD, published="yesterday")], retrieved=RETRIEVED)).encode(),
            "field threads.published",
        ),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, capsys, name: str, content: bytes, message: str) -> None:
    path = write(tmp_path / name, content)
    code, out, err = run(capsys, str(path))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err and message in err
    assert out == ""


def test_truncated_gzip(tmp_path: Path, capsys) -> None:
    whole = gzip.compress(json.dumps(export(threads=[THREAD], retrieved=RETRIEVED)).encode())
    path = write(tmp_path / "p.json.gz", whole[: len(whole) // 2])
    code, _, err = run(capsys, str(path))
    assert code == 2 and "truncated or corrupt gzip" in err and str(path) in err


def test_missing_path_and_empty_folder(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope"))
    assert code == 2 and "no such file or folder" in err
    code, _, err = run(capsys, str(tmp_path))
    assert code == 2 and "no export files" in err


def test_recoverable_problems_warn_with_counts(tmp_path: Path, capsys) -> None:
    data = export(
        threads=[THREAD],
        comments=[COMMENT, COMMENT, dict(COMMENT, comment_id=11, thread_id=99)],
        notes=[NOTE, dict(NOTE, note_id=21, comment_id=404, url="/discussion/s/1#note-21")],
        profiles=[PROFILE],
        retrieved=RETRIEVED,
    )
    path = write(tmp_path / "p.json", json.dumps(data).encode())
    code, out, err = run(capsys, str(path), "--json")
    assert code == 0
    assert "1 duplicate comments id(s) dropped" in err
    assert "1 comment(s) dropped: their thread is not in the export" in err
    assert "1 note(s) dropped: their comment is not in the export" in err
    overall = json.loads(out)["overall"]
    assert (overall["comments"], overall["notes"], overall["contributors"]) == (1, 1, 1)


def test_empty_project_counts_zero(tmp_path: Path, capsys) -> None:
    write(tmp_path / "empty.json", json.dumps(export(retrieved=RETRIEVED)).encode())
    write(
        tmp_path / "full.json",
        json.dumps(
            export(threads=[THREAD], comments=[COMMENT], profiles=[PROFILE], retrieved=RETRIEVED)
        ).encode(),
    )
    code, out, err = run(capsys, str(tmp_path), "--json")
    assert code == 0 and "empty export" in err
    result = json.loads(out)
    assert result["projects"]["empty"]["comments"] == 0 and result["projects"]["empty"]["views"] is None
    assert result["overall"]["comments"] == 1 and result["overall"]["views"] == 3


def test_unknown_project_and_bad_option(tmp_path: Path, capsys) -> None:
    path = write(tmp_path / "p.json", json.dumps(export(threads=[THREAD], retrieved=RETRIEVED)).encode())
    code, _, err = run(capsys, str(path), "--project", "other")
    assert code == 2 and "--project other" in err
    code, _, err = run(capsys, str(path), "--thresholds", "x")
    assert code == 2 and "--thresholds" in err
