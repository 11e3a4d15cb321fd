"""The software that made the report: the Python packages, the renderer, Quarto and pandoc, the
project's commit; and where the Quarto binary is.

Why here: the report states what made it (its provenance section and ``provenance.json``), and asking
git, Quarto and pandoc are subprocesses run beside the pipeline. :func:`find_quarto` is the one lookup
of the binary, for the renderer (:mod:`impactreport.render.quarto`, which re-exports it) and for the
version the report states.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Environment variable naming the renderer that runs the report's code (set by ``impactreport render``).
ENGINE_ENV = "IMPACTREPORT_ENGINE"


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


def versions() -> dict[str, str]:
    """Software that made the report (for the provenance section)."""
    found = {"Python": platform.python_version()}
    for package in (
        "impactreport",
        "polars",
        "altair",
        "vl-convert-python",
        "nbclient",
        "pypandoc-binary",
        "typst",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    found["renderer"] = os.environ.get(ENGINE_ENV) or "Quarto"  # unset: quarto render run directly
    return found


def _first_line(arguments: Sequence[str], cwd: Path | None = None, timeout: float = 30) -> str | None:
    """The first line a command prints, None when it cannot run or fails."""
    try:
        done = subprocess.run(
            list(arguments), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def git_commit(root: Path) -> str | None:
    """``git rev-parse HEAD`` in the project folder when it is a git checkout, else None; with
    ``-dirty`` appended (as ``git describe --dirty`` says it) when tracked files differ from that
    commit, so a report made from uncommitted changes does not claim a commit it was not made from."""
    line = _first_line(["git", "rev-parse", "HEAD"], cwd=root)
    if not line or not re.fullmatch(r"[0-9a-f]{40,64}", line):
        return None
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return line
    return f"{line}-dirty" if status.returncode == 0 and status.stdout.strip() else line


def quarto_version() -> str | None:
    """``quarto --version`` of the Quarto found (``$QUARTO_PATH``, else ``PATH``), None without one."""
    binary = find_quarto()
    return _first_line([str(binary), "--version"]) if binary is not None else None


def pandoc_version(renderer: str) -> str | None:
    """The version of the pandoc that renders: Quarto's own (``quarto pandoc --version``) when Quarto
    renders, else the one of pypandoc-binary (the built-in renderer's)."""
    if renderer == "Quarto":
        binary = find_quarto()
        line = _first_line([str(binary), "pandoc", "--version"]) if binary is not None else None
        if line:
            return line.removeprefix("pandoc").strip()
    try:
        import pypandoc

        return str(pypandoc.get_pandoc_version())
    except (ImportError, OSError, RuntimeError):
        return None


@dataclass(frozen=True)
class Tools:
    """What made the report besides the Python packages: the project's commit, Quarto and pandoc."""

    git_commit: str | None
    quarto: str | None
    pandoc: str | None

    def versions(self) -> dict[str, str]:
        """``{"Quarto": …, "pandoc": …}`` for those found (the report's software line)."""
        found = {"Quarto": self.quarto, "pandoc": self.pandoc}
        return {name: value for name, value in found.items() if value}


def tool_versions(root: Path, renderer: str) -> Tools:
    """Ask git (in the project folder), Quarto and pandoc: subprocesses, run beside the pipeline."""
    return Tools(git_commit(root), quarto_version(), pandoc_version(renderer))
