"""Write the module list into README.md (between the markers), from each module's first docstring line.

Why generated: the architecture table names the folders and what flows between them; this list names
every package and module of ``src/impactreport`` with its one job, as its own docstring says it, so it
cannot fall behind the code. Run ``.venv/bin/python scripts/readme_modules.py`` after adding, moving or
removing a module; a test checks the README is current (and that every module has a first line).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PACKAGE = ROOT / "src" / "impactreport"
START, END = "<!-- modules:start -->", "<!-- modules:end -->"


def first_line(path: Path) -> str:
    """The first line of a module's docstring ("" when it has none)."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return docstring.strip().splitlines()[0].strip() if docstring.strip() else ""


def modules() -> list[tuple[str, str]]:
    """``(dotted name, first line)`` of every module, packages as ``name/``, in folder order."""
    out = []
    for path in sorted(
        PACKAGE.rglob("*.py"),
        key=lambda p: (p.parent.relative_to(PACKAGE).parts, p.name != "__init__.py", p.name),
    ):
        relative = path.relative_to(PACKAGE)
        name = f"{relative.parent.as_posix()}/" if path.name == "__init__.py" else relative.as_posix()
        out.append(("impactreport/" if name == "./" else name, first_line(path)))
    return out


def modules_markdown() -> str:
    rows = ["| module | its one job |", "|---|---|"]
    pipe = "\\|"
    rows += [f"| `{name}` | {line.replace('|', pipe)} |" for name, line in modules()]
    return "\n".join(rows)


def updated(text: str) -> str:
    block = f"{START}\n{modules_markdown()}\n{END}"
    if START not in text:
        return text.replace(
            "## Tests and benchmarks", f"### Every module\n\n{block}\n\n## Tests and benchmarks", 1
        )
    return re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)


if __name__ == "__main__":
    README.write_text(updated(README.read_text(encoding="utf-8")), encoding="utf-8")
