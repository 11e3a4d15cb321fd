"""One prepared report shared by the formats of one render, so Quarto's second and third run skip the work.

Why: Quarto executes the report once per output format (HTML, PDF, Word), each in a fresh kernel, and
every run computed the same numbers and figures again (about 5 s of each run on the award-year report
of the archive). ``impactreport render`` gives the runs of one render a random id
(``IMPACTREPORT_RENDER_ID``); the first run saves its :class:`~impactreport.report.assemble.Report` in
the user's cache folder under that id, the next ones load it when everything that shaped it is the same
(parameters, project and output folders, prepared-on date, package version and source files) and every
file it names still exists; the render removes it at the end. Without an id (``quarto render`` run by
hand) nothing is saved or reused.

The file is a pickle, read only from the private cache folder (mode 0o700, files 0o600, no link
followed) and only under an id this render made: nothing from the data or another user is unpickled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impactreport.files import read_regular, write_atomic
from impactreport.memo import code_signature

if TYPE_CHECKING:
    from impactreport.report.assemble import Report

#: Set by ``impactreport render`` for the Quarto runs of one render (32 hex digits).
RENDER_ID_ENV = "IMPACTREPORT_RENDER_ID"
_RENDER_ID = re.compile(r"^[0-9a-f]{32}$")
#: The cache folder's sub-folder of prepared reports.
FOLDER = "reports"
#: A prepared report is far smaller; a larger file is not ours.
MAX_BYTES = 1 << 30


def _where(render_id: str | None = None) -> Path | None:
    """The file of a render's prepared report (this process's render by default), or None outside a
    render that asked for reuse."""
    render_id = os.environ.get(RENDER_ID_ENV, "") if render_id is None else render_id
    if not _RENDER_ID.match(render_id):
        return None
    from impactreport.cache_home import cache_home

    return cache_home() / FOLDER / f"{render_id}.pickle"


def key_of(params: Any, root: Path, output: Path, prepared: Any) -> str:
    """What a prepared report depends on besides the data (the render id scopes it to one render)."""
    shape = {
        "params": json.dumps(dataclasses.asdict(params), default=str, sort_keys=True),
        "root": str(root.resolve()),
        "output": str(output.resolve()),
        "prepared": str(prepared),
        "code": code_signature(),  # version, sources and the versions that shape a number
        "env": {name: value for name, value in sorted(os.environ.items()) if name.startswith("IMPACTREPORT_")
                and name != RENDER_ID_ENV},
    }  # fmt: skip
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def load(key: str) -> Report | None:
    """This render's prepared report when it was made under ``key`` and its files are all there."""
    where = _where()
    if where is None or not where.is_file() or where.is_symlink():
        return None
    try:
        saved_key, report = pickle.loads(read_regular(where, "prepared report", MAX_BYTES))
    except Exception:  # damaged or of another version: prepare afresh
        return None
    if saved_key != key:
        return None
    named = [*report.figures.values(), *report.outputs.values()]
    if not all(Path(path).is_file() for path in named):
        return None
    return report


def save(key: str, report: Report) -> None:
    """Keep ``report`` for the next formats of this render (a failure only costs the reuse)."""
    where = _where()
    if where is None:
        return
    from impactreport.cache_home import private_folder

    if private_folder(FOLDER) is None:
        return
    with contextlib.suppress(OSError, pickle.PicklingError, TypeError, AttributeError):
        write_atomic(where, pickle.dumps((key, report), protocol=pickle.HIGHEST_PROTOCOL), mode=0o600)


def discard(render_id: str) -> None:
    """Remove a render's prepared report (the render calls this when its last format is written)."""
    where = _where(render_id)
    if where is not None:
        with contextlib.suppress(OSError):
            where.unlink()
