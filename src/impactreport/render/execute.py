"""Run a parsed ``.qmd`` in a Jupyter kernel, as Quarto's Jupyter engine does, and collect the outputs.

The cells become an nbformat notebook; ``-P`` parameters are injected after the cell tagged
``parameters`` by papermill itself (so the result is what ``quarto render -P`` gives); nbclient runs the
notebook in a ``python3`` kernel started from *this* interpreter (a temporary kernelspec, so a stale
user-level ``python3`` kernelspec pointing at another Python cannot be picked up). Inline
`` `{python} expr` `` expressions become one hidden cell each, placed where their markdown is.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from papermill.parameterize import parameterize_notebook

from impactreport.errors import InputError

from .qmd import Cell, Markdown, QmdDocument

KERNEL_NAME = "python3"
_BLOCK_KEY = "impactreport_block"


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


def _kernel_manager(spec_dir: Path) -> KernelManager:
    """A kernel manager whose only ``python3`` kernelspec runs ``sys.executable``."""
    kernel_dir = spec_dir / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _failure(
    notebook: nbformat.NotebookNode, document: QmdDocument, name: str, error: Exception
) -> InputError:
    """One line naming the .qmd line of the cell that failed and the Python error."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                index = cell.metadata.get(_BLOCK_KEY)
                block = document.blocks[index] if index is not None else None
                where = f"{name}:{block.line}" if isinstance(block, Cell) else name
                return InputError(f"{where}: cell failed: {output['ename']}: {output['evalue']}")
    return InputError(f"{name}: execution failed: {str(error).strip().splitlines()[-1]}")


def execute(
    document: QmdDocument,
    parameters: dict[str, Any],
    *,
    cwd: Path,
    name: str = "<qmd>",
    env: dict[str, str] | None = None,
    timeout: int = 900,
) -> list[ExecutedBlock]:
    """Run the document's code in a fresh kernel (working directory ``cwd``) and pair blocks with outputs."""
    notebook = inject_parameters(build_notebook(document), parameters)
    with tempfile.TemporaryDirectory(prefix="impactreport-kernel-") as spec_dir:
        client = NotebookClient(
            notebook,
            km=_kernel_manager(Path(spec_dir)),
            timeout=timeout,
            resources={"metadata": {"path": str(cwd)}},
        )
        # The kernel's own log (e.g. "running over TCP without encryption") goes to a file, shown only
        # when the kernel itself fails.
        log_path = Path(spec_dir) / "kernel.log"
        with log_path.open("wb") as log:
            try:
                client.execute(env={**os.environ, **(env or {})}, stderr=log)
            except CellExecutionError as error:
                raise _failure(notebook, document, name, error) from None
            except Exception as error:  # the kernel died or never started
                lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
                detail = lines[-1] if lines else str(error) or type(error).__name__
                raise InputError(f"{name}: the Jupyter kernel failed: {detail}") from None
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
