"""Parse the subset of Quarto's ``.qmd`` format that the report uses.

A ``.qmd`` file is YAML front matter, Pandoc markdown, fenced ```` ```{python} ```` cells whose leading
``#| key: value`` lines are cell options (YAML), and inline `` `{python} expr` `` expressions. This module
turns the text into data (:class:`QmdDocument`) and does nothing else, so the executor and the document
assembler can be tested on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from impactreport.errors import InputError

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_CELL_OPEN = re.compile(r"^(`{3,})\s*\{python[^}]*\}\s*$")
_OPTION = re.compile(r"^#\|\s?(.*)$")
#: `` `{python} expr` `` (Quarto's inline expression syntax for the Jupyter engine).
INLINE = re.compile(r"`\{python\}\s+([^`]+?)\s*`")


@dataclass(frozen=True)
class Markdown:
    """A run of markdown between cells; ``inline`` lists its `` `{python} expr` `` expressions in order."""

    text: str
    inline: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cell:
    """A ``{python}`` cell: its code without the ``#|`` lines, and the options those lines set."""

    code: str
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class QmdDocument:
    """A parsed ``.qmd``: front matter and the body as markdown runs and cells, in order."""

    front_matter: dict[str, Any]
    blocks: tuple[Markdown | Cell, ...]

    @property
    def cells(self) -> list[Cell]:
        return [block for block in self.blocks if isinstance(block, Cell)]


def _front_matter(text: str, name: str) -> tuple[dict[str, Any], str, int]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text, 0
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        raise InputError(f"{name}: front matter is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise InputError(f"{name}: front matter must be a YAML mapping")
    return data, text[match.end() :], match.group(0).count("\n")


def _cell_options(lines: list[str], name: str, line: int) -> tuple[dict[str, Any], list[str]]:
    option_lines: list[str] = []
    index = 0
    while index < len(lines) and (match := _OPTION.match(lines[index])):
        option_lines.append(match.group(1))
        index += 1
    if not option_lines:
        return {}, lines
    try:
        options = yaml.safe_load("\n".join(option_lines)) or {}
    except yaml.YAMLError as error:
        raise InputError(f"{name}:{line}: cell options are not valid YAML: {error}") from None
    if not isinstance(options, dict):
        raise InputError(f"{name}:{line}: cell options must be `#| key: value` lines")
    return options, lines[index:]


def _markdown(lines: list[str]) -> Markdown | None:
    text = "\n".join(lines)
    if not text.strip():
        return None
    return Markdown(text=text, inline=tuple(match.group(1) for match in INLINE.finditer(text)))


def parse(text: str, name: str = "<qmd>") -> QmdDocument:
    """Split a ``.qmd`` into front matter, markdown and python cells.

    Raises :class:`InputError` naming the file and line for unclosed cells or invalid option YAML.
    """
    front, body, offset = _front_matter(text, name)
    blocks: list[Markdown | Cell] = []
    pending: list[str] = []
    lines = body.splitlines()
    index = 0
    while index < len(lines):
        opening = _CELL_OPEN.match(lines[index])
        if not opening:
            pending.append(lines[index])
            index += 1
            continue
        fence = opening.group(1)
        start = index + 1 + offset
        end = index + 1
        while end < len(lines) and not re.match(rf"^{fence}`*\s*$", lines[end]):
            end += 1
        if end == len(lines):
            raise InputError(f"{name}:{start}: python cell is never closed")
        if (markdown := _markdown(pending)) is not None:
            blocks.append(markdown)
        pending = []
        options, code = _cell_options(lines[index + 1 : end], name, start)
        blocks.append(Cell(code="\n".join(code).strip("\n"), options=options, line=start))
        index = end + 1
    if (markdown := _markdown(pending)) is not None:
        blocks.append(markdown)
    return QmdDocument(front_matter=front, blocks=tuple(blocks))


def parameter_names(document: QmdDocument) -> list[str]:
    """Names assigned at the top level of the cell tagged ``parameters`` (papermill's convention)."""
    for cell in document.cells:
        if "parameters" in (cell.options.get("tags") or []):
            return list(dict.fromkeys(re.findall(r"(?m)^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)", cell.code)))
    return []


def check_parameters(document: QmdDocument, params: dict[str, Any], name: str) -> None:
    """Refuse ``-P`` keys the document does not declare: papermill would inject them silently."""
    known = parameter_names(document)
    unknown = [key for key in params if key not in known]
    if unknown:
        listed = ", ".join(known) if known else "none: it has no cell tagged parameters"
        raise InputError(f"-P {unknown[0]}: not a parameter of {name} (parameters: {listed})")
