"""Pandoc markdown → standalone HTML (resources embedded), → PDF through Pandoc's Typst writer, and →
Word (``.docx``).

Uses the pandoc binary bundled with pypandoc-binary and the ``typst`` package's compiler, so neither
needs a system install nor the network: the stylesheet is our own (no CDN), and math, which the report
does not use, would be written as MathML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pypandoc
import typst
import yaml

from impactreport.files import write_atomic
from impactreport.render.docx_page import a4_docx

from .style import CSS

#: Front-matter keys passed on to Pandoc; everything else (``format``, ``jupyter``, ...) is Quarto's.
METADATA_KEYS = ("title", "subtitle", "author", "date", "pagetitle", "lang", "toc-title", "abstract")


def _with_metadata(markdown: str, front_matter: dict[str, Any]) -> str:
    metadata = {key: front_matter[key] for key in METADATA_KEYS if key in front_matter}
    if not metadata:
        return markdown
    return f"---\n{yaml.safe_dump(metadata, allow_unicode=True)}---\n\n{markdown}"


def stylesheet(directory: Path) -> Path:
    """Write the report's stylesheet where Pandoc can embed it from."""
    path = directory / "report.css"
    path.write_text(CSS, encoding="utf-8")
    return path


def format_links(page: str, links: Sequence[tuple[str, str]]) -> str:
    """``page`` with links to the report's other formats (``[("PDF", "index.pdf"), ...]``) at the end of
    its table of contents, as Quarto's "Other Formats" (else at the top of the body)."""
    if not links:
        return page
    items = " · ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in links)
    block = f'<p class="format-links">Other formats: {items}</p>\n'
    toc = page.find('<nav id="TOC"')
    end = page.find("</nav>", toc) if toc >= 0 else -1
    if end >= 0:
        return page[:end] + block + page[end:]
    body = page.find(">", page.find("<body")) + 1
    return page[:body] + "\n" + block + page[body:] if body > 0 else page


def to_html(
    markdown: str,
    front_matter: dict[str, Any],
    *,
    media_dir: Path,
    output: Path,
    toc: bool = True,
    links: Sequence[tuple[str, str]] = (),
) -> Path:
    """One self-contained HTML file: images and stylesheet embedded, nothing fetched when opened;
    ``links`` (label, file name) to the other formats written beside it."""
    arguments = [
        "--standalone",
        "--embed-resources",
        "--mathml",
        f"--css={stylesheet(media_dir)}",
        f"--resource-path={media_dir}",
        "--section-divs",
        "--metadata=document-css:false",
    ]
    if toc:
        arguments += ["--toc", "--toc-depth=2"]
    if "title" not in front_matter and "pagetitle" not in front_matter:
        arguments.append("--metadata=pagetitle:Report")
    page = pypandoc.convert_text(
        _with_metadata(markdown, front_matter),
        "html5",
        format="markdown",
        extra_args=arguments,
        cworkdir=str(media_dir),
    )
    write_atomic(output, format_links(page, links).encode("utf-8"))
    return output


def to_pdf(markdown: str, front_matter: dict[str, Any], *, media_dir: Path, output: Path) -> Path:
    """A PDF: Pandoc writes Typst source next to the images, the ``typst`` package compiles it."""
    source = pypandoc.convert_text(
        _with_metadata(markdown, front_matter),
        "typst",
        format="markdown",
        extra_args=["--standalone", "--variable=papersize:a4", "--variable=margin.x:2cm"],
    )
    typ = media_dir / "index.typ"
    typ.write_text(source, encoding="utf-8")
    pdf = typst.compile(str(typ), root=str(media_dir))
    write_atomic(output, without_false_suspects(pdf))
    return output


#: Typst's tagged PDF says ``/MarkInfo<</Marked true/Suspects false>>`` in its catalog. The PDF is valid,
#: but poppler (pdftotext, pdfinfo, evince; 22.12 at least) takes a ``false`` Suspects for a wrong type
#: and prints "Syntax Error: Suspects object is wrong type (boolean)" on every read.
_SUSPECTS = b"/Suspects false"


def without_false_suspects(pdf: bytes) -> bytes:
    """``pdf`` with its catalog's ``/Suspects false`` blanked out: false is the default, so the PDF means
    the same, and the same number of bytes keeps every cross-reference offset right."""
    start = pdf.find(b"/MarkInfo<<")
    end = pdf.find(b">>", start)
    where = pdf.find(_SUSPECTS, start, end) if start >= 0 else -1
    if where < 0 or pdf.count(_SUSPECTS) != 1:
        return pdf
    return pdf[:where] + b" " * len(_SUSPECTS) + pdf[where + len(_SUSPECTS) :]


def to_docx(markdown: str, front_matter: dict[str, Any], *, media_dir: Path, output: Path) -> Path:
    """A Word document: the title block, tables as Word tables, the figures as the PNG files the
    markdown names (embedded), and captions numbered by Word itself (``SEQ`` fields: Pandoc's
    ``native_numbering``, "Figure 1: ...", "Table 1: ...")."""
    target = media_dir / "index.docx"
    pypandoc.convert_text(
        _with_metadata(markdown, front_matter),
        "docx+native_numbering",
        format="markdown",
        outputfile=str(target),
        extra_args=[f"--resource-path={media_dir}"],
        cworkdir=str(media_dir),
    )
    write_atomic(output, a4_docx(target.read_bytes()))
    return output
