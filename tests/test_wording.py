"""Honest wording: numbers in the right grammatical number, one-line errors for every output path, the
report's warnings on the terminal, and no local absolute path in the report.

Every test runs the real command (a subprocess of the installed console script, or ``main`` in this
process where the report is rendered) on export files written here, and asserts the exact text.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from impactreport.labels import counted
from impactreport.layout import DEMO_MARKER
from impactreport.stats import ImpactStats, LevelStats
from tests import builders
from tests.test_render_errors import make_project

REPO = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "impactreport"
TRACEBACK = "Traceback"

THREAD = builders.thread(
    1, subject="Hello", topic_field=None, doi_field=None, doi=None, url="/discussion/hello/1"
)
COMMENT = builders.comment(10, published="2017-01-01T01:00:00.000000Z", body="x", url="/discussion/hello/1")
NOTE = builders.note(
    20, added="2017-01-01T02:00:00.000000Z", body="", body_html="", url="/discussion/hello/1#note-20"
)
PROFILE = builders.profile(1, "ann", "Ann", "Lee")


def one_of_each() -> dict:
    """A format-C export with one of everything the sentence counts: 1 discussion, 1 comment ("x": 1 word,
    1 character), 1 note (empty, as 2 real notes are) and 1 contributor."""
    return builders.export(
        threads=[THREAD],
        comments=[COMMENT],
        notes=[NOTE],
        profiles=[PROFILE],
        retrieved="2017-01-02T00:00:00.000000Z",
    )


def write_export(path: Path, data: dict | None = None) -> Path:
    return builders.write_export(path, data or one_of_each())


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False, timeout=300
    )


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The only stderr line of a refused command (exit code 2, no traceback), without its prefix."""
    assert TRACEBACK not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("impactreport: error: "), result.stderr
    assert result.returncode == 2, result
    return lines[0].removeprefix("impactreport: error: ")


# --- 1. singular and plural ----------------------------------------------------------------------------

ONE_SENTENCE = (
    "In total, 1 non-team member commented across 1 discussion, which generated 1 comment and 1 note "
    "totaling 1 word and 1 character."
)


def test_one_of_each_is_singular_in_summary(tmp_path: Path) -> None:
    export = write_export(tmp_path / "one.json")
    result = run("summary", export)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == ONE_SENTENCE
    # with a period the lead changes, the numbers keep their nouns
    result = run("summary", export, "--since", "2017-01-01", "--until", "2017-01-31")
    assert result.stdout.splitlines()[0] == "From 1 Jan 2017 to 31 Jan 2017, " + ONE_SENTENCE.removeprefix(
        "In total, "
    )


def test_none_and_two_are_plural_in_summary(tmp_path: Path) -> None:
    """0 and 2 take the plural; the contributor is on the team, so 0 non-team members."""
    data = one_of_each()
    second = dict(THREAD, thread_id=2, url="/discussion/two/2")
    data["threads"] = [THREAD, second]
    data["comments"] = [
        COMMENT,
        dict(COMMENT, comment_id=11, thread_id=2, body_md="y z", body_html="<p>y z</p>"),
    ]
    data["notes"] = []
    export = write_export(tmp_path / "two.json", data)
    result = run("summary", export, "--team", "ann")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "In total, 0 non-team members commented across 2 discussions, which generated 2 comments and "
        "0 notes totaling 3 words and 4 characters."
    )


def test_unknown_count_is_plural() -> None:
    """Without usernames the non-team count is unknown: "an unknown number of non-team members"."""
    level = LevelStats(discussions=1, comments=1, notes=1, words=1, characters=1, non_team_contributors=None)
    stats = ImpactStats(overall=level, projects={})
    assert stats.sentence() == (
        "In total, an unknown number of non-team members commented across 1 discussion, which generated "
        "1 comment and 1 note totaling 1 word and 1 character."
    )


@pytest.mark.parametrize(
    ("equivalent", "per", "expected"),
    [
        (0.0, 7000, "That is 0 publications' worth of words (7,000 words each)."),
        (1.0, 1, "That is 1 publication's worth of words (1 word each)."),
        (0.67, 1.5, "That is 0.67 publications' worth of words (1.5 words each)."),
        (24.36, 7000, "That is 24.36 publications' worth of words (7,000 words each)."),
        (1.5, 2, "That is 1.5 publications' worth of words (2 words each)."),
    ],
)
def test_publications_sentence(equivalent: float, per: float, expected: str) -> None:
    stats = ImpactStats(overall=LevelStats(publications_equivalent=equivalent), projects={})
    assert stats.publications_sentence(per) == expected


def test_report_counts() -> None:
    assert counted(1, "registrant") == "1 registrant"
    assert counted(0, "registrant") == "0 registrants"
    assert counted(1234, "person", "people") == "1,234 people"
    assert counted(1, "person", "people") == "1 person"
    assert counted(None, "DOI") == "an unknown number of DOIs"


# --- 2. output paths: one line, never a traceback --------------------------------------------------------


@pytest.mark.slow  # figures computes every figure before the refused write
def test_figures_out_is_a_file(tmp_path: Path) -> None:
    export = write_export(tmp_path / "one.json")
    readme = tmp_path / "README.md"
    readme.write_text("keep me")
    assert one_error(run("figures", export, "--out", "README.md", cwd=tmp_path)) == (
        "--out README.md: is a file, not a folder"
    )
    assert one_error(run("figures", export, "--out", "README.md/figures", cwd=tmp_path)) == (
        "--out README.md/figures: README.md is a file, not a folder"
    )
    assert readme.read_text() == "keep me"


def test_figures_out_holds_a_folder_where_a_figure_goes(tmp_path: Path) -> None:
    export = write_export(tmp_path / "one.json")
    (tmp_path / "out" / "imbalance.csv").mkdir(parents=True)
    assert one_error(run("figures", export, "--out", "out", cwd=tmp_path)) == (
        "--out out: out/imbalance.csv is a folder; move it away or choose another folder"
    )


def test_figures_out_not_writable(tmp_path: Path) -> None:
    export = write_export(tmp_path / "one.json")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a mode-555 folder is writable (see the /sys case)")
        assert one_error(run("figures", export, "--out", "locked", cwd=tmp_path)) == (
            "--out locked: not permitted to write there"
        )
        assert one_error(run("figures", export, "--out", "locked/figures", cwd=tmp_path)) == (
            "--out locked/figures: not permitted to write there"
        )
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.slow  # figures computes every figure before the refused write
def test_figures_out_where_no_one_may_write(tmp_path: Path, unwritable_folder: Path) -> None:
    """``/sys`` refuses new folders even to root (EPERM)."""
    target = unwritable_folder
    export = write_export(tmp_path / "one.json")
    assert (
        one_error(run("figures", export, "--out", target)) == f"--out {target}: not permitted to write there"
    )


@pytest.mark.slow  # figures draws every figure before the failed write
def test_figures_write_failure_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """A write that fails after the check (disk full) is one line naming the file, exit code 2."""
    from impactreport import files
    from impactreport.cli.main import main
    from impactreport.figures import save

    def full(path: Path, data: bytes, **_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(files, "write_atomic", full)
    monkeypatch.setattr(save, "write_atomic", full)
    export = write_export(tmp_path / "one.json")
    out = tmp_path / "out"
    assert main(["figures", str(export), "--out", str(out), "--formats", "svg"]) == 2
    err = capsys.readouterr().err
    assert TRACEBACK not in err
    [line] = err.strip().splitlines()
    assert line.startswith(f"impactreport: error: --out {out}: cannot write {out}/")
    assert line.endswith(" (No space left on device)")


@pytest.mark.slow  # two render runs
def test_render_output_dir_is_a_file(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    result = run("render", "--engine", "builtin", "--output-dir", taken, cwd=REPO)
    assert one_error(result) == f"--output-dir {taken}: is a file, not a folder"
    result = run("render", "--engine", "builtin", "--output-dir", taken / "out", cwd=REPO)
    assert one_error(result) == f"--output-dir {taken / 'out'}: {taken} is a file, not a folder"


# --- 3 and 4. the report's warnings on the terminal, and no local absolute path in the report ----------


@pytest.mark.slow
def test_render_prints_the_reports_warnings_and_shows_no_absolute_path(tmp_path: Path) -> None:
    """A data folder outside the project with generated demo data below it, and a team member who
    matches nobody: both warnings are in the report and on stderr (one line each, as summary prints
    them), the demo folder named from the data folder given, and no temporary path in the HTML."""
    project = make_project(tmp_path / "project")
    data = tmp_path / "elsewhere" / "data"
    write_export(data / "one.json")
    write_export(data / "demo" / "one.json")
    (data / "demo" / DEMO_MARKER).touch()
    out = tmp_path / "out"
    result = run(
        "render", "--engine", "builtin", "--to", "html", "--output-dir", out,
        "-P", f"data:{data}", "-P", "team:[nobody_x]", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert TRACEBACK not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if not line.startswith("render: ")]
    assert warnings == [
        "warning: data/demo: generated demo data, skipped (point at it to read it)",
        "warning: team member 'nobody_x' matches no contributor's username",
    ]
    html = (out / "index.html").read_text(encoding="utf-8")
    body = LexborHTMLParser(html).body
    assert body is not None
    text = re.sub(r"\s+", " ", body.text(separator=" ")).replace("\u00a0", " ")
    assert "Note: data/demo: generated demo data, skipped (point at it to read it)" in text
    assert "Note: team member 'nobody_x' matches no contributor's username" in text
    assert ONE_SENTENCE in text
    for local in {str(tmp_path), str(tmp_path.resolve()), str(REPO), f"{Path.home()}/"}:
        assert local not in html


@pytest.mark.slow
def test_render_prints_the_award_notes(tmp_path: Path) -> None:
    """The notes under the award-year table reach the terminal too, each once, after the warnings."""
    project = make_project(tmp_path / "project")
    export = write_export(tmp_path / "one.json")
    out = tmp_path / "out"
    result = run(
        "render", "--engine", "builtin", "--to", "html", "--output-dir", out,
        "-P", f"data:{export}", "-P", "team:[ann]", "-P", "award_start:2016-12-01", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("render: ")]
    assert lines and len(lines) == len(set(lines))
    assert all(line.startswith(("note: Year 1: ", "note: Since award start: ")) for line in lines), lines
    assert any("past the end of the data" in line for line in lines)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert str(tmp_path) not in html


def test_paths_in_messages_are_relative() -> None:
    from impactreport.render.notes import bases, relative

    root = Path("/srv/impact")
    outside = bases(["/tmp/x/data"], [Path("/tmp/x/data")], root)
    assert relative("/tmp/x/data/demo: generated demo data, skipped", outside) == (
        "data/demo: generated demo data, skipped"
    )
    assert relative("/tmp/x/data: no export files", outside) == "data: no export files"
    assert relative("found in /tmp/x/data.", outside) == "found in data."
    # only whole names: a sibling folder, a file beside it and a URL are left alone
    assert (
        relative("/tmp/x/data2/a.json and /tmp/x/data.json", outside)
        == "/tmp/x/data2/a.json and /tmp/x/data.json"
    )
    assert relative("https://example.org/tmp/x/data/y", outside) == "https://example.org/tmp/x/data/y"
    # typed relative: shown as typed, even with ..; the project root's other paths from the root
    typed = bases(["data/exports", "../shared"], [root / "data/exports", root / "../shared"], root)
    assert relative("/srv/impact/data/exports/demo: skipped", typed) == "data/exports/demo: skipped"
    assert relative("/srv/impact/../shared/demo: skipped", typed) == "../shared/demo: skipped"
    assert relative("/srv/shared/demo: skipped", typed) == "../shared/demo: skipped"
    assert (
        relative("/srv/impact/data/identities.yml:3: account 'x'", typed)
        == "data/identities.yml:3: account 'x'"
    )
    # given as an absolute path under the project root: from the root
    inside = bases(["/srv/impact/data/exports"], [Path("/srv/impact/data/exports")], root)
    assert relative("/srv/impact/data/exports/demo: skipped", inside) == "data/exports/demo: skipped"


def test_messages_reach_the_cli_once_each(tmp_path: Path, monkeypatch) -> None:
    """Quarto runs the report once per format: each message is printed once, in order."""
    from impactreport.render.notes import MESSAGES_ENV, Message, read, record

    inbox = tmp_path / "messages.jsonl"
    monkeypatch.setenv(MESSAGES_ENV, str(inbox))
    shown = [Message("warning", "a: skipped"), Message("note", "views are all-time")]
    record(shown)
    record(shown)
    with inbox.open("a") as handle:
        handle.write("not json\n")
    assert read(inbox) == shown
    assert read(tmp_path / "missing.jsonl") == []
