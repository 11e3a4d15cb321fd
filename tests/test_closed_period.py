"""A closed period never moves, the previous period is counted like the period, award years.

On the imported archive (``fetch archive`` of the real daily exports), cut after 2017-09-01: the award
year 2016-09-01..2017-08-31 is counted, then one more snapshot arrives that edits one in-period comment,
deletes another, adds a comment and adds views; every number of that year must stay the same. The
previous period must equal a direct run of it, key for key, views included; each award-year column must
equal a direct run of its year.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from impactreport.cli.main import main
from impactreport.layout import parse_stamp
from tests.runner import main_json

pytestmark = pytest.mark.slow

SINCE, UNTIL = "2016-09-01", "2017-08-31"
CUT = datetime(2017, 9, 2, tzinfo=UTC)  # snapshots retrieved on 1 Sep 2017 are kept


def _store_files(data: Path) -> list[Path]:
    return sorted(p for p in (data / "exports").rglob("*.json.gz") if not p.name.startswith("."))


@pytest.fixture(scope="module")
def cut_store(archive: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The imported archive with only the snapshots retrieved before 2 Sep 2017."""
    data, _ = archive
    out = tmp_path_factory.mktemp("cut") / "data"
    for path in _store_files(data):
        if parse_stamp(path.name.removesuffix(".json.gz")) < CUT:
            target = out / path.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return out


def _in_period(value: str) -> bool:
    return SINCE <= value[:10] <= UNTIL


@pytest.fixture(scope="module")
def later_store(cut_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The cut store plus a snapshot of rephetio of 1 Oct 2017 that edits an in-period comment, deletes
    another, adds a new comment and adds views to every discussion."""
    out = tmp_path_factory.mktemp("later") / "data"
    shutil.copytree(cut_store, out)
    folder = out / "exports" / "thinklab" / "rephetio"
    newest = sorted(folder.glob("*.json.gz"))[-1]
    export = json.loads(gzip.decompress(newest.read_bytes()))
    in_period = [c for c in export["comments"] if _in_period(c["published"])]
    edited, deleted = in_period[-1], in_period[-2]
    edited["body_md"] += "\n\nEdited after the period."
    edited["body_html"] += "<p>Edited after the period.</p>"
    export["comments"] = [c for c in export["comments"] if c["comment_id"] != deleted["comment_id"]]
    export["notes"] = [n for n in export["notes"] if n["comment_id"] != deleted["comment_id"]]
    added = dict(edited, comment_id=max(c["comment_id"] for c in export["comments"]) + 1)
    added["published"] = "2017-09-30T12:00:00.000000Z"
    added["body_md"] = added["body_html"] = "A comment after the period."
    export["comments"].append(added)
    for thread in export["threads"]:
        thread["views"] = (thread["views"] or 0) + 100
    export["retrieved"] = "2017-10-01T00:00:00.000000Z"
    (folder / "2017-10-01T000000Z.json.gz").write_bytes(gzip.compress(json.dumps(export).encode()))
    return out, {"edited": edited["comment_id"], "deleted": deleted["comment_id"]}


def _summary(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    return main_json(capsys, "summary", *args, "--team", "dhimmel")[0]


def test_a_closed_period_never_moves(cut_store: Path, later_store: tuple[Path, dict], capsys) -> None:
    period = ["--since", SINCE, "--until", UNTIL, "--compare-previous"]
    before = _summary(capsys, str(cut_store), *period)
    later, _ = later_store
    after = _summary(capsys, str(later), *period)
    # the later snapshot does change the data: its newest state differs
    newest_before = _summary(capsys, str(cut_store))
    newest_after = _summary(capsys, str(later))
    assert newest_after["overall"]["comments"] == newest_before["overall"]["comments"]  # -1 +1
    assert newest_after["overall"]["characters"] != newest_before["overall"]["characters"]
    assert newest_after["overall"]["views"] > newest_before["overall"]["views"]
    # ... and the award year stays as it was, every key, the previous period and the change too
    for key in ("overall", "sources", "projects", "previous", "previous_period", "change"):
        assert after[key] == before[key], key
    assert before["overall"]["comments"] == 152 and before["overall"]["words"] == 40765
    assert any("first snapshot retrieved after it" in note for note in after["notes"])


def test_as_of_reproduces_an_earlier_state(cut_store: Path, later_store: tuple[Path, dict], capsys) -> None:
    later, _ = later_store
    as_of = _summary(capsys, str(later), "--as-of", "2017-09-01")
    plain = _summary(capsys, str(cut_store))
    assert {k: v for k, v in as_of.items() if k != "notes"} == {
        k: v for k, v in plain.items() if k != "notes"
    }
    assert any("as the data stood on 1 Sep 2017" in note for note in as_of["notes"])


def test_previous_equals_a_direct_run_of_the_previous_period(cut_store: Path, capsys) -> None:
    compared = _summary(capsys, str(cut_store), "--since", SINCE, "--until", UNTIL, "--compare-previous")
    assert compared["previous_period"] == {"since": "2015-09-01", "until": "2016-08-31"}
    direct = _summary(capsys, str(cut_store), "--since", "2015-09-01", "--until", "2016-08-31")
    assert compared["previous"] == direct["overall"]
    # views: the store starts in Apr 2016, so no snapshot brackets the previous year: null on both sides
    assert direct["overall"]["views"] is None
    # a previous period chosen by hand, with views, equals its direct run too
    chosen = _summary(
        capsys,
        str(cut_store),
        *("--since", "2017-03-01", "--until", "2017-08-31"),
        *("--previous-since", "2016-09-01", "--previous-until", "2017-02-28"),
    )
    direct = _summary(capsys, str(cut_store), "--since", "2016-09-01", "--until", "2017-02-28")
    assert chosen["previous"] == direct["overall"]
    assert direct["overall"]["views"] is not None and direct["overall"]["views"] > 0


def test_award_years_equal_direct_runs(cut_store: Path, capsys) -> None:
    award = _summary(capsys, str(cut_store), "--award-start", "2016-03-01", "--years", "2")
    columns = award["award_years"]
    assert [c["label"] for c in columns] == ["Year 1", "Year 2", "Since award start"]
    assert [(c["since"], c["until"]) for c in columns] == [
        ("2016-03-01", "2017-02-28"),
        ("2017-03-01", "2018-02-28"),
        ("2016-03-01", "2018-02-28"),
    ]
    for column in columns:
        direct = _summary(capsys, str(cut_store), "--since", column["since"], "--until", column["until"])
        assert column["overall"] == direct["overall"], column["label"]
    year1, year2, whole = (c["overall"] for c in columns)
    # posts add up; their words need not: Year 1 counts its texts as they stood at its end, the whole
    # span as they stand at its end (edits made in year 2 to year-1 comments count there)
    for key in ("comments", "notes", "documents"):
        assert year1[key] + year2[key] == whole[key], key
    assert any("past the end of the data" in note for note in columns[1]["notes"])
    # the human output shows one column per year
    assert main(["summary", str(cut_store), "--award-start", "2016-03-01", "--years", "2"]) == 0
    out = capsys.readouterr().out
    assert "Award years" in out and "Since award start" in out and "Year 2" in out
