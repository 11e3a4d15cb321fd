"""Word output: ``impactreport render --to docx`` (built-in engine) and ``quarto render --to docx``.

The .docx is read back as a reader would see it: the images in ``word/media`` (one PNG per figure, at
print resolution), the paragraphs of ``word/document.xml`` (title block, "Figure N: caption" and
"Table N: caption", numbered by Word's own ``SEQ`` fields with the built-in engine), its Word tables,
and Pandoc's reading of it as plain text (the impact sentence, the period). The small tests check the
pieces without a kernel: the figure chosen per format, the report's ``show()``, the PDF catalog fix,
the HTML's links to the other formats and ``_quarto.yml``.
"""

from __future__ import annotations

import ast
import base64
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pypandoc
import pytest
import yaml
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from impactreport.render import document, pandoc, qmd, quarto, render
from impactreport.render.builtin import figure_formats
from impactreport.render.execute import ExecutedBlock

REPO = Path(__file__).resolve().parents[1]
PROJECTS = ("EdgeProject", "MicrobeResist", "meta")
SINCE, UNTIL = "2015-06-01", "2016-05-31"
PERIOD = "From 1 Jun 2015 to 31 May 2016"
#: One EMU is 1/914,400 inch (Office Open XML drawing units).
EMU_PER_INCH = 914_400
#: A1 pixel PNG, and an SVG 300 CSS px wide.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="300" height="100"><rect/></svg>'


# --------------------------------------------------------------------------- reading a .docx back


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def paragraphs(xml: str) -> list[str]:
    """The text of each paragraph of ``document.xml``, as Word shows it (field results included)."""
    texts = []
    for paragraph in re.findall(r"<w:p[ >].*?</w:p>", xml, re.DOTALL):
        words = re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", paragraph)
        texts.append(
            "".join(words)
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", '"')
        )
    return [re.sub(r"\s+", " ", text).replace("\u00a0", " ").strip() for text in texts]


class Docx:
    """What a reader of the .docx gets."""

    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as archive:
            self.xml = archive.read("word/document.xml").decode("utf-8")
            relations = archive.read("word/_rels/document.xml.rels").decode("utf-8")
            self.media = {
                name: archive.read(name) for name in archive.namelist() if name.startswith("word/media/")
            }
        self.targets: dict[str, str] = {}
        for element in re.findall(r"<Relationship [^>]*>", relations):
            rid, target = re.search(r'Id="([^"]+)"', element), re.search(r'Target="([^"]+)"', element)
            if rid and target:
                self.targets[rid.group(1)] = target.group(1)
        self.paragraphs = paragraphs(self.xml)
        self.plain = re.sub(
            r"\s+", " ", pypandoc.convert_file(str(path), "plain", extra_args=["--wrap=none"])
        ).replace("\u00a0", " ")

    def images(self) -> list[tuple[str, float, float]]:
        """Each drawing: its media file, its width and height on the page in inches."""
        found = []
        for drawing in re.findall(r"<w:drawing>.*?</w:drawing>", self.xml, re.DOTALL):
            extent = re.search(r'<wp:extent cx="(\d+)" cy="(\d+)"', drawing)
            embed = re.search(r'r:embed="([^"]+)"', drawing)
            assert extent and embed, drawing[:300]
            name = "word/" + self.targets[embed.group(1)]
            found.append((name, int(extent.group(1)) / EMU_PER_INCH, int(extent.group(2)) / EMU_PER_INCH))
        return found

    def styled(self, style: str) -> list[str]:
        """The text of the paragraphs with a paragraph style (``Title``, ``ImageCaption``, ...)."""
        found = []
        for paragraph in re.findall(r"<w:p[ >].*?</w:p>", self.xml, re.DOTALL):
            if f'<w:pStyle w:val="{style}" />' in paragraph or f'<w:pStyle w:val="{style}"/>' in paragraph:
                found.extend(paragraphs(paragraph))
        return found


def report_captions() -> dict[str, str]:
    """Label → caption of every figure and table cell of the report."""
    parsed = qmd.parse((REPO / "report" / "index.qmd").read_text(encoding="utf-8"), "index.qmd")
    captions = {}
    for cell in parsed.cells:
        label = str(cell.options.get("label", ""))
        prefix = label.split("-", 1)[0]
        if prefix in ("fig", "tbl"):
            captions[label] = str(cell.options[f"{prefix}-cap"])
    return captions


def html_floats(html: str) -> list[str]:
    """The labels of the figures and tables the HTML shows, in order."""
    tree = HTMLParser(html)
    names = set(report_captions())
    return [node.attributes["id"] for node in tree.css("[id]") if node.attributes["id"] in names]


def check_docx(out: Path, html: str, sentence: str) -> Docx:
    """What every Word render must hold: the title block, the sentence and the period, one PNG per
    figure at print resolution inside the page, and the figures and tables of the HTML, in its order,
    numbered and captioned, the tables as Word tables."""
    docx = Docx(out / "index.docx")
    assert docx.styled("Title") == ["Word test report"]
    assert any(line.startswith(PERIOD.removeprefix("From ")) for line in docx.styled("Subtitle"))
    assert sentence.startswith(PERIOD) and sentence in docx.plain
    assert sentence in docx.paragraphs
    assert "?@fig" not in docx.plain and "?@tbl" not in docx.plain

    figures = sorted(path.stem for path in (out / "figures").glob("*.svg"))
    assert len(figures) >= 7
    images = docx.images()
    assert len(images) == len(figures) == len(docx.media)
    assert all(name.endswith(".png") for name in docx.media)  # raster only: no SVG without a fallback
    pngs = {data: name for name, data in docx.media.items()}
    for figure in figures:  # each figure's own PNG, as the pipeline wrote it, embedded whole
        assert (out / "figures" / f"{figure}.png").read_bytes() in pngs, figure
    for name, width, height in images:
        pixels = png_size(docx.media[name])
        assert 2.0 <= width <= 6.6 and 0.5 <= height <= 9.5, (name, width, height)  # inside the page
        assert pixels[0] / width >= 250, (name, pixels, width)  # print resolution (dots per inch)
        assert abs(pixels[0] / pixels[1] - width / height) < 0.02  # not stretched

    captions = report_captions()
    floats = html_floats(html)
    assert {label for label in floats if label.startswith("fig-")} == {f"fig-{name}" for name in figures}
    numbers = {"fig": 0, "tbl": 0}
    shown = [line for line in docx.paragraphs if re.match(r"(Figure|Table) \d+: ", line)]
    expected = []
    for label in floats:
        prefix = label.split("-", 1)[0]
        numbers[prefix] += 1
        kind = "Figure" if prefix == "fig" else "Table"
        expected.append(re.sub(r"\s+", " ", f"{kind} {numbers[prefix]}: {captions[label]}"))
    assert [line.replace("’", "'") for line in shown] == [line.replace("’", "'") for line in expected]
    assert docx.xml.count("<w:tbl>") >= numbers["tbl"]
    assert '<w:pgSz w:w="11906" w:h="16838" />' in docx.xml  # an A4 page, as the PDF (not Word's Letter)
    return docx


def test_a4_docx_sets_the_page_in_schema_order_once() -> None:
    """The page size goes after the section's footnote properties (OOXML's order), and only once."""
    import io
    import zipfile

    from impactreport.render.docx_page import a4_docx

    document = (
        '<w:document><w:body><w:p/><w:sectPr><w:footnotePr><w:numRestart w:val="eachSect" />'
        "</w:footnotePr></w:sectPr></w:body></w:document>"
    )
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("word/document.xml", document)
        archive.writestr("word/styles.xml", "<w:styles/>")
    once = a4_docx(packed.getvalue())
    xml = zipfile.ZipFile(io.BytesIO(once)).read("word/document.xml").decode()
    assert (
        xml.index("</w:footnotePr>") < xml.index("<w:pgSz") < xml.index("<w:pgMar") < xml.index("</w:sectPr>")
    )
    assert a4_docx(once) == once
    assert zipfile.ZipFile(io.BytesIO(once)).read("word/styles.xml") == b"<w:styles/>"


def summary_sentence(data: Path) -> str:
    """The impact sentence ``impactreport summary`` prints for the test's period."""
    arguments = [str(data), "--since", SINCE, "--until", UNTIL, "--team", "dhimmel"]
    for project in PROJECTS:
        arguments += ["--project", project]
    command = Path(sys.executable).parent / "impactreport"
    result = subprocess.run([str(command), "summary", *arguments], capture_output=True, text=True, check=True)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(PERIOD)]
    return line


def _project(folder: Path) -> Path:
    """A copy of the Quarto project: ``_quarto.yml``, the report and the post-render step."""
    (folder / "report").mkdir(parents=True)
    shutil.copy(REPO / "_quarto.yml", folder / "_quarto.yml")
    shutil.copy(REPO / "report" / "index.qmd", folder / "report" / "index.qmd")
    flatten = Path("src") / "impactreport" / "render" / "flatten.py"
    (folder / flatten).parent.mkdir(parents=True)
    shutil.copy(REPO / flatten, folder / flatten)
    return folder


def _params(latest_dir: Path) -> dict[str, Any]:
    return {
        "data": str(latest_dir),
        "projects": list(PROJECTS),
        "since": SINCE,
        "until": UNTIL,
        "team": ["dhimmel"],
        "title": "Word test report",
    }


# --------------------------------------------------------------------------- built-in engine


@pytest.fixture(scope="module")
def builtin_render(latest_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HTML, PDF and Word from one run of the built-in engine (the report executes once)."""
    project = _project(tmp_path_factory.mktemp("docx-builtin"))
    out = project / "out"
    written = render(("html", "pdf", "docx"), _params(latest_dir), out, "builtin", root=project)
    assert [path.name for path in written] == ["index.html", "index.pdf", "index.docx"]
    return out


@pytest.mark.slow
@pytest.mark.shared
def test_builtin_docx(builtin_render: Path, latest_dir: Path) -> None:
    html = (builtin_render / "index.html").read_text(encoding="utf-8")
    docx = check_docx(builtin_render, html, summary_sentence(latest_dir))
    # Word numbers the captions itself: a SEQ field per caption, and the text's references agree
    captions = docx.styled("ImageCaption") + docx.styled("TableCaption")
    assert len(re.findall(r'w:instr="SEQ (?:Figure|Table) ', docx.xml)) == len(captions) >= 8
    assert "Figure 1 compares the projects" in docx.plain
    # the HTML of the same run: figures stay SVG, and it links the PDF and the Word file by those names
    tree = HTMLParser(html)
    assert all(img.attributes["src"].startswith("data:image/svg+xml") for img in tree.css("figure img"))
    links = {a.text(): a.attributes["href"] for a in tree.css("nav#TOC .format-links a")}
    assert links == {"PDF": "index.pdf", "Word": "index.docx"}


@pytest.mark.slow
@pytest.mark.shared
def test_builtin_pdf_reads_without_poppler_errors(builtin_render: Path) -> None:
    pdf = (builtin_render / "index.pdf").read_bytes()
    assert b"/Suspects false" not in pdf and b"/MarkInfo<</Marked true" in pdf  # still a tagged PDF
    for tool in ("pdfinfo", "pdftotext"):
        if shutil.which(tool) is None:
            continue  # poppler-utils not installed: the bytes above are the check
        arguments = [tool, str(builtin_render / "index.pdf")] + (["-"] if tool == "pdftotext" else [])
        result = subprocess.run(arguments, capture_output=True, text=True, check=True)
        assert "Syntax Error" not in result.stderr, result.stderr


# --------------------------------------------------------------------------- Quarto


@pytest.fixture(scope="module")
def quarto_render(quarto_binary: Path, latest_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HTML and Word rendered by the real Quarto (two runs: Quarto executes the report per format)."""
    project = _project(tmp_path_factory.mktemp("docx-quarto"))
    out = project / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUARTO_PATH", str(quarto_binary))
        patch.setenv("QUARTO_PYTHON", sys.executable)
        written = render(("html", "docx"), _params(latest_dir), out, "quarto", root=project)
    assert [path.name for path in written] == ["index.html", "index.docx"]
    return out


@pytest.mark.slow
@pytest.mark.shared
def test_quarto_docx(quarto_render: Path, latest_dir: Path) -> None:
    html = (quarto_render / "index.html").read_text(encoding="utf-8")
    docx = check_docx(quarto_render, html, summary_sentence(latest_dir))
    assert "Figure 1 compares the projects" in docx.plain
    assert not (quarto_render / "report").exists()  # moved up by the post-render step, as the HTML


@pytest.mark.slow
@pytest.mark.shared
def test_quarto_html_links_pdf_and_word(quarto_render: Path) -> None:
    tree = HTMLParser((quarto_render / "index.html").read_text(encoding="utf-8"))
    links = {a.text().strip(): a.attributes["href"] for a in tree.css(".quarto-alternate-formats a")}
    assert links == {"PDF": "index.pdf", "Word": "index.docx"}  # not "Typst" and "MS Word"


# --------------------------------------------------------------------------- pieces, no kernel


def test_each_format_takes_its_image(tmp_path: Path) -> None:
    both = {
        "output_type": "display_data",
        "data": {"image/svg+xml": SVG, "image/png": base64.b64encode(PNG).decode()},
        "metadata": {"image/png": {"width": 300}},
    }
    blocks = [
        ExecutedBlock(qmd.Markdown("See @fig-a and @tbl-t.")),
        ExecutedBlock(qmd.Cell("a", {"label": "fig-a", "fig-cap": "A chart"}), (both,)),
        ExecutedBlock(
            qmd.Cell("t", {"label": "tbl-t", "tbl-cap": "A table", "output": "asis"}),
            ({"output_type": "stream", "name": "stdout", "text": "| a |\n|---|\n| 1 |\n"},),
        ),
    ]
    word = document.assemble(blocks, to="docx", media_dir=tmp_path, echo=False)
    # the PNG at the SVG's width; Word numbers the caption itself, the reference is written out
    assert "![A chart](cell-1.png){#fig-a width=300px}" in word.markdown
    assert ": A table\n" in word.markdown and "Table\u00a01: A table" not in word.markdown
    assert "[Figure\u00a01](#fig-a)" in word.markdown
    html = document.assemble(blocks, to="html", media_dir=tmp_path, echo=False)
    assert "![Figure\u00a01: A chart](cell-1.svg){#fig-a}" in html.markdown
    typst = document.assemble(blocks, to="typst", media_dir=tmp_path, echo=False)
    assert "![A chart](cell-1.svg){#fig-a}" in typst.markdown
    png_only = {"output_type": "display_data", "data": {"image/png": both["data"]["image/png"]}}
    alone = [ExecutedBlock(qmd.Cell("p", {}), (png_only,))]
    assert document.assemble(alone, to="html", media_dir=tmp_path).markdown == "![](cell-1.png)\n"
    with pytest.raises(ValueError, match="unknown target"):
        document.assemble(blocks, to="latex", media_dir=tmp_path)


def test_figure_formats_asked_of_the_kernel() -> None:
    assert figure_formats(("html", "pdf")) == "svg"
    assert figure_formats(("docx",)) == "png"
    assert figure_formats(("html", "pdf", "docx")) == figure_formats(("pdf", "docx")) == "svg,png"


def _show() -> str:
    """The source of the report's ``show()``."""
    parsed = qmd.parse((REPO / "report" / "index.qmd").read_text(encoding="utf-8"), "index.qmd")
    for cell in parsed.cells:
        for node in ast.parse(cell.code).body:
            if isinstance(node, ast.FunctionDef) and node.name == "show":
                segment = ast.get_source_segment(cell.code, node)
                assert segment is not None
                return segment
    raise AssertionError("report/index.qmd has no show()")


@pytest.mark.parametrize(
    ("fig_format", "mimes"),
    [
        (None, {"image/svg+xml"}),  # not under Quarto (Jupyter): the SVG
        ("svg", {"image/svg+xml"}),  # HTML, Typst
        ("pdf", {"image/svg+xml"}),
        ("png", {"image/png"}),  # docx (and retina, which Quarto passes as png)
        ("svg,png", {"image/svg+xml", "image/png"}),  # the built-in engine writing Word and another
    ],
)
def test_show_displays_what_the_format_takes(
    fig_format: str | None, mimes: set[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.display import SVG as IPythonSVG

    (tmp_path / "chart.svg").write_text(SVG + "\n<!-- key -->\n", encoding="utf-8")
    (tmp_path / "chart.png").write_bytes(PNG)
    if fig_format is None:
        monkeypatch.delenv("QUARTO_FIG_FORMAT", raising=False)
    else:
        monkeypatch.setenv("QUARTO_FIG_FORMAT", fig_format)
    shown: list[tuple[Any, dict[str, Any]]] = []
    namespace: dict[str, Any] = {
        "report": SimpleNamespace(figures={"chart": tmp_path / "chart.svg"}),
        "SVG": IPythonSVG,
        "display": lambda data, **options: shown.append((data, options)),
    }
    exec(_show(), namespace)
    namespace["show"]("absent")  # a figure without data shows nothing
    namespace["show"]("chart")
    ((bundle, options),) = shown
    assert set(bundle) == mimes and options["raw"] is True
    if "image/png" in mimes:
        assert base64.b64decode(bundle["image/png"]) == PNG
        assert options["metadata"] == {"image/png": {"width": 300.0}}  # the SVG's width, in CSS px
    if "image/svg+xml" in mimes:
        assert bundle["image/svg+xml"].startswith("<svg") and "key" not in bundle["image/svg+xml"]


def test_word_numbers_captions_and_embeds_png(tmp_path: Path) -> None:
    (tmp_path / "chart.png").write_bytes(PNG)
    markdown = (
        "See [Figure 1](#fig-a).\n\n![A chart](chart.png){#fig-a width=300px}\n\n"
        "::: {#tbl-t}\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n: A table\n:::\n"
    )
    out = pandoc.to_docx(
        markdown, {"title": "T & t", "lang": "en"}, media_dir=tmp_path, output=tmp_path / "x.docx"
    )
    docx = Docx(out)
    assert docx.styled("Title") == ["T & t"]
    assert docx.styled("ImageCaption") == ["Figure 1: A chart"] and docx.styled("TableCaption") == [
        "Table 1: A table"
    ]
    assert 'w:instr="SEQ Figure ' in docx.xml and 'w:instr="SEQ Table ' in docx.xml
    assert list(docx.media.values()) == [PNG]
    ((_, width, _),) = docx.images()
    assert width == pytest.approx(300 / 96, abs=0.01)
    assert docx.xml.count("<w:tbl>") == 1


def test_pdf_catalog_false_suspects_blanked() -> None:
    pdf = b"%PDF-1.7\n1 0 obj\n<</Type/Catalog/MarkInfo<</Marked true/Suspects false>>>>\nendobj\nxref"
    fixed = pandoc.without_false_suspects(pdf)
    assert len(fixed) == len(pdf)  # every cross-reference offset stays right
    assert b"/Suspects" not in fixed and b"/MarkInfo<</Marked true" in fixed
    assert pandoc.without_false_suspects(b"%PDF-1.7 /Suspects true") == b"%PDF-1.7 /Suspects true"
    twice = pdf + b"\n(/Suspects false)"
    assert pandoc.without_false_suspects(twice) == twice  # not sure which one: left alone


def test_html_links_the_other_formats() -> None:
    page = '<body>\n<header></header>\n<nav id="TOC" role="doc-toc"><ul></ul></nav>\n<p>x</p></body>'
    linked = pandoc.format_links(page, [("PDF", "index.pdf"), ("Word", "index.docx")])
    assert '<ul></ul><p class="format-links">Other formats: <a href="index.pdf">PDF</a>' in linked
    assert linked.endswith('<a href="index.docx">Word</a></p>\n</nav>\n<p>x</p></body>')
    no_toc = pandoc.format_links("<body class='x'>\n<p>x</p></body>", [("PDF", "index.pdf")])
    assert no_toc.startswith("<body class='x'>\n<p class=\"format-links\">")
    assert pandoc.format_links(page, []) == page


def test_quarto_project_has_word() -> None:
    config = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    formats = config["format"]
    assert formats["docx"]["fig-format"] == "png"  # the report's show() embeds the PNG
    assert formats["html"]["fig-format"] == formats["typst"]["fig-format"] == "svg"
    links = [link for link in formats["html"]["format-links"] if isinstance(link, dict)]
    assert {link["format"]: link["text"] for link in links} == {"typst": "PDF", "docx": "Word"}
    assert config["execute"]["daemon"] is False  # a kernel per render reads QUARTO_FIG_FORMAT afresh
    assert quarto.command(Path("quarto"), Path("report/index.qmd"), "docx", {}, Path("out"))[3:5] == [
        "--to",
        "docx",
    ]
