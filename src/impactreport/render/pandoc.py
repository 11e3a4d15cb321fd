"""Pandoc markdown → standalone HTML (resources embedded) and → PDF through Pandoc's Typst writer.

Uses the pandoc binary bundled with pypandoc-binary and the ``typst`` package's compiler, so neither
needs a system install nor the network: the stylesheet is our own (no CDN), and math, which the report
does not use, would be written as MathML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypandoc
import typst
import yaml

from impactreport.files import write_atomic

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


def to_html(
    markdown: str, front_matter: dict[str, Any], *, media_dir: Path, output: Path, toc: bool = True
) -> Path:
    """One self-contained HTML file: images and stylesheet embedded, nothing fetched when opened."""
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
    html = pypandoc.convert_text(
        _with_metadata(markdown, front_matter),
        "html5",
        format="markdown",
        extra_args=arguments,
        cworkdir=str(media_dir),
    )
    write_atomic(output, html.encode("utf-8"))
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
    write_atomic(output, pdf)
    return output
