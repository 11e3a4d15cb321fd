"""One definition of each concept: ``summary --json``, every figure's CSV and the report agree.

Each check reads what a user reads (the JSON printed by the CLI, the CSV files written by ``figures``,
the text of the rendered report) and compares them on the same data: the bundled demo data always, the
real Thinklab exports when ../shared is present. The boundary cases that used to split the layers (an
author with exactly a threshold's characters; a team name in another case on a case-insensitive
source) are built as small export files and checked through the same commands.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from impactreport.cli.main import main
from tests import builders
from tests.builders import comment, profile, thread
from tests.runner import main_json

DEMO_TEAM = ("amara_okafor", "ben_kowalski", "chen_li")


def summary_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    return main_json(capsys, "summary", *args)[0]


def figures(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> dict[str, pl.DataFrame]:
    assert main(["figures", *args, "--out", str(out), "--formats", "svg", "--json"]) == 0
    capsys.readouterr()
    return {path.stem: pl.read_csv(path, try_parse_dates=True) for path in out.glob("*.csv")}


def check_csvs_agree(stats: dict, csvs: dict[str, pl.DataFrame]) -> None:
    """Every figure CSV that restates a summary number states the same number."""
    overall = stats["overall"]
    people = csvs["contributors"]
    assert people.height == overall["contributors"]
    assert people.filter(~pl.col("team")).height == overall["non_team_contributors"]
    for threshold, count in overall["contributors_over"].items():
        assert people[f"above_{threshold}"].sum() == count, threshold
        assert people.filter(pl.col("characters") > int(threshold)).height == count, threshold
    assert people["characters"].sum() == overall["comment_characters"] + overall["note_characters"]
    assert people["comments"].sum() == overall["comments"]
    assert people["notes"].sum() == overall["notes"]
    counts = csvs["imbalance"].pivot("kind", index="project", values="count")
    for row in counts.iter_rows(named=True):
        project = stats["projects"][row["project"]]
        assert (row["threads"], row["comments"], row["notes"]) == (
            project["discussions"],
            project["comments"],
            project["notes"],
        ), row["project"]


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from impactreport.demo import write_demo

    root = tmp_path_factory.mktemp("demo") / "demo"
    write_demo(root)
    return root


def team_args(team: tuple[str, ...]) -> list[str]:
    return [arg for name in team for arg in ("--team", name)]


@pytest.mark.slow  # draws every figure (vl-convert)
def test_summary_and_figure_csvs_agree_on_demo_data(demo_root: Path, tmp_path: Path, capsys) -> None:
    stats = summary_json(capsys, str(demo_root), *team_args(DEMO_TEAM))
    csvs = figures(capsys, tmp_path / "figures", str(demo_root), *team_args(DEMO_TEAM))
    assert stats["overall"]["non_team_contributors"] < stats["overall"]["contributors"]
    check_csvs_agree(stats, csvs)


@pytest.mark.slow  # draws every figure (vl-convert)
@pytest.mark.shared
def test_summary_and_figure_csvs_agree_on_real_exports(latest_dir: Path, tmp_path: Path, capsys) -> None:
    stats = summary_json(capsys, str(latest_dir), "--team", "dhimmel")
    csvs = figures(capsys, tmp_path / "figures", str(latest_dir), "--team", "dhimmel")
    assert stats["overall"]["contributors"] == 67  # published: 66 non-team members + dhimmel
    assert stats["overall"]["non_team_contributors"] == 66
    check_csvs_agree(stats, csvs)


# -- boundary cases, as export files -----------------------------------------------------------------
def export(source: str, authors: dict[int, tuple[str, int]]) -> dict:
    """A format-C export: one thread; author id → (username, characters of their one comment)."""
    return builders.export(
        threads=[thread(1, next(iter(authors)), subject="t", views=3)],
        comments=[
            comment(100 + pid, 1, pid, f"2017-01-0{1 + i % 9}T12:00:00.000000Z", body="x" * size)
            for i, (pid, (_, size)) in enumerate(authors.items())
        ],
        profiles=[profile(pid, name) for pid, (name, _) in authors.items()],
        retrieved="2017-02-01T00:00:00.000000Z",
        source=source,
    )


def test_exact_threshold_and_team_case_agree_everywhere(tmp_path: Path, capsys) -> None:
    """An author with exactly 500 characters is not over 500 anywhere; team `alice` is GitHub's `Alice`."""
    path = tmp_path / "octo.json"
    path.write_text(json.dumps(export("github", {1: ("Alice", 500), 2: ("bob", 501), 3: ("carol", 4001)})))
    stats = summary_json(capsys, str(path), "--team", "alice")
    overall = stats["overall"]
    assert overall["contributors_over"] == {"500": 2, "4000": 1}
    assert overall["non_team_contributors"] == 2
    csvs = figures(capsys, tmp_path / "figures", str(path), "--team", "alice")
    check_csvs_agree(stats, csvs)
    people = csvs["contributors"].sort("characters")
    assert people["team"].to_list() == [True, False, False]
    assert people["above_500"].to_list() == [False, True, True]


def test_thinklab_usernames_keep_their_case(tmp_path: Path, capsys) -> None:
    """Thinklab compares usernames exactly: `Alice` is not team `alice`, and a warning says so."""
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(export("thinklab", {1: ("Alice", 10), 2: ("bob", 20)})))
    assert main(["summary", str(path), "--team", "alice", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["overall"]["non_team_contributors"] == 2
    assert "'alice' matches no contributor" in captured.err and "did you mean 'Alice'" in captured.err


def test_same_profile_id_in_two_sources_is_two_people(tmp_path: Path, capsys) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "forum.json").write_text(json.dumps(export("discourse", {172: ("sam", 50)})))
    (tmp_path / "b" / "lab.json").write_text(json.dumps(export("thinklab", {172: ("sam", 60)})))
    stats = summary_json(capsys, str(tmp_path / "a"), str(tmp_path / "b"))
    assert stats["overall"]["contributors"] == 2


def test_summary_states_the_team_it_applied(tmp_path: Path, capsys) -> None:
    path = tmp_path / "octo.json"
    path.write_text(json.dumps(export("github", {1: ("alice", 10)})))
    assert main(["summary", str(path)]) == 0
    assert "no team given: every contributor counts as non-team" in capsys.readouterr().err
    assert main(["summary", str(path), "--team", "dhimmell"]) == 0
    err = capsys.readouterr().err
    assert "team (1): dhimmell" in err and "'dhimmell' matches no contributor" in err


@pytest.mark.slow
def test_report_text_agrees_with_summary(demo_root: Path, tmp_path: Path, capsys) -> None:
    """The rendered report states the same sentence, threshold count and project cells as summary."""
    from selectolax.lexbor import LexborHTMLParser

    stats = summary_json(capsys, str(demo_root), *team_args(DEMO_TEAM))
    out = tmp_path / "out"
    params = ["-P", f"data:{demo_root}", "-P", f"team:[{', '.join(DEMO_TEAM)}]"]
    assert main(["render", "--engine", "builtin", "--to", "html", "--output-dir", str(out), *params]) == 0
    capsys.readouterr()
    body = LexborHTMLParser((out / "index.html").read_text(encoding="utf-8")).body
    assert body is not None
    text = re.sub(r"\s+", " ", body.text(separator=" ")).replace("\u00a0", " ")
    overall = stats["overall"]
    sentence = (
        f"In total, {overall['non_team_contributors']:,} non-team members commented across "
        f"{overall['discussions']:,} discussions, which generated {overall['comments']:,} comments and "
        f"{overall['notes']:,} notes totaling {overall['words']:,} words and {overall['characters']:,} characters."
    )
    assert sentence in text
    over = overall["contributors_over"]["4000"]
    assert (
        f"{overall['contributors']:,} people contributed comments or notes; {over:,} of them wrote more than 4,000 characters"
        in text
    )
    report_csv = pl.read_csv(out / "figures" / "contributors.csv")
    assert report_csv["above_4000"].sum() == over
    assert report_csv.height == overall["contributors"]


# -- history: summary --history, the edits CSV and the report's Revisions section ----------------------------
def snapshot_tree(thinklab_dir: Path, root: Path, folders: tuple[str, ...]) -> Path:
    """A copy of some real snapshot folders of rephetio and meta (``<date>/<project>.json.gz``)."""
    import shutil

    for folder in folders:
        (root / folder).mkdir(parents=True)
        for project in ("rephetio", "meta"):
            shutil.copy2(thinklab_dir / "snapshots" / folder / f"{project}.json.gz", root / folder)
    return root


HISTORY_FOLDERS = ("2016-09-01", "2016-10-01", "2016-11-01", "2016-12-01", "2017-01-01", "2017-02-01")


def day_text(iso: str) -> str:
    from datetime import datetime

    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{moment.day} {moment:%b %Y}"


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.parametrize("period", [(), ("2016-11-01", "2017-02-28")], ids=["all", "period"])
def test_report_revisions_agree_with_summary_history(
    thinklab_dir: Path, tmp_path: Path, capsys, period: tuple[str, ...]
) -> None:
    """The Revisions sentence states summary --history's numbers; P is deleted / (written − deleted)
    (the final texts hold what was written less what was deleted); the edits CSV adds up to them."""
    from selectolax.lexbor import LexborHTMLParser

    tree = snapshot_tree(thinklab_dir, tmp_path / "snapshots", HISTORY_FOLDERS)
    options = [] if not period else ["--since", period[0], "--until", period[1]]
    history = summary_json(capsys, str(tree), "--history", *options)["overall"]["history"]
    assert history["revisions"] > 0 and history["rerenders"] > 0
    csvs = figures(capsys, tmp_path / "figures", str(tree), *options)
    edits = csvs["edits"]
    assert (edits["revisions"].sum(), edits["inserted"].sum(), edits["deleted"].sum()) == (
        history["revisions"],
        history["inserted_characters"],
        history["deleted_characters"],
    )
    assert edits["rerenders"].sum() == history["rerenders"]
    out = tmp_path / "out"
    params = ["-P", f"data:{tree}"]
    if period:
        params += ["-P", f"since:{period[0]}", "-P", f"until:{period[1]}"]
    assert main(["render", "--engine", "builtin", "--to", "html", "--output-dir", str(out), *params]) == 0
    capsys.readouterr()
    body = LexborHTMLParser((out / "index.html").read_text(encoding="utf-8")).body
    assert body is not None
    text = re.sub(r"\s+", " ", body.text(separator=" ")).replace("\u00a0", " ")
    written, deleted = history["written_characters"], history["deleted_characters"]
    percent = deleted / (written - deleted) * 100
    sentence = (
        f"Counting the {history['revisions']:,} revisions of {history['edited_posts']:,} posts seen across "
        f"{history['snapshots']:,} snapshots from {day_text(history['first_snapshot'])} to "
        f"{day_text(history['last_snapshot'])}, contributors wrote {written:,} characters, "
        f"{percent:,.1f} % more than the final texts hold."
    )
    assert sentence in text
    assert f"without their text changing ({history['rerenders']:,} re-renders)" in text
    assert "Edits made before the first snapshot" in text
    assert (out / "figures" / "edits.svg").exists()
    assert pl.read_csv(out / "figures" / "edits.csv")["revisions"].sum() == history["revisions"]
