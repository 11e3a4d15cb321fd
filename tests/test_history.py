"""History from the snapshot series: revisions, re-renders, deletions and the versioned tables' cache.

Fast tests write three small store snapshots by hand (one edit, one re-render, one deletion); slow
ones import the real archive and compare with a count made here from the raw JSON of each git
commit (plain ``git`` + ``json``, not the package's loader).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from rapidfuzz.distance import LCSseq

from impactreport.history import HISTORY_KEYS, load_versions, summarise
from impactreport.history.cache import cache_dir
from impactreport.settings import Period
from tests import builders
from tests.builders import comment, profile, thread, write_snapshot
from tests.independent import archive_exports, has_ids

STAMPS = ("2020-01-01T000000Z", "2020-01-02T000000Z", "2020-01-03T000000Z")


def _comment(cid: int, md: str, html: str) -> dict[str, object]:
    return comment(cid, published="2019-12-31T00:00:00.000000Z", body=md, body_html=html)


def _export(retrieved: str, comments: list[dict[str, object]]) -> dict[str, object]:
    return builders.export(
        threads=[thread(1, published="2019-12-31T00:00:00.000000Z", url="/discussion/t/1", views=3)],
        comments=comments,
        profiles=[profile(1, "ann", "A", "N")],
        retrieved=retrieved,
    )


def _write(root: Path, index: int) -> None:
    """Snapshot ``index`` (0, 1, 2): 0 = both comments; 1 = comment 1 edited, comment 2 re-rendered;
    2 = comment 2 gone."""
    first = [_comment(1, "hello\r\nthere", "<p>hello there</p>"), _comment(2, "same", "<p>same</p>")]
    second = [
        _comment(1, "hello world\nthere!", "<p>hello world there!</p>"),
        _comment(2, "same", "<div>same</div>"),
    ]
    third = [second[0]]
    comments = (first, second, third)[index]
    stamp = STAMPS[index]
    retrieved = datetime.strptime(stamp, "%Y-%m-%dT%H%M%SZ").replace(tzinfo=UTC).isoformat()
    write_snapshot(root, "thinklab", "p", stamp, _export(retrieved.replace("+00:00", "Z"), comments))


def _history(root: Path, notices: list[str] | None = None, period: Period | None = None) -> dict:
    said = notices if notices is not None else []
    return summarise(load_versions([root / "exports"], said.append), period)


def test_one_edit_one_rerender_one_deletion(tmp_path: Path) -> None:
    for index in range(3):
        _write(tmp_path, index)
    result = _history(tmp_path)
    level = result["projects"]["p"]
    assert list(level) == list(HISTORY_KEYS)
    old, new = "hello\nthere", "hello world\nthere!"  # CRLF → LF before comparing
    common = LCSseq.similarity(old, new)
    assert common == len(old)  # nothing of the old text was removed
    assert level["snapshots"] == 3
    assert level["first_snapshot"] == "2020-01-01T00:00:00Z"
    assert level["last_snapshot"] == "2020-01-03T00:00:00Z"
    assert level["revisions"] == level["comment_revisions"] == 1
    assert level["note_revisions"] == level["document_revisions"] == 0
    assert level["edited_posts"] == 1
    assert level["inserted_characters"] == len(new) - common == 7
    assert level["deleted_characters"] == len(old) - common == 0
    assert level["written_characters"] == len(old) + len("same") + 7
    assert level["rerenders"] == 1
    assert level["deleted_posts"] == 1
    assert result["overall"] == level


def test_period_counts_what_happened_in_it(tmp_path: Path) -> None:
    for index in range(3):
        _write(tmp_path, index)
    level = _history(tmp_path, period=Period(date(2020, 1, 3), None))["projects"]["p"]
    assert (level["snapshots"], level["revisions"], level["rerenders"], level["deleted_posts"]) == (
        1,
        0,
        0,
        1,
    )
    assert level["written_characters"] == 0


def test_incremental_cache_equals_cold_build(tmp_path: Path) -> None:
    for index in range(2):
        _write(tmp_path, index)
    notices: list[str] = []
    before = _history(tmp_path, notices)
    assert before["overall"]["deleted_posts"] == 0
    manifest = cache_dir(tmp_path / "exports") / "manifest.json"
    assert manifest.exists()
    _write(tmp_path, 2)
    warm = _history(tmp_path, notices)
    assert notices == []
    shutil.rmtree(cache_dir(tmp_path / "exports"))
    cold = _history(tmp_path, notices)
    assert warm == cold
    assert cold["overall"]["deleted_posts"] == 1


@pytest.mark.parametrize("damage", ["manifest", "table"])
def test_corrupt_cache_is_rebuilt_with_a_notice(tmp_path: Path, damage: str) -> None:
    for index in range(3):
        _write(tmp_path, index)
    expected = _history(tmp_path)
    where = cache_dir(tmp_path / "exports")
    if damage == "manifest":
        (where / "manifest.json").write_text("{not json", encoding="utf-8")
    else:
        next(where.glob("comments-*.parquet")).write_bytes(b"garbage")
    notices: list[str] = []
    assert _history(tmp_path, notices) == expected
    assert len(notices) == 1 and "rebuilding" in notices[0]
    again: list[str] = []
    assert _history(tmp_path, again) == expected and again == []


def test_read_only_folder_is_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot folder with no write bit (an archive kept read-only, even for root) stays untouched:
    its cache goes to the per-user cache folder, and the second run reads it from there."""
    for index in range(3):
        _write(tmp_path, index)
    home = tmp_path / "cache-home"
    monkeypatch.setenv("IMPACTREPORT_CACHE_DIR", str(home))
    exports = tmp_path / "exports"
    before = sorted(str(p) for p in exports.rglob("*"))
    exports.chmod(0o555)
    try:
        expected = _history(tmp_path)
        assert sorted(str(p) for p in exports.rglob("*")) == before
        assert len(list(home.glob("history/exports-*/manifest.json"))) == 1
        notices: list[str] = []
        assert _history(tmp_path, notices) == expected and notices == []
    finally:
        exports.chmod(0o755)


# --- the real archive ------------------------------------------------------------------------------

FIRST_C_DAY = date(2016, 5, 11)  # every export from 2016-05-10 on is format C (ids on every row)


def _texts(export: dict) -> dict[tuple[str, int], tuple[str | None, str | None]]:
    """(kind, id) → (markdown, html) of every post of one raw export, CRLF → LF."""

    def lf(text: str | None) -> str | None:
        return None if text is None else text.replace("\r\n", "\n")

    def joined(a: str | None, b: str | None) -> str | None:
        return None if a is None and b is None else f"{a or ''}\n\n{b or ''}"

    out: dict[tuple[str, int], tuple[str | None, str | None]] = {}
    for row in export["comments"]:
        out[("comment", row["comment_id"])] = (lf(row.get("body_md")), lf(row.get("body_html")))
    for row in export["notes"]:
        out[("note", row["note_id"])] = (lf(row.get("body_md")), lf(row.get("body_html")))
    for row in export["documents"]:
        out[("document", row["document_id"])] = (
            lf(joined(row.get("intro_md"), row.get("body_md"))),
            lf(joined(row.get("intro_html"), row.get("body_html"))),
        )
    return out


def _independent(clone: Path) -> dict[str, dict[str, int]]:
    """Per project, from every commit's raw JSON: revisions, edited posts, re-renders, inserted and
    deleted characters of changes seen in an export retrieved on or after :data:`FIRST_C_DAY`."""
    held: dict[str, dict] = {}
    counts: dict[str, dict[str, int]] = {}
    edited: dict[str, set] = {}
    for project, export in archive_exports(clone):
        if not has_ids(export):
            continue  # an export without ids (formats A, B): not compared here
        day = datetime.fromisoformat(export["retrieved"].replace("Z", "+00:00")).date()
        posts = _texts(export)
        before = held.get(project, {})
        mine = counts.setdefault(project, dict.fromkeys(("revisions", "rerenders", "inserted", "deleted"), 0))
        for key, (md, html) in posts.items():
            if key not in before or day < FIRST_C_DAY:
                continue
            old_md, old_html = before[key]
            on_md = md is not None and old_md is not None
            new, old = (md, old_md) if on_md else (html or "", old_html or "")
            if new != old:
                common = LCSseq.similarity(old, new)
                mine["revisions"] += 1
                mine["inserted"] += len(new) - common
                mine["deleted"] += len(old) - common
                edited.setdefault(project, set()).add(key)
            elif html != old_html:
                mine["rerenders"] += 1
        held[project] = {**before, **posts}
    for project, mine in counts.items():
        mine["edited_posts"] = len(edited.get(project, set()))
    return counts


@pytest.mark.slow
def test_archive_agrees_with_an_independent_count(archive: tuple[Path, Path]) -> None:
    data, clone = archive
    result = summarise(load_versions([data / "exports"], lambda _: None), Period(FIRST_C_DAY, None))
    expected = _independent(clone)
    assert sum(p["revisions"] for p in expected.values()) > 0
    assert sum(p["rerenders"] for p in expected.values()) > 0
    for project, counts in expected.items():
        level = result["projects"][project]
        got = {
            "revisions": level["revisions"],
            "rerenders": level["rerenders"],
            "inserted": level["inserted_characters"],
            "deleted": level["deleted_characters"],
            "edited_posts": level["edited_posts"],
        }
        assert got == counts, project
        assert level["deleted_posts"] == 0  # Thinklab never deleted a post in the archive
