"""The real ``quarto render`` of report/index.qmd (HTML and Typst PDF), compared with the built-in renderer.

Quarto comes from ``quarto`` on PATH or ``$QUARTO_PATH``; failing that, the offline installer in
``../shared/tools/quarto`` installs Quarto 1.7.34 into ``.quarto-dist`` (gitignored). Without any of
these the tests skip and say why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from impactreport.figures.registry import FIGURE_NAMES
from impactreport.render import render

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
PROJECTS = ("EdgeProject", "MicrobeResist")


def _project(folder: Path) -> Path:
    (folder / "report").mkdir(parents=True)
    shutil.copy(REPO / "_quarto.yml", folder / "_quarto.yml")
    shutil.copy(REPO / "report" / "index.qmd", folder / "report" / "index.qmd")
    flatten = Path("src") / "impactreport" / "render" / "flatten.py"  # the project's post-render step
    (folder / flatten).parent.mkdir(parents=True)
    shutil.copy(REPO / flatten, folder / flatten)
    return folder


def render_with_quarto(quarto_binary: Path, params: dict, out: Path, root: Path) -> list[Path]:
    """HTML and PDF rendered by the real Quarto (``QUARTO_PATH``/``QUARTO_PYTHON`` set for this call
    only: these fixtures outlive a test's ``monkeypatch``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUARTO_PATH", str(quarto_binary))
        patch.setenv("QUARTO_PYTHON", sys.executable)
        return render(("html", "pdf"), params, out, "quarto", root=root)


@pytest.fixture(scope="module")
def renders(
    quarto_binary: Path, latest_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The same parameters rendered by Quarto and by the built-in renderer."""
    project = _project(tmp_path_factory.mktemp("quarto-project"))
    params = {"data": str(latest_dir), "projects": list(PROJECTS), "title": "Quarto comparison"}
    quarto = render_with_quarto(quarto_binary, params, project / "quarto", project)
    builtin = render(("html", "pdf"), params, project / "builtin", "builtin", root=project)
    assert [p.name for p in quarto] == [p.name for p in builtin] == ["index.html", "index.pdf"]
    return {"quarto": project / "quarto", "builtin": project / "builtin"}


def _text(html: str) -> str:
    body = HTMLParser(html).body
    assert body is not None
    return re.sub(r"\s+", " ", body.text(separator=" ")).replace("\u00a0", " ").strip()


def _figures(html: str) -> dict[str, str]:
    """Figure id → its caption text, in both engines' markup."""
    tree = HTMLParser(html)
    found = {}
    for node in tree.css("[id^=fig-]"):
        name = node.attributes["id"]
        if name.removeprefix("fig-") not in FIGURE_NAMES:
            continue  # Quarto also gives ids to captions (fig-<name>-caption-<uuid>)
        caption = node.css_first("figcaption")
        image = node.css_first("img")
        assert image is not None and image.attributes["src"].startswith("data:image/svg+xml;base64,"), name
        found[name] = re.sub(r"\s+", " ", caption.text()).replace("\u00a0", " ").strip()
    return found


@pytest.mark.slow
@pytest.mark.shared
def test_quarto_html_matches_builtin(renders: dict[str, Path]) -> None:
    from impactreport.load import load_dataset
    from impactreport.stats import summarise

    from_quarto = (renders["quarto"] / "index.html").read_text(encoding="utf-8")
    from_builtin = (renders["builtin"] / "index.html").read_text(encoding="utf-8")
    stats = summarise(load_dataset([SHARED / "thinklab" / "latest"], projects=list(PROJECTS)))
    sentence = stats.sentence()
    for html in (from_quarto, from_builtin):
        text = _text(html)
        assert sentence in text
        assert "Quarto comparison" in text
        assert "?@fig" not in text and "?@tbl" not in text
    # the same numbered figures with the same captions
    assert _figures(from_quarto) == _figures(from_builtin)
    assert len(_figures(from_quarto)) >= 7

    # the same numbers in the project table
    def cells(html: str) -> list[str]:
        table = HTMLParser(html).css_first("#tbl-projects table") or HTMLParser(html).css_first(
            "#tbl-projects"
        )
        return [cell.text().strip() for cell in table.css("td")]

    assert cells(from_quarto) == cells(from_builtin)


@pytest.mark.slow
@pytest.mark.shared
def test_quarto_pdf(renders: dict[str, Path]) -> None:
    from impactreport.load import load_dataset
    from impactreport.stats import summarise

    stats = summarise(load_dataset([SHARED / "thinklab" / "latest"], projects=list(PROJECTS)))
    squeeze = lambda text: re.sub(r"[\s\-\u00ad\u2010]+", "", text)  # noqa: E731  (PDF text wraps and hyphenates)
    for engine in ("quarto", "builtin"):
        reader = PdfReader(renders[engine] / "index.pdf")
        assert len(reader.pages) >= 4, engine
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert squeeze(stats.sentence()) in squeeze(text), engine
        assert "Figure 1" in text.replace("\u00a0", " "), engine


@pytest.mark.slow
@pytest.mark.shared
def test_figures_written_by_both(renders: dict[str, Path]) -> None:
    for engine in ("quarto", "builtin"):
        names = {path.stem for path in (renders[engine] / "figures").glob("*.svg")}
        assert {"imbalance", "activity-histogram", "contributors", "views"} <= names, engine
        for name in names:
            for suffix in ("png", "pdf"):
                assert (renders[engine] / "figures" / f"{name}.{suffix}").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.shared
def test_single_snapshot_says_history_needs_more(renders: dict[str, Path]) -> None:
    for engine in ("quarto", "builtin"):
        text = _text((renders[engine] / "index.html").read_text(encoding="utf-8"))
        assert "History needs two or more snapshots of a project" in text, engine


@pytest.fixture(scope="module")
def history_renders(
    quarto_binary: Path, thinklab_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """A few real snapshots of rephetio and meta, rendered by Quarto and by the built-in renderer."""
    project = _project(tmp_path_factory.mktemp("quarto-history"))
    tree = project / "snapshots"
    for folder in ("2016-12-01", "2017-01-01", "2017-02-01", "2017-03-01"):
        (tree / folder).mkdir(parents=True)
        for name in ("rephetio", "meta"):
            shutil.copy2(thinklab_dir / "snapshots" / folder / f"{name}.json.gz", tree / folder)
    params = {"data": str(tree), "title": "History comparison"}
    render_with_quarto(quarto_binary, params, project / "quarto", project)
    render(("html", "pdf"), params, project / "builtin", "builtin", root=project)
    return {"quarto": project / "quarto", "builtin": project / "builtin", "data": tree}


@pytest.mark.slow
@pytest.mark.shared
def test_revisions_section_in_both_engines(history_renders: dict[str, Path]) -> None:
    """The Revisions section (sentence, edits figure, re-render days, per-person table) is the same in
    Quarto's HTML and PDF as in the built-in renderer's."""
    from impactreport.history import load_versions
    from impactreport.history.edits import analyse
    from impactreport.report.sentences import rerender_sentence, revisions_limits, revisions_sentence

    history = analyse(load_versions([history_renders["data"]], lambda line: None))
    assert history.overall["revisions"] > 0 and history.rerender_days.height
    squeeze = lambda text: re.sub(r"[\s\-\u00ad\u2010]+", "", text)  # noqa: E731
    htmls = {
        e: (history_renders[e] / "index.html").read_text(encoding="utf-8") for e in ("quarto", "builtin")
    }
    for engine, html in htmls.items():
        text = _text(html)
        for line in (revisions_sentence(history), rerender_sentence(history), revisions_limits(history)):
            assert line in text, engine
        assert "fig-edits" in _figures(html), engine
        pdf = "\n".join(
            page.extract_text() for page in PdfReader(history_renders[engine] / "index.pdf").pages
        )
        assert squeeze(revisions_sentence(history)) in squeeze(pdf), engine
    assert _figures(htmls["quarto"]) == _figures(htmls["builtin"])

    def cells(html: str) -> list[str]:
        tree = HTMLParser(html)
        table = tree.css_first("#tbl-revisions table") or tree.css_first("#tbl-revisions")
        return [cell.text().strip() for cell in table.css("td")]

    names = history.top_people()["name"].to_list()
    assert cells(htmls["quarto"]) == cells(htmls["builtin"])
    assert [cell for cell in cells(htmls["builtin"]) if cell in names] == names


# --------------------------------------------------------------------------- Quarto bounded and one-line

KILLS = """\
---
title: dies
---

```{python}
x = 1
```

```{python}
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
```
"""

RAISES = KILLS.replace(
    "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "from impactreport.errors import InputError\nraise InputError(\"parameter data '/nowhere': no such file\")",
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (KILLS, "the report's Python kernel died while Quarto ran report/index.qmd (cell 2 of 2)"),
        (RAISES, "parameter data '/nowhere': no such file"),
    ],
    ids=["kernel-dies", "input-error"],
)
def test_quarto_errors_are_one_line(
    quarto_binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: str, expected: str
) -> None:
    import time

    from impactreport.errors import InputError

    project = _project(tmp_path / "p")
    (project / "report" / "index.qmd").write_text(report, encoding="utf-8")
    monkeypatch.setenv("QUARTO_PATH", str(quarto_binary))
    monkeypatch.setenv("QUARTO_PYTHON", sys.executable)
    started = time.perf_counter()
    with pytest.raises(InputError) as error:
        render(("html",), {}, None, "quarto", root=project)
    assert str(error.value) == expected
    assert time.perf_counter() - started < 120


@pytest.mark.slow
def test_quarto_timeout_stops_its_process_group(quarto_binary: Path, tmp_path: Path) -> None:
    import time

    from impactreport.errors import InputError
    from impactreport.render.quarto import render_quarto

    project = _project(tmp_path / "p")
    source = project / "report" / "index.qmd"
    source.write_text("---\ntitle: slow\n---\n\n```{python}\nimport time\ntime.sleep(600)\n```\n")
    env = {"QUARTO_PYTHON": sys.executable}
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"ran longer than 15 s under Quarto"):
        render_quarto(
            source,
            to=("html",),
            output_dir=project / "_output",
            root=project,
            env=env,
            binary=quarto_binary,
            timeout=15,
        )
    assert time.perf_counter() - started < 40
    time.sleep(1)
    leftover = subprocess.run(["pgrep", "-f", str(project)], capture_output=True, text=True, check=False)
    assert leftover.stdout.strip() == ""  # Deno, Quarto's Python and the kernel are gone
