"""Turn executed blocks into one Pandoc markdown document, the way Quarto lays out cell outputs.

Only what the report uses: ``echo``, ``output`` (``true``/``false``/``asis``), ``include``, ``label``,
``fig-cap`` and ``tbl-cap``; outputs ``text/markdown``, ``image/svg+xml``, ``image/png``, ``text/html``
(HTML only) and ``text/plain``; streams on stdout. Cross-references ``@fig-...`` and ``@tbl-...`` are
numbered here in order of appearance (Quarto's crossref filter does this in a real render). Images are
written to ``media_dir`` and referenced by file name, so Pandoc (HTML) and Typst (PDF) both find them.
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


def _image(data: dict[str, Any], media_dir: Path, stem: str) -> Path | None:
    """Write the first image of a mime bundle to ``media_dir`` (SVG preferred: it stays vector in both)."""
    if "image/svg+xml" in data:
        path = media_dir / f"{stem}.svg"
        path.write_text(_text(data["image/svg+xml"]), encoding="utf-8")
        return path
    if "image/png" in data:
        path = media_dir / f"{stem}.png"
        path.write_bytes(base64.b64decode(_text(data["image/png"])))
        return path
    return None


def _outputs(
    executed: ExecutedBlock, to: str, media_dir: Path, counter: list[int]
) -> tuple[list[str], list[Path]]:
    """Markdown pieces and image files for one cell's outputs."""
    cell = executed.block
    assert isinstance(cell, Cell)
    asis = cell.options.get("output") == "asis"
    pieces: list[str] = []
    images: list[Path] = []
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
                path = _image(data, media_dir, f"cell-{counter[0]}")
                assert path is not None
                images.append(path)
                pieces.append(f"![]({path.name})")
            elif "text/html" in data and to == "html":
                pieces.append(_fence(_text(data["text/html"]), "{=html}"))
            elif "text/plain" in data:
                pieces.append(_fence(_text(data["text/plain"])))
        elif kind == "error":
            pieces.append(_fence(f"{output.get('ename')}: {output.get('evalue')}"))
    return pieces, images


def _float(cell: Cell, pieces: list[str], images: list[Path], to: str, number: int) -> list[str]:
    """Wrap a labelled figure or table cell's output with its id and caption, as Quarto does."""
    label = str(cell.options["label"])
    prefix = label.split("-", 1)[0]
    caption = str(cell.options.get(f"{prefix}-cap", ""))
    # Typst numbers figures and tables itself ("Figure 1: ..."); HTML gets the number written out.
    shown = caption if to == "typst" else f"{_KIND[prefix]}\u00a0{number}: {caption}"
    if prefix == "fig" and len(images) == 1 and all(p.startswith("![](") or not p.strip() for p in pieces):
        return [f"![{shown}]({images[0].name}){{#{label}}}"]
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
    """The body as Pandoc markdown for ``to`` (``html`` or ``typst``), with cross-references resolved."""
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
        images.extend(cell_images)
        label = str(options.get("label", ""))
        prefix = label.split("-", 1)[0]
        if prefix in counts and (pieces or cell_images):
            counts[prefix] += 1
            numbers[label] = counts[prefix]
            pieces = _float(block, pieces, cell_images, to, counts[prefix])
        parts.append("\n".join(pieces))
    markdown = "\n\n".join(part.strip("\n") for part in parts if part.strip())
    return Assembled(markdown=_resolve_references(markdown, numbers) + "\n", images=images, numbers=numbers)
