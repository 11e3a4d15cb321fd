"""Worker process for :func:`impactreport.metrics.html_metrics`: HTML chunks in, counts out.

Frames travel as length-prefixed Arrow IPC over stdin/stdout. A plain ``python -m`` process, not
``multiprocessing``: forking would copy polars' thread pool, and spawning would re-import the user's
``__main__`` (a script without a main guard, a notebook).
"""

from __future__ import annotations

import io
import sys
from typing import IO

import polars as pl

from impactreport.metrics import chunk_metrics


def read_frame(stream: IO[bytes]) -> pl.DataFrame | None:
    """One length-prefixed Arrow IPC frame, or None at the end of the stream."""
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "little")
    return pl.read_ipc(io.BytesIO(stream.read(size)))


def write_frame(stream: IO[bytes], frame: pl.DataFrame) -> None:
    """Write one frame as length-prefixed Arrow IPC."""
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    data = buffer.getvalue()
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)
    stream.flush()


def main() -> None:
    """Serve chunks until stdin closes."""
    while (frame := read_frame(sys.stdin.buffer)) is not None:
        write_frame(sys.stdout.buffer, chunk_metrics(frame["body_html"]))


if __name__ == "__main__":
    main()
