"""Render with the real Quarto CLI when one is installed (``quarto`` on PATH, or ``$QUARTO_PATH``)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from impactreport.errors import InputError
from impactreport.report.reuse import RENDER_ID_ENV, discard
from impactreport.report.software import find_quarto

from .execute import TIMEOUT, Stopped, stoppable

#: Our format names → Quarto's (the PDF comes from Quarto's ``typst`` format).
QUARTO_FORMATS = {"html": "html", "pdf": "typst", "docx": "docx"}
#: Each format's name in progress lines.
LABELS = {"html": "HTML", "pdf": "PDF (Typst)", "docx": "Word (DOCX)"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: The last line of a traceback of the package's user error (``InputError: message``).
_USER_ERROR = re.compile(r"^InputError: (.+)$")
#: The last line of any other traceback (``ZeroDivisionError: division by zero``).
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)(?:: .*)?$")
#: Quarto's progress line for the cell it runs (``Cell 12/40: 'label'...``).
_CELL = re.compile(r"^Cell (\d+)/(\d+)\b")


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


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End Quarto and everything it started (Deno, its Python, the kernel): its whole process group."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _run(arguments: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run Quarto in its own process group; return its exit status and stderr.

    Why a group: Quarto (Deno) starts Python, which starts the kernel. On a timeout, Ctrl-C or SIGTERM
    (which the CLI turns into an exception) the whole group is ended, so nothing outlives the render.
    """
    stopped: list[int] = []

    def stop(signum: int) -> None:
        stopped.append(signum)
        os.killpg(process.pid, signal.SIGTERM)

    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            arguments,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        try:
            with stoppable(stop):
                code = process.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _stop(process)
        errors.seek(0)
        text = errors.read().decode("utf-8", errors="replace")
    if stopped:
        raise Stopped(stopped[0])
    if code is None:
        raise TimeoutError(text)
    return code, text


def failure(stderr: str, source: str, fmt: str) -> InputError:
    """Quarto's stderr after a failed render, as one line.

    A cell's :class:`InputError` is the bare message (as with the built-in renderer); a dead kernel
    says so and which cell it was running; any other cell error names the exception; anything else
    keeps Quarto's last line, with its whole output saved to a log file named in the message.
    """
    text = _ANSI.sub("", stderr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cell = next((m for line in reversed(lines) if (m := _CELL.match(line))), None)
    where = f"{source} (cell {cell.group(1)} of {cell.group(2)})" if cell else source
    user = [m.group(1) for line in lines if (m := _USER_ERROR.match(line))]
    if user:
        return InputError(user[-1])
    if any(line == "Kernel died" or "Kernel died while" in line for line in lines):
        return InputError(f"the report's Python kernel died while Quarto ran {where}")
    if "An error occurred while executing the following cell" in text:
        raised = [line for line in lines if _RAISED.match(line)]
        if raised:
            return InputError(f"{where}: cell failed: {raised[-1]}")
    with tempfile.NamedTemporaryFile(
        "w", prefix="impactreport-quarto-", suffix=".log", delete=False, encoding="utf-8"
    ) as log:
        log.write(stderr)
    last = lines[-1] if lines else "(no output)"
    return InputError(f"quarto render {source} --to {QUARTO_FORMATS[fmt]} failed: {last} (log: {log.name})")


def render_quarto(
    source: Path,
    *,
    to: tuple[str, ...],
    params: dict[str, Any] | None = None,
    output_dir: Path,
    root: Path,
    env: dict[str, str] | None = None,
    binary: Path | None = None,
    timeout: float = TIMEOUT,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Path]:
    """Run ``quarto render`` once per format from the project root; return the files written.

    ``timeout`` bounds all of Quarto's runs together, in seconds; past it Quarto is stopped.
    """
    binary = binary or find_quarto()
    if binary is None:
        raise InputError("quarto not found: install Quarto or set QUARTO_PATH (or use --engine builtin)")
    environment = {**os.environ, **(env or {})}
    environment.setdefault("QUARTO_PYTHON", sys.executable)
    # the formats of this render share one prepared report (impactreport.report.reuse)
    render_id = uuid.uuid4().hex
    environment[RENDER_ID_ENV] = render_id
    try:
        return _render_formats(source, to, params, output_dir, root, environment, binary, timeout, progress)
    finally:
        discard(render_id)


def _render_formats(
    source: Path,
    to: tuple[str, ...],
    params: dict[str, Any] | None,
    output_dir: Path,
    root: Path,
    environment: dict[str, str],
    binary: Path,
    timeout: float,
    progress: Callable[[str], None],
) -> list[Path]:
    """:func:`render_quarto`'s runs, one per format."""
    written: list[Path] = []
    deadline = time.monotonic() + timeout
    relative = source.relative_to(root)
    for fmt in to:
        if fmt not in QUARTO_FORMATS:
            raise InputError(f"unknown output format {fmt!r} (expected html, pdf or docx)")
        target = output_dir / f"{source.stem}.{fmt}"
        progress(f"executing {source.name} and writing {LABELS[fmt]} with Quarto: {target}")
        arguments = command(binary, relative, fmt, params or {}, output_dir)
        try:
            code, stderr = _run(arguments, cwd=root, env=environment, timeout=deadline - time.monotonic())
        except TimeoutError:
            raise InputError(
                f"the report ran longer than {timeout:g} s under Quarto (stopped; see --timeout)"
            ) from None
        if code != 0:
            raise failure(stderr, str(relative), fmt)
        if not target.is_file():
            raise InputError(f"quarto render finished but {target} was not written")
        written.append(target)
    return written
