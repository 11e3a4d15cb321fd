"""Run a parsed ``.qmd`` in a Jupyter kernel, as Quarto's Jupyter engine does, and collect the outputs.

The cells become an nbformat notebook; ``-P`` parameters are injected after the cell tagged
``parameters`` by papermill itself (so the result is what ``quarto render -P`` gives); nbclient runs the
notebook in a ``python3`` kernel started from *this* interpreter (a temporary kernelspec, so a stale
user-level ``python3`` kernelspec pointing at another Python cannot be picked up). Inline
`` `{python} expr` `` expressions become one hidden cell each, placed where their markdown is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from papermill.parameterize import parameterize_notebook

from impactreport.errors import InputError

from .qmd import Cell, Markdown, QmdDocument

KERNEL_NAME = "python3"
_BLOCK_KEY = "impactreport_block"
#: Seconds the report's code may run in all (the ``--timeout`` default).
TIMEOUT = 1800
#: Exceptions a cell raises for the user to act on: shown as their bare message.
USER_ERRORS = frozenset({"InputError"})
#: Kernel log lines that say nothing about why it failed.
_LOG_NOISE = ("Kernel is running over TCP without encryption", "stack backtrace:", "note: Some details")


class Stopped(Exception):
    """The render was stopped by a signal (SIGTERM): the CLI says so and exits ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


#: How to stop what is running now (the kernel, Quarto's process group): see :func:`stop_running`.
_RUNNING: list[Callable[[int], None]] = []


@contextlib.contextmanager
def stoppable(stop: Callable[[int], None]) -> Iterator[None]:
    """Register ``stop`` (called with the signal number) for :func:`stop_running` while the block runs."""
    _RUNNING.append(stop)
    try:
        yield
    finally:
        _RUNNING.remove(stop)


def stop_running(signum: int) -> bool:
    """Stop every running kernel or Quarto; False when nothing was running.

    The CLI's SIGTERM handler calls this: killing the child makes the render end at once through its
    error path (as :class:`Stopped`). Safe in a signal handler: it only sends signals.
    """
    for stop in list(_RUNNING):
        with contextlib.suppress(Exception):
            stop(signum)
    return bool(_RUNNING)


@dataclass(frozen=True)
class ExecutedBlock:
    """A block of the document with what running it produced.

    For a cell, ``outputs`` are its nbformat outputs. For markdown with inline expressions,
    ``inline_values`` are the expressions' values as text, in order.
    """

    block: Markdown | Cell
    outputs: tuple[dict[str, Any], ...] = ()
    inline_values: tuple[str, ...] = ()


def _inline_code(expressions: tuple[str, ...]) -> str:
    values = ", ".join(f"str(({expression}))" for expression in expressions)
    return f"print(__import__('json').dumps([{values}]))"


def build_notebook(document: QmdDocument) -> nbformat.NotebookNode:
    """The notebook Quarto would run: one code cell per cell, plus one per markdown with inline code."""
    cells = []
    for index, block in enumerate(document.blocks):
        if isinstance(block, Cell):
            tags = block.options.get("tags") or []
            cell = nbformat.v4.new_code_cell(block.code, metadata={"tags": list(tags), _BLOCK_KEY: index})
        elif block.inline:
            cell = nbformat.v4.new_code_cell(
                _inline_code(block.inline), metadata={"tags": [], _BLOCK_KEY: index}
            )
        else:
            continue
        cells.append(cell)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "language": "python", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata["papermill"] = {}
    return notebook


def inject_parameters(notebook: nbformat.NotebookNode, parameters: dict[str, Any]) -> nbformat.NotebookNode:
    """Papermill's own injection: a cell tagged ``injected-parameters`` after the ``parameters`` cell."""
    if not parameters:
        return notebook
    return parameterize_notebook(notebook, parameters, kernel_name=KERNEL_NAME, language="python")


def _kernel_manager(spec_dir: Path) -> AsyncKernelManager:
    """A kernel manager whose only ``python3`` kernelspec runs ``sys.executable``."""
    kernel_dir = spec_dir / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True)
    spec = {
        # native libraries write to the real stderr (the kernel log), so a crash's last words survive it
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "--IPKernelApp.capture_fd_output=False",
            "-f",
            "{connection_file}",
        ],
        "display_name": "Python 3",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir / "kernels")], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _one_line(text: str) -> str:
    """Messages reach the user as one line: a multi-line ``evalue`` is joined with spaces."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _where(cell: nbformat.NotebookNode | None, document: QmdDocument, name: str) -> str:
    """``index.qmd:27`` for a cell of the document (the file alone for inline code or unknown cells)."""
    index = cell.metadata.get(_BLOCK_KEY) if cell is not None else None
    block = document.blocks[index] if index is not None else None
    return f"{name}:{block.line}" if isinstance(block, Cell) else name


def _failure(
    notebook: nbformat.NotebookNode, document: QmdDocument, name: str, error: Exception
) -> InputError:
    """The error a cell raised, as one line.

    An :class:`InputError` raised by the package (bad data, a bad parameter) is the user's to fix and
    reaches them as its bare message, as the same error does from ``summary`` or ``figures``. Any other
    exception is a defect of the report's code: the line names the ``.qmd`` line of the cell.
    """
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if output.get("ename") in USER_ERRORS:
                    return InputError(_one_line(output["evalue"]))
                where = _where(cell, document, name)
                return InputError(_one_line(f"{where}: cell failed: {output['ename']}: {output['evalue']}"))
    return InputError(f"{name}: execution failed: {_one_line(str(error).strip().splitlines()[-1])}")


def _signal_name(code: int | None) -> str:
    """``killed by SIGKILL`` for a negative exit status, ``exit status 3`` otherwise."""
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _last_words(text: str) -> str:
    """What a dying process said that is worth one line: a Rust panic's message, else its last line."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not any(noise in line for noise in _LOG_NOISE)]
    for number, line in enumerate(lines):
        if "panicked at" in line and number + 1 < len(lines):
            return lines[number + 1]
    return lines[-1] if lines else ""


def _kernel_detail(log_path: Path, cell: nbformat.NotebookNode | None = None) -> str:
    """The kernel's last words: what the running cell wrote to stderr (ipykernel captures native
    libraries' stderr there), else the kernel's own log."""
    streams = [
        output.get("text", "")
        for output in (cell.get("outputs", []) if cell is not None else [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    ]
    if words := _last_words("".join(streams)):
        return words
    try:
        return _last_words(log_path.read_text(errors="replace"))
    except OSError:
        return ""


@dataclass
class _Watch:
    """What the hooks saw: the kernel process, the cell running, and whether the deadline struck."""

    process: Any = None
    cell: nbformat.NotebookNode | None = None
    timer: threading.Timer | None = None
    expired: bool = False
    signalled: int | None = None

    def stop(self, signum: int) -> None:
        """A signal (SIGINT, SIGTERM) asks the render to stop: kill the kernel, remember why."""
        self.signalled = signum
        self.kill(wait=False)

    def kill(self, *, expired: bool = False, wait: bool = True) -> None:
        """SIGKILL the kernel (the deadline passed, the render is stopped or being abandoned)."""
        self.expired = self.expired or expired
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.kill()
                if wait:
                    process.wait(timeout=5)


def _client(
    notebook: nbformat.NotebookNode, km: AsyncKernelManager, cwd: Path, watch: _Watch, timeout: int
) -> NotebookClient:
    """A notebook client whose hooks tell ``watch`` the kernel process and the cell running."""

    def started(**_: Any) -> None:
        provisioner = km.provisioner
        watch.process = getattr(provisioner, "process", None)
        watch.timer = threading.Timer(timeout, watch.kill, kwargs={"expired": True})
        watch.timer.daemon = True
        watch.timer.start()

        # nbclient's own SIGINT/SIGTERM handlers shut the kernel down politely and then report a dead
        # kernel; ours kill it and say the render was stopped
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, watch.stop, signum)

    def running(cell: nbformat.NotebookNode, **_: Any) -> None:
        watch.cell = cell

    return NotebookClient(
        notebook,
        km=km,
        timeout=timeout,
        resources={"metadata": {"path": str(cwd)}},
        on_notebook_start=started,
        on_cell_execute=running,
    )


def _signal_handlers() -> dict[int, Any]:
    """The SIGINT/SIGTERM handlers now (nbclient resets them to the default when it is done)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}


def _restore(handlers: dict[int, Any]) -> None:
    for signum, handler in handlers.items():
        if handler is not None:
            signal.signal(signum, handler)


def _died(
    watch: _Watch, document: QmdDocument, name: str, log_path: Path, timeout: int, error: Exception
) -> Exception:
    """One line for a kernel that died or was stopped: why, in which cell, and its last words."""
    if watch.signalled == signal.SIGINT:
        return KeyboardInterrupt()  # type: ignore[return-value]
    if watch.signalled is not None:
        return Stopped(watch.signalled)
    where = _where(watch.cell, document, name)
    if watch.expired or isinstance(error, CellTimeoutError):
        return InputError(f"the report ran longer than {timeout} s (stopped in {where}; see --timeout)")
    code = watch.process.poll() if watch.process is not None else None
    detail = _kernel_detail(log_path, watch.cell)
    message = f"the report's Python kernel died ({_signal_name(code)}) while running {where}"
    return InputError(_one_line(f"{message}: {detail}" if detail else message))


def execute(
    document: QmdDocument,
    parameters: dict[str, Any],
    *,
    cwd: Path,
    name: str = "<qmd>",
    env: dict[str, str] | None = None,
    timeout: int = TIMEOUT,
) -> list[ExecutedBlock]:
    """Run the document's code in a fresh kernel (working directory ``cwd``) and pair blocks with outputs.

    ``timeout`` bounds the whole run in seconds (and so every cell): past it the kernel is killed. A
    kernel that dies (killed, out of memory, a native library aborting) ends the run at once with one
    line naming the cell that was running; the kernel never outlives this call, even when it is
    interrupted (Ctrl-C, SIGTERM turned into an exception by the CLI).
    """
    notebook = inject_parameters(build_notebook(document), parameters)
    watch = _Watch()
    with tempfile.TemporaryDirectory(prefix="impactreport-kernel-") as spec_dir:
        km = _kernel_manager(Path(spec_dir))
        client = _client(notebook, km, cwd, watch, timeout)
        # The kernel's own log (e.g. "running over TCP without encryption") goes to a file, shown only
        # when the kernel itself fails.
        log_path = Path(spec_dir) / "kernel.log"
        with log_path.open("wb") as log:
            handlers = _signal_handlers()
            try:
                with stoppable(watch.stop):
                    client.execute(env={**os.environ, **(env or {})}, stderr=log)
            except CellExecutionError as error:
                raise _failure(notebook, document, name, error) from None
            except (DeadKernelError, CellTimeoutError) as error:
                raise _died(watch, document, name, log_path, timeout, error) from None
            except Exception as error:  # the kernel never started
                detail = _kernel_detail(log_path) or _one_line(str(error)) or type(error).__name__
                raise InputError(f"{name}: the Jupyter kernel failed: {detail}") from None
            finally:
                if watch.timer is not None:
                    watch.timer.cancel()
                watch.kill()
                _restore(handlers)
    by_block = {cell.metadata[_BLOCK_KEY]: cell for cell in notebook.cells if _BLOCK_KEY in cell.metadata}
    executed: list[ExecutedBlock] = []
    for index, block in enumerate(document.blocks):
        cell = by_block.get(index)
        if isinstance(block, Cell):
            outputs = tuple(cell.get("outputs", [])) if cell is not None else ()
            executed.append(ExecutedBlock(block=block, outputs=outputs))
        elif block.inline and cell is not None:
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
            executed.append(ExecutedBlock(block=block, inline_values=tuple(json.loads(text))))
        else:
            executed.append(ExecutedBlock(block=block))
    return executed
