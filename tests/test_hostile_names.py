"""Names from data and from the file system are shown inert: no markup obeyed, no control sequence sent.

Each case runs the real CLI in a subprocess (stdout and stderr are pipes, as in a cron log) on a real
export file whose project name or contributor name carries the hostile text.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from impactreport.cli.console import safe_text
from impactreport.text_safety import one_line
from tests import builders
from tests.builders import comment, profile, thread
from tests.runner import cli

ESC = "\x1b"
CASES = {
    "markup": "[bold]loud[/bold]",
    "closing tag": "a[/b]",
    "draft": "notes [draft]",
    "ansi colour": f"x{ESC}[31mred",
    "osc title": f"t{ESC}]0;pwned\x07",
    "rtl override": "evil\u202egnp.exe",
    "line feed": "a\nfake row",
}


def export(username: str) -> dict:
    return builders.export(
        threads=[thread(1, subject=username)],
        comments=[comment(2, published="2017-01-02T00:00:00.000000Z")],
        profiles=[profile(1, username, url=None)],
        retrieved="2017-02-01T00:00:00.000000Z",
    )


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, timeout=120)


@pytest.mark.parametrize("name", list(CASES.values()), ids=list(CASES))
def test_project_names_are_printed_inert(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.json"  # a "/" in the name makes a folder: the path holds `a[/b]`
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(export("someone")), encoding="utf-8")
    done = run("summary", str(path), "--team", name)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert ESC not in output and "\x07" not in output and "\u202e" not in output
    project = path.name.removesuffix(".json")
    assert one_line(project) in done.stdout  # the project row shows the name as written, markup and all
    assert one_line(name) in done.stderr  # and the team notice and warning name it verbatim
    shown = ("a^Jfake row", "a\\nfake row")  # as the table and notices show it, or as repr quotes it
    assert all(any(s in line for s in shown) for line in output.splitlines() if "fake row" in line)


def test_safe_text_makes_controls_visible() -> None:
    assert safe_text(f"a{ESC}[31mb\x00\x07") == "a^[[31mb^@^G"
    assert safe_text("left\u202eright\ufffe") == "left<U+202E>right<U+FFFE>"
    assert safe_text("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


@pytest.mark.slow
def test_figures_survive_control_characters_and_huge_names(tmp_path: Path) -> None:
    """A BEL in a name used to abort vl-convert (the process died); a 100,000-character name drew a
    chart 855,504 px wide. Labels are now printable and at most 60 characters."""
    data = export("x")
    data["profiles"] = [
        {"profile_id": 1, "username": "bell\x07ring", "first_name": "N" * 100_000, "last_name": "\x1b[31m"}
    ]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "figures"
    done = run("figures", str(path), "--out", str(out), "--formats", "svg", "--thresholds", "0")
    assert done.returncode == 0, done.stderr
    svg = (out / "contributors.svg").read_text(encoding="utf-8")
    width = float(svg.split('width="', 1)[1].split('"', 1)[0])
    assert width < 2_000
    assert "\x07" not in svg and "\x1b" not in svg and "N" * 61 not in svg


def test_deeply_nested_post_is_bounded_and_named(tmp_path: Path) -> None:
    """100,000 nested elements (28 s before) are measured in pieces, and the warning names the post."""
    data = export("someone")
    data["comments"][0]["body_html"] = "<div>" * 100_000 + "deep text" + "</div>" * 100_000
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    done = run("summary", str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["overall"]["comment_characters"] == len("deep text")
    assert "project deep, comment 2: HTML nested more than 128 elements deep" in done.stderr


def test_a_tag_of_many_attributes_costs_linear_time_and_is_named(tmp_path: Path) -> None:
    """One ``<p>`` of N distinct attributes grew with N² (100k: 17 s, 200k: 87 s); the tag limit did not
    see it. Attributes past the 256th are dropped before the parse, and the post is named."""
    import time

    data = export("someone")
    attributes = " ".join(f'a{i}="{i}"' for i in range(200_000))
    data["comments"][0]["body_html"] = f"<p {attributes}>four words of text</p>"
    path = tmp_path / "attrs.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    began = time.monotonic()
    done = run("summary", str(path), "--json")
    assert time.monotonic() - began < 20
    assert done.returncode == 0, done.stderr
    overall = json.loads(done.stdout)["overall"]
    assert overall["comment_characters"] == len("four words of text") and overall["comment_words"] == 4
    assert "project attrs, comment 2: HTML nested more than" in done.stderr
    assert "more than 256 attributes" in done.stderr


@pytest.mark.slow
def test_a_name_of_200000_combining_marks_is_bounded_before_layout(tmp_path: Path) -> None:
    """One letter and 200,000 combining marks took ``figures`` 299 s and 871 MB (a 61 MB CSV)."""
    import time

    data = export("x")
    data["profiles"][0]["first_name"] = "Z" + "\u0301" * 200_000
    path = tmp_path / "marks.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    began = time.monotonic()
    done = run("figures", str(path), "--out", str(out), "--formats", "svg", "--thresholds", "0")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began < 60
    assert max(file.stat().st_size for file in out.iterdir()) < 1_000_000


@pytest.mark.slow
def test_emoji_labels_are_cut_between_graphemes(tmp_path: Path) -> None:
    """Vega cut a long emoji label inside a surrogate pair and the figure failed; labels are now cut by us,
    at a grapheme boundary, and drawn whole."""
    from impactreport.labels import MAX_LABEL, cut

    data = export("x")
    data["profiles"][0]["first_name"] = "B" * 20 + "😀" * 50
    data["threads"][0]["subject"] = "👨‍👩‍👧" * 40
    path = tmp_path / "emoji.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    done = run("figures", str(path), "--out", str(tmp_path / "out"), "--formats", "svg", "--thresholds", "0")
    assert done.returncode == 0, done.stderr
    family = "👨‍👩‍👧"
    assert cut(family * 40).removesuffix("…") == family * (len(cut(family * 40)) // len(family))
    assert cut("e\u0301" * 70).endswith("e\u0301…")
    assert cut("ok") == "ok" and len(cut("x" * 100)) == MAX_LABEL


def test_identities_suggest_shows_bidi_and_line_feeds_escaped(tmp_path: Path) -> None:
    """``identities suggest`` printed U+202E raw; the YAML it writes must escape it and read back the same."""
    import gzip

    import yaml

    name = "evil\u202egnp.exe"
    plain = tmp_path / "thinklab.json"
    plain.write_text(json.dumps(export(name)), encoding="utf-8")
    folder = tmp_path / "data" / "exports" / "github" / "x"
    folder.mkdir(parents=True)
    github = {**export(name), "source": "github"}
    (folder / "2017-02-01T000000Z.json.gz").write_bytes(gzip.compress(json.dumps(github).encode()))
    done = run("identities", "suggest", str(plain), str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert "\u202e" not in done.stdout + done.stderr
    assert "\\u202e" in done.stdout.lower()
    [person] = yaml.safe_load(done.stdout)
    assert sorted(person["accounts"]) == [f"github:{name}", f"thinklab:{name}"]


def test_names_that_are_not_utf8_are_one_line_or_skipped_with_a_warning(tmp_path: Path) -> None:
    """A file or folder name of bytes that are not UTF-8 ended in a UnicodeEncodeError traceback."""
    import os

    root = os.fsencode(tmp_path)
    os.makedirs(root + b"/data/d\xffir")
    odd = root + b"/data/d\xffir/p\xfe.json"
    with open(odd, "w", encoding="utf-8") as handle:
        json.dump(export("someone"), handle)
    (tmp_path / "data" / "good.json").write_text(json.dumps(export("other")), encoding="utf-8")
    shown = f"{tmp_path}/data/d\\xffir/p\\xfe.json"

    named = run("summary", os.fsdecode(odd))
    assert named.returncode == 2 and "Traceback" not in named.stderr
    assert (
        named.stderr.strip()
        == f"impactreport: error: {shown}: the path is not UTF-8 text; rename it to read it"
    )

    scanned = run("summary", str(tmp_path / "data"), "--json")
    assert scanned.returncode == 0, scanned.stderr
    assert f"{shown}: a name that is not UTF-8 text, skipped" in scanned.stderr
    assert list(json.loads(scanned.stdout)["projects"]) == ["good"]
