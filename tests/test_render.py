"""The report and the built-in renderer: real renders of report/index.qmd to HTML and PDF.

Two full renders (module fixtures): a real Thinklab export subset through the CLI with ``-P`` parameters
(one thread renamed ``<script>alert(1)</script>``), and the default parameters in a fresh project, where
the report generates the demo data itself. Numbers are checked against :func:`summarise` and against
counts read straight from the JSON files; the small tests check the parser, the markdown helpers and the
assembly without a kernel.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from impactreport.cli.main import main
from impactreport.cli.render import parse_param
from impactreport.errors import InputError
from impactreport.figures.registry import FIGURE_NAMES
from impactreport.render import document, markdown, qmd, quarto, render
from impactreport.render.builtin import render_builtin
from impactreport.render.execute import ExecutedBlock
from impactreport.settings import ReportParams
from tests.test_render_errors import make_project

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
TEAM_MEMBER = "dhimmel"


def text_of(html: str) -> str:
    body = HTMLParser(html).body
    assert body is not None
    return re.sub(r"\s+", " ", body.text(separator=" ")).replace("\u00a0", " ").strip()


def squeeze(text: str) -> str:
    """Text without whitespace and hyphens: the PDF wraps and hyphenates words."""
    return re.sub(r"[\s\-\u00ad\u2010]+", "", text)


def expected_counts(files: list[Path], team: set[str]) -> dict[str, int]:
    """Counts read straight from export files (an independent route to the sentence's numbers)."""
    counts = {"discussions": 0, "comments": 0, "notes": 0}
    authors: set[int] = set()
    usernames: dict[int, str] = {}
    for path in files:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            export = json.load(handle)
        counts["discussions"] += len(export["threads"])
        counts["comments"] += len(export["comments"])
        counts["notes"] += len(export["notes"])
        authors |= {row["profile_id"] for row in export["comments"] + export["notes"]}
        usernames |= {row["profile_id"]: row["username"] for row in export["profiles"]}
    counts["contributors"] = len(authors)
    counts["non_team_contributors"] = len({a for a in authors if usernames[a] not in team})
    return counts


def check_render(out: Path, stats, counts: dict[str, int], figures: set[str]) -> tuple[str, str]:
    """What every render must hold; returns the HTML text and the PDF text."""
    html = (out / "index.html").read_text(encoding="utf-8")
    text = text_of(html)
    sentence = stats.sentence()
    assert sentence in text
    independent = (
        f"In total, {counts['non_team_contributors']:,} non-team members commented across "
        f"{counts['discussions']:,} discussions, which generated {counts['comments']:,} comments and "
        f"{counts['notes']:,} notes totaling "
    )
    assert sentence.startswith(independent)
    assert f"{stats.overall['contributors']:,} people contributed comments or notes" in text
    tree = HTMLParser(html)
    shown = {node.attributes["id"].removeprefix("fig-") for node in tree.css("figure[id^=fig-]")}
    assert shown == figures
    for number, name in enumerate((n for n in FIGURE_NAMES if n in figures), start=1):
        figure = tree.css_first(f"figure#fig-{name}")
        image = figure.css_first("img")
        assert image is not None and image.attributes["src"].startswith("data:image/svg+xml;base64,")
        assert f"Figure {number}:" in figure.css_first("figcaption").text().replace("\u00a0", " ")
        for suffix, magic in (("svg", b"<svg"), ("png", b"\x89PNG"), ("pdf", b"%PDF")):
            assert (out / "figures" / f"{name}.{suffix}").read_bytes()[:200].find(magic) >= 0
    assert "?@fig" not in text and "?@tbl" not in text
    # self-contained: nothing fetched when the file is opened
    assert not re.search(r"""(src|href)=["']?(https?:)?//[^"']*\.(js|css|png|svg|woff2?)""", html)
    assert not tree.css("script[src], link[rel=stylesheet]")
    reader = PdfReader(out / "index.pdf")
    assert len(reader.pages) >= 4
    pdf_text = "\n".join(page.extract_text() for page in reader.pages)
    assert squeeze(sentence) in squeeze(pdf_text)
    return text, pdf_text


# --------------------------------------------------------------------------- real export through the CLI


@pytest.fixture(scope="module")
def real_data(latest_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """meta and MicrobeResist as exported, EdgeProject with its most viewed thread renamed to a script tag."""
    folder = tmp_path_factory.mktemp("exports")
    for name in ("meta", "MicrobeResist"):
        shutil.copy(latest_dir / f"{name}.json", folder / f"{name}.json")
    export = json.loads((latest_dir / "EdgeProject.json").read_text(encoding="utf-8"))
    export["threads"][0]["subject"] = SCRIPT
    export["threads"][0]["views"] = 10**6
    (folder / "EdgeProject.json").write_text(json.dumps(export), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def real_render(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("project"))
    out = project / "custom-out"
    here = Path.cwd()
    os.chdir(project)
    try:
        code = main(
            [
                "render",
                "--engine",
                "builtin",
                "--output-dir",
                str(out),
                "-P",
                f"data:{real_data}",
                "-P",
                "projects:[EdgeProject, meta]",
                "-P",
                f"team:[{TEAM_MEMBER}]",
                "-P",
                "title:Thinklab test report",
                "-P",
                "bandwidth:14",
            ]
        )
    finally:
        os.chdir(here)
    assert code == 0
    return out


@pytest.mark.slow
@pytest.mark.shared
def test_real_export(real_render: Path, real_data: Path) -> None:
    from impactreport.load import load_dataset
    from impactreport.stats import summarise

    dataset = load_dataset([real_data], projects=["EdgeProject", "meta"])
    stats = summarise(dataset, team=[TEAM_MEMBER])
    files = [real_data / "EdgeProject.json", real_data / "meta.json"]
    counts = expected_counts(files, {TEAM_MEMBER})
    assert counts["non_team_contributors"] == counts["contributors"] - 1  # the team member is excluded
    figures = set(FIGURE_NAMES) - {"views-over-time", "edits"}  # one export per project: no history
    text, _ = check_render(real_render, stats, counts, figures)
    assert "History needs two or more snapshots of a project" in text
    # -P parameters reached the report: title, projects, team, bandwidth
    assert text.startswith("Thinklab test report")
    assert "Table 1: Activity per project" in text
    table = HTMLParser((real_render / "index.html").read_text(encoding="utf-8")).css_first("#tbl-projects")
    assert "EdgeProject" in table.text() and "MicrobeResist" not in table.text()
    assert f"Team (1): {TEAM_MEMBER}." in text
    assert "Gaussian kernel of 14 days" in text
    assert "Views over time need exports from at least two dates; this data has 1." in text
    assert not (real_render.parent / "_output").exists()  # --output-dir was honoured


@pytest.mark.slow
@pytest.mark.shared
def test_user_content_is_escaped(real_render: Path) -> None:
    html = (real_render / "index.html").read_text(encoding="utf-8")
    tree = HTMLParser(html)
    assert not [node for node in tree.css("script") if "alert" in (node.text() or "")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    top = tree.css_first("#tbl-top-discussions")
    link = top.css_first("a")
    assert link.text() == SCRIPT  # shown as text, first (most viewed), linked to its DOI
    assert link.attributes["href"] == "https://doi.org/10.15363/thinklab.d172"
    pdf_text = "".join(page.extract_text() for page in PdfReader(real_render / "index.pdf").pages)
    assert SCRIPT in pdf_text


@pytest.mark.slow
@pytest.mark.shared
def test_provenance(real_render: Path, real_data: Path) -> None:
    import hashlib

    # the appendix summarises what was read (the data fingerprint), provenance.json lists every file;
    # the fingerprint recomputed here from the files: sha256 of "path<TAB>sha256" lines, sorted by path
    text = text_of((real_render / "index.html").read_text(encoding="utf-8"))
    digests = {
        n: hashlib.sha256((real_data / f"{n}.json").read_bytes()).hexdigest() for n in ("EdgeProject", "meta")
    }
    lines = "".join(f"{n}.json\t{digests[n]}\n" for n in sorted(digests))
    assert "sha256:" + hashlib.sha256(lines.encode()).hexdigest() in text
    files = json.loads((real_render / "provenance.json").read_text(encoding="utf-8"))["data"]["files"]
    assert {f["path"]: f["sha256"] for f in files} == {f"{n}.json": d for n, d in digests.items()}
    assert (
        "The report read 2 snapshot files of 2 projects (thinklab), retrieved at 2017-09-09 23:29 UTC."
        in text
    )
    assert "2017-09-09 23:29 UTC" in text and "polars" in text and "Python" in text


# --------------------------------------------------------------------------- defaults: demo data


@pytest.fixture(scope="module")
def demo_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("demo-project"))
    written = render(("html", "pdf"), {}, None, "builtin", root=project)
    assert written == [project / "_output" / "index.html", project / "_output" / "index.pdf"]
    return project


@pytest.mark.slow
def test_demo_data_by_default(demo_render: Path) -> None:
    from impactreport.demo import DEMO_TEAM
    from impactreport.load import load_dataset
    from impactreport.stats import summarise

    data = demo_render / "data" / "demo"
    assert data.is_dir()  # generated by the report because data/exports holds nothing
    stats = summarise(load_dataset([data]), team=DEMO_TEAM)
    newest = [
        sorted(folder.glob("*.json.gz"))[-1] for folder in sorted((data / "exports" / "thinklab").iterdir())
    ]
    counts = expected_counts(newest, set(DEMO_TEAM))
    # the demo's snapshots hold no edit: the sentence says none was revised and the edits figure is left out
    text, _ = check_render(demo_render / "_output", stats, counts, set(FIGURE_NAMES) - {"edits"})
    snapshots = len(list((data / "exports").rglob("*.json.gz")))
    assert f"The {snapshots:,} snapshots from " in text
    assert "show no revised post: every text stayed as first seen." in text
    assert "Counting the 0 revisions" not in text
    assert (
        "show no revised post: every text stayed as first seen. Nor did the site re-render any post" in text
    )
    assert text.startswith("Impact report")
    assert "generated demonstration data" in text
    assert "Views over time need" not in text


# --------------------------------------------------------------------------- errors


def test_bad_param_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(make_project(tmp_path))
    assert main(["render", "--engine", "builtin", "-P", "no-colon"]) == 2
    assert main(["render", "--engine", "builtin", "-P", "thresholds:[1, 2"]) == 2
    err = capsys.readouterr().err
    assert "-P 'no-colon': expected key:value" in err and "not valid YAML" in err


def test_unknown_report_parameter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(make_project(tmp_path))
    assert main(["render", "--engine", "builtin", "--to", "html", "-P", "colour:red"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("impactreport: error: -P colour: not a parameter of ")
    assert "(parameters: data, projects, team, team_file, since, until," in lines[0]
    assert not (tmp_path / "_output").exists()


def test_outside_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["render", "--engine", "builtin"]) == 2
    assert "no _quarto.yml" in capsys.readouterr().err


# --------------------------------------------------------------------------- built-in renderer mechanics

TINY = """\
---
title: "Tiny & odd"
---

```{python}
#| tags: [parameters]
name = "World"
n = 4
```

Hello `{python} name`, `{python} n * n` squared. See @fig-bars and @tbl-small.

```{python}
#| include: false
hidden = "never shown"
print(hidden)
```

```{python}
#| echo: true
shown_code = 1 + 1
print("printed", shown_code)
```

```{python}
#| output: false
print("silenced")
```

```{python}
#| label: fig-bars
#| fig-cap: "Some bars"
import altair as alt
alt.renderers.enable("svg")
alt.Chart(alt.Data(values=[{"a": "x", "b": n}, {"a": "y", "b": 2}])).mark_bar().encode(x="a:N", y="b:Q")
```

```{python}
#| label: tbl-small
#| tbl-cap: "A small table"
#| output: asis
print("| key | value |\\n|:---|---:|\\n| n | " + str(n) + " |")
```
"""


@pytest.mark.slow
def test_builtin_mechanics(tmp_path: Path) -> None:
    source = tmp_path / "tiny.qmd"
    source.write_text(TINY, encoding="utf-8")
    (tmp_path / "_quarto.yml").write_text("execute:\n  echo: false\n", encoding="utf-8")
    html_path, pdf_path = render_builtin(
        source, params={"name": "Quarto", "n": 7}, output_dir=tmp_path / "out", root=tmp_path
    )
    html = html_path.read_text(encoding="utf-8")
    text = text_of(html)
    assert "Hello Quarto, 49 squared." in text  # parameters injected after the parameters cell
    assert '<a href="#fig-bars">Figure 1</a> and <a href="#tbl-small">Table 1</a>.' in html
    assert "never shown" not in text and "hidden =" not in text  # include: false
    assert "shown_code = 1 + 1" in text and "printed 2" in text  # echo: true overrides the project
    assert 'name = "World"' not in text  # echo: false from _quarto.yml
    assert "silenced" not in text  # output: false
    tree = HTMLParser(html)
    assert tree.css_first("title").text() == "Tiny & odd"
    assert tree.css_first("figure#fig-bars figcaption").text().replace("\u00a0", " ") == "Figure 1: Some bars"
    assert tree.css_first("#tbl-small caption").text().replace("\u00a0", " ") == "Table 1: A small table"
    assert tree.css_first("#tbl-small td[style*=right]").text() == "7"
    pdf = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(pdf_path).pages))
    assert "Hello Quarto, 49 squared. See Figure 1 and Table 1." in pdf and "Figure 1: Some bars" in pdf


@pytest.mark.slow
def test_failing_cell_names_its_line(tmp_path: Path) -> None:
    source = tmp_path / "bad.qmd"
    source.write_text("# Title\n\n```{python}\nx = 1\n```\n\n```{python}\n1 / 0\n```\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.qmd:7: cell failed: ZeroDivisionError"):
        render_builtin(source, to=("html",), output_dir=tmp_path / "out", root=tmp_path)
    assert not (tmp_path / "out" / "bad.html").exists()


# --------------------------------------------------------------------------- pure pieces


def test_parse_qmd() -> None:
    parsed = qmd.parse(TINY, "tiny.qmd")
    assert parsed.front_matter == {"title": "Tiny & odd"}
    cells = parsed.cells
    assert cells[0].options == {"tags": ["parameters"]} and cells[0].code == 'name = "World"\nn = 4'
    assert cells[0].line == 5
    assert cells[4].options == {"label": "fig-bars", "fig-cap": "Some bars"}
    assert parsed.blocks[1].inline == ("name", "n * n")
    with pytest.raises(InputError, match=r"x\.qmd:2: python cell is never closed"):
        qmd.parse("\n```{python}\nx = 1\n", "x.qmd")
    with pytest.raises(InputError, match=r"x\.qmd:1: cell options are not valid YAML"):
        qmd.parse("```{python}\n#| label: [\n```\n", "x.qmd")


def test_the_report_parses_and_uses_only_supported_options() -> None:
    parsed = qmd.parse((REPO / "report" / "index.qmd").read_text(encoding="utf-8"), "index.qmd")
    supported = {"tags", "echo", "output", "include", "label", "fig-cap", "tbl-cap"}
    for cell in parsed.cells:
        assert set(cell.options) <= supported, cell.options
    (parameters,) = [cell for cell in parsed.cells if "parameters" in cell.options.get("tags", [])]
    names = re.findall(r"(?m)^(\w+) =", parameters.code)
    assert names == list(ReportParams.names())  # one list of parameters: settings.ReportParams
    labels = [cell.options["label"] for cell in parsed.cells if "label" in cell.options]
    assert [label.removeprefix("fig-") for label in labels if label.startswith("fig-")] == list(FIGURE_NAMES)
    text = "\n".join(block.text for block in parsed.blocks if isinstance(block, qmd.Markdown))
    assert "{=html}" not in text and "<" not in text  # no raw HTML in the report


def test_assemble_numbers_figures_and_tables(tmp_path: Path) -> None:
    svg = {"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'/>", "text/plain": "chart"}
    blocks = [
        ExecutedBlock(qmd.Markdown("See @fig-b, @fig-a, @tbl-t and @fig-missing; mail a\\@fig-a.")),
        ExecutedBlock(
            qmd.Cell("a", {"label": "fig-a", "fig-cap": "A"}), ({"output_type": "display_data", "data": svg},)
        ),
        ExecutedBlock(
            qmd.Cell("b", {"label": "fig-b", "fig-cap": "B"}), ({"output_type": "display_data", "data": svg},)
        ),
        ExecutedBlock(
            qmd.Cell("t", {"label": "tbl-t", "tbl-cap": "T", "output": "asis"}),
            ({"output_type": "stream", "name": "stdout", "text": "| a |\n|---|\n| 1 |\n"},),
        ),
        ExecutedBlock(qmd.Cell("e", {"label": "fig-empty", "fig-cap": "E"}), ()),
        ExecutedBlock(qmd.Cell("w", {}), ({"output_type": "stream", "name": "stderr", "text": "warning"},)),
    ]
    html = document.assemble(blocks, to="html", media_dir=tmp_path, echo=False)
    assert html.numbers == {"fig-a": 1, "fig-b": 2, "tbl-t": 1}
    assert (
        "See [Figure\u00a02](#fig-b), [Figure\u00a01](#fig-a), [Table\u00a01](#tbl-t) and ?@fig-missing"
        in html.markdown
    )
    assert "a\\@fig-a" in html.markdown  # an escaped @ is not a reference
    assert "![Figure\u00a01: A](cell-1.svg){#fig-a}" in html.markdown
    assert "warning" not in html.markdown and "fig-empty" not in html.markdown
    typst = document.assemble(blocks, to="typst", media_dir=tmp_path, echo=True)
    assert "![A](cell-1.svg){#fig-a}" in typst.markdown  # Typst writes "Figure 1:" itself
    assert "```python\nb\n```" in typst.markdown


def test_markdown_escaping() -> None:
    assert markdown.escape(SCRIPT) == r"\<script\>alert\(1\)\<\/script\>"
    assert markdown.escape("a *b* @c [d](e)\n|x|") == r"a \*b\* \@c \[d\]\(e\) \|x\|"
    assert markdown.link("t", "javascript:alert(1)") == "t"
    assert markdown.link("t", "https://x.org/a b)") == "[t](<https://x.org/a%20b%29>)"
    assert markdown.number(1234567) == "1,234,567" and markdown.number(None) == "–"
    assert markdown.number(30.94, 1) == "30.9"
    table = markdown.table(["Name", "Count"], [["LWT\\_FOR", "3"]], "lr")
    assert table.splitlines()[1] == "| :-------- | ------: |"  # visible widths 7 and 5, plus 2


def test_param_parsing_is_yaml_as_quarto() -> None:
    assert parse_param("projects:[rephetio]") == ("projects", ["rephetio"])
    assert parse_param("bandwidth:14") == ("bandwidth", 14)
    assert parse_param("since:2016-01-01") == ("since", "2016-01-01")
    assert parse_param("data:/a/b:c") == ("data", "/a/b:c")
    assert parse_param("title:") == ("title", "")
    assert quarto.param_argument("projects", ["rephetio", "meta"]) == "projects:[rephetio, meta]"
    assert quarto.param_argument("title", "A: b") == "title:'A: b'"
    command = quarto.command(Path("/q"), Path("report/index.qmd"), "pdf", {"n": 1}, Path("/o"))
    assert command == ["/q", "render", "report/index.qmd", "--to", "typst", "-P", "n:1", "--output-dir", "/o"]


def test_find_quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "bin" / "quarto"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("QUARTO_PATH", str(binary))
    assert quarto.find_quarto() == binary
    monkeypatch.setenv("QUARTO_PATH", str(tmp_path))  # an install prefix works too
    assert quarto.find_quarto() == binary
    monkeypatch.setenv("QUARTO_PATH", str(tmp_path / "missing"))
    assert quarto.find_quarto() is None
    monkeypatch.delenv("QUARTO_PATH")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert quarto.find_quarto() == binary
    monkeypatch.setenv("PATH", str(tmp_path))
    assert quarto.find_quarto() is None


# --------------------------------------------------------------------------- report data (no kernel)


@pytest.mark.shared
def test_period_restriction(latest_dir: Path) -> None:
    """since/until keep the texts posted in the period, and the threads opened or commented on in it."""
    from datetime import date

    from impactreport.counting import restrict
    from impactreport.load import load_dataset
    from impactreport.settings import Period

    export = json.loads((latest_dir / "meta.json").read_text(encoding="utf-8"))
    since, until = "2016-01-01", "2016-06-30"
    inside = lambda stamp: since <= stamp[:10] <= until  # noqa: E731  (ISO strings sort as times)
    comments = [c for c in export["comments"] if inside(c["published"])]
    notes = [n for n in export["notes"] if inside(n["added"])]
    commented = {c["thread_id"] for c in comments}
    threads = [t for t in export["threads"] if inside(t["published"]) or t["thread_id"] in commented]
    assert comments and notes and len(threads) < len(export["threads"])
    dataset = restrict(load_dataset([latest_dir / "meta.json"]), Period(date(2016, 1, 1), date(2016, 6, 30)))
    assert dataset.comments.height == len(comments)
    assert dataset.notes.height == len(notes)
    assert sorted(dataset.threads["thread_id"].to_list()) == sorted(t["thread_id"] for t in threads)
    assert dataset.posts.filter(pl.col("kind") == "comment").height == len(comments)


@pytest.mark.shared
def test_data_resolution(tmp_path: Path, latest_dir: Path) -> None:
    from impactreport.report import resolve_data
    from impactreport.settings import ReportParams

    def resolve(data: object) -> tuple[tuple[Path, ...], bool]:
        return resolve_data(ReportParams.from_mapping({"data": data}), tmp_path, generate=False)

    (tmp_path / "data" / "exports").mkdir(parents=True)
    (tmp_path / "data" / "exports" / ".partial.json").write_text("{}")  # hidden files do not count
    assert resolve("") == ((tmp_path / "data" / "demo",), True)
    shutil.copy(latest_dir / "EdgeProject.json", tmp_path / "data" / "exports" / "EdgeProject.json")
    assert resolve("") == ((tmp_path / "data" / "exports",), False)
    (tmp_path / "mine").mkdir()
    assert resolve("mine") == ((tmp_path / "mine",), False)  # relative to the project
    with pytest.raises(InputError, match=r"parameter data: .*nowhere: no such file or folder"):
        resolve("nowhere")


@pytest.mark.slow
def test_missing_data_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(make_project(tmp_path))
    assert main(["render", "--engine", "builtin", "--to", "html", "-P", "data:/no/such/exports"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # refused before the kernel: no progress line either
    assert "/no/such/exports" in lines[0] and "cell failed" not in lines[0]
