"""Turn executed blocks into one Pandoc markdown document, the way Quarto lays out cell outputs.

Only what the report uses: ``echo``, ``output`` (``true``/``false``/``asis``), ``include``, ``label``,
``fig-cap`` and ``tbl-cap``; outputs ``text/markdown``, ``image/svg+xml``, ``image/png``, ``text/html``
(HTML only) and ``text/plain``; streams on stdout. Cross-references ``@fig-...`` and ``@tbl-...`` are
numbered here in order of appearance (Quarto's crossref filter does this in a real render). Images are
written to ``media_dir`` and referenced by file name, so Pandoc (HTML, Word) and Typst (PDF) find them.

HTML and Typst take an output's SVG (vector); Word takes its PNG (an SVG alone shows blank in some
readers), at the width the output's metadata gives (``{"image/png": {"width": px}}``, as IPython's
``Image(width=...)`` and Quarto read it). Typst and Word number the captions themselves (Word with its
own ``SEQ`` fields: Pandoc's ``native_numbering``), HTML gets "Figure N: " written out.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .execute import ExecutedBlock
from .qmd import INLINE, Cell

_REFERENCE = re.compile(r"(?<![\w\\])@((fig|tbl)-[\w-]+)")
_KIND = {"fig": "Figure", "tbl": "Table"}
#: The targets :func:`assemble` writes for: Pandoc's HTML, Typst (PDF) and Word writers.
TARGETS = ("html", "typst", "docx")
#: Targets whose writer numbers captions itself ("Figure 1: ..."): the caption is passed bare.
_SELF_NUMBERING = ("typst", "docx")


@dataclass
class Assembled:
    """The Pandoc markdown of the body and what it needs: image files and the numbered labels."""

    markdown: str
    images: list[Path] = field(default_factory=list)
    numbers: dict[str, int] = field(default_factory=dict)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _fence(text: str, language: str = "") -> str:
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


@dataclass(frozen=True)
class _Image:
    """An image written to ``media_dir``, with its width in CSS pixels when the output gave one."""

    path: Path
    width: float | None = None

    def markdown(self, caption: str = "", identifier: str = "") -> str:
        """``![caption](file){#id width=600px}``."""
        attributes = [f"#{identifier}"] if identifier else []
        if self.width:
            attributes.append(f"width={self.width:g}px")
        return f"![{caption}]({self.path.name})" + (f"{{{' '.join(attributes)}}}" if attributes else "")


def _width(metadata: Any, mime: str) -> float | None:
    """The ``width`` an output's metadata gives its image (IPython: ``{"image/png": {"width": 600}}``)."""
    entry = metadata.get(mime) if isinstance(metadata, dict) else None
    width = entry.get("width") if isinstance(entry, dict) else None
    if isinstance(width, bool) or not isinstance(width, int | float) or width <= 0:
        return None
    return float(width)


def _image(output: dict[str, Any], media_dir: Path, stem: str, to: str) -> _Image | None:
    """Write the image of an output's mime bundle to ``media_dir``: for Word the PNG when there is one
    (raster: an SVG shows blank in some readers), else the SVG (vector in HTML and PDF)."""
    data = output.get("data", {})
    order = ("image/png", "image/svg+xml") if to == "docx" else ("image/svg+xml", "image/png")
    mime = next((kind for kind in order if kind in data), None)
    if mime is None:
        return None
    if mime == "image/svg+xml":
        path = media_dir / f"{stem}.svg"
        path.write_text(_text(data[mime]), encoding="utf-8")
    else:
        path = media_dir / f"{stem}.png"
        path.write_bytes(base64.b64decode(_text(data[mime])))
    width = _width(output.get("metadata"), mime) if to == "docx" else None
    return _Image(path, width)


def _outputs(
    executed: ExecutedBlock, to: str, media_dir: Path, counter: list[int]
) -> tuple[list[str], list[_Image]]:
    """Markdown pieces and image files for one cell's outputs."""
    cell = executed.block
    assert isinstance(cell, Cell)
    asis = cell.options.get("output") == "asis"
    pieces: list[str] = []
    images: list[_Image] = []
    for output in executed.outputs:
        kind = output.get("output_type")
        if kind == "stream":
            if output.get("name") != "stdout":
                continue
            text = _text(output.get("text", ""))
            pieces.append(text if asis else _fence(text))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            if "text/markdown" in data:
                pieces.append(_text(data["text/markdown"]))
            elif "image/svg+xml" in data or "image/png" in data:
                counter[0] += 1
                image = _image(output, media_dir, f"cell-{counter[0]}", to)
                assert image is not None
                images.append(image)
                pieces.append(image.markdown())
            elif "text/html" in data and to == "html":
                pieces.append(_fence(_text(data["text/html"]), "{=html}"))
            elif "text/plain" in data:
                pieces.append(_fence(_text(data["text/plain"])))
        elif kind == "error":
            pieces.append(_fence(f"{output.get('ename')}: {output.get('evalue')}"))
    return pieces, images


def _float(cell: Cell, pieces: list[str], images: list[_Image], to: str, number: int) -> list[str]:
    """Wrap a labelled figure or table cell's output with its id and caption, as Quarto does."""
    label = str(cell.options["label"])
    prefix = label.split("-", 1)[0]
    caption = str(cell.options.get(f"{prefix}-cap", ""))
    # Typst and Word number figures and tables themselves ("Figure 1: ..."); HTML gets the number written.
    shown = caption if to in _SELF_NUMBERING else f"{_KIND[prefix]}\u00a0{number}: {caption}"
    if prefix == "fig" and len(images) == 1 and all(p.startswith("![](") or not p.strip() for p in pieces):
        return [images[0].markdown(shown, label)]
    if prefix == "tbl":
        return [f"::: {{#{label}}}", *pieces, "", f": {shown}", ":::"]
    return [f"::: {{#{label} .figure}}", *pieces, "", shown, ":::"]


def _substitute_inline(text: str, values: tuple[str, ...]) -> str:
    iterator = iter(values)
    return INLINE.sub(lambda _match: next(iterator), text)


def _resolve_references(markdown: str, numbers: dict[str, int]) -> str:
    def replace(match: re.Match[str]) -> str:
        label = match.group(1)
        if label not in numbers:
            return f"?@{label}"
        return f"[{_KIND[match.group(2)]}\u00a0{numbers[label]}](#{label})"

    return _REFERENCE.sub(replace, markdown)


def assemble(blocks: list[ExecutedBlock], *, to: str, media_dir: Path, echo: bool = False) -> Assembled:
    """The body as Pandoc markdown for ``to`` (``html``, ``typst`` or ``docx``), with cross-references
    resolved."""
    if to not in TARGETS:
        raise ValueError(f"unknown target {to!r} (expected one of {', '.join(TARGETS)})")
    parts: list[str] = []
    images: list[Path] = []
    numbers: dict[str, int] = {}
    counts = {"fig": 0, "tbl": 0}
    counter = [0]
    for executed in blocks:
        block = executed.block
        if not isinstance(block, Cell):
            parts.append(
                _substitute_inline(block.text, executed.inline_values) if block.inline else block.text
            )
            continue
        options = block.options
        if options.get("include") is False:
            continue
        if options.get("echo", echo) is True:
            parts.append(_fence(block.code, "python"))
        if options.get("output", True) is False:
            continue
        pieces, cell_images = _outputs(executed, to, media_dir, counter)
        images.extend(image.path for image in cell_images)
        label = str(options.get("label", ""))
        prefix = label.split("-", 1)[0]
        if prefix in counts and (pieces or cell_images):
            counts[prefix] += 1
            numbers[label] = counts[prefix]
            pieces = _float(block, pieces, cell_images, to, counts[prefix])
        parts.append("\n".join(pieces))
    markdown = "\n\n".join(part.strip("\n") for part in parts if part.strip())
    return Assembled(markdown=_resolve_references(markdown, numbers) + "\n", images=images, numbers=numbers)
