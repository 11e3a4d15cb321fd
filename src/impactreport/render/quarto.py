"""Render with the real Quarto CLI when one is installed (``quarto`` on PATH, or ``$QUARTO_PATH``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from impactreport.errors import InputError

#: Our format names → Quarto's (the PDF comes from Quarto's ``typst`` format).
QUARTO_FORMATS = {"html": "html", "pdf": "typst"}


def find_quarto() -> Path | None:
    """The Quarto binary: ``$QUARTO_PATH`` when set, else ``quarto`` on ``PATH``; None when neither."""
    explicit = os.environ.get("QUARTO_PATH")
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            path = path / "bin" / "quarto"
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("quarto")
    return Path(found) if found else None


def param_argument(key: str, value: Any) -> str:
    """``key:value`` with the value written as one-line YAML, which is how Quarto reads ``-P``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True).strip()
    text = text.removesuffix("...").strip()
    return f"{key}:{text}"


def command(binary: Path, source: Path, fmt: str, params: dict[str, Any], output_dir: Path) -> list[str]:
    """The ``quarto render`` command line for one format."""
    arguments = [str(binary), "render", str(source), "--to", QUARTO_FORMATS[fmt]]
    for key, value in params.items():
        arguments += ["-P", param_argument(key, value)]
    return [*arguments, "--output-dir", str(output_dir)]


def render_quarto(
    source: Path,
    *,
    to: tuple[str, ...],
    params: dict[str, Any] | None = None,
    output_dir: Path,
    root: Path,
    env: dict[str, str] | None = None,
    binary: Path | None = None,
) -> list[Path]:
    """Run ``quarto render`` once per format from the project root; return the files written."""
    binary = binary or find_quarto()
    if binary is None:
        raise InputError("quarto not found: install Quarto or set QUARTO_PATH (or use --engine builtin)")
    environment = {**os.environ, **(env or {})}
    environment.setdefault("QUARTO_PYTHON", sys.executable)
    written: list[Path] = []
    for fmt in to:
        if fmt not in QUARTO_FORMATS:
            raise InputError(f"unknown output format {fmt!r} (expected html or pdf)")
        result = subprocess.run(
            command(binary, source.relative_to(root), fmt, params or {}, output_dir),
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-4000:])
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise InputError(f"quarto render {source} --to {QUARTO_FORMATS[fmt]} failed: {last}")
        target = output_dir / f"{source.stem}.{fmt}"
        if not target.is_file():
            raise InputError(f"quarto render finished but {target} was not written")
        written.append(target)
    return written
