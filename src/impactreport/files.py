"""Writing output files so a reader never sees half of one.

Every output (figures, CSVs, the rendered report) goes through :func:`write_atomic`: a hidden temporary file
in the same folder (ignored by the loader and by anyone listing outputs), then a rename over the target. A
failed write leaves the previous file in place. Snapshots, which must never be replaced, have their own
stricter writer in :mod:`impactreport.fetch.store`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
