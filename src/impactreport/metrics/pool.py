"""The worker pool that measures HTML bodies while the loader reads, and the worker process it feeds.

Large inputs are split across worker processes. A worker is a plain ``python -m impactreport.metrics``
process (:func:`main`, run by the package's ``__main__``), not ``multiprocessing``: forking would copy
polars' thread pool, and spawning would re-import the user's ``__main__`` (a script without a main guard,
a notebook). It imports neither polars nor the rest of the package (only :mod:`impactreport.metrics`,
whose per-body step needs selectolax alone), so it starts in a few hundredths of a second: a worker that
imported polars spent a tenth of a second of CPU before its first body, on a machine whose cores the
loader is using.

Messages travel over stdin/stdout as length-prefixed parts (:func:`write_parts`): bodies as their
UTF-8 bytes end to end with an array of their lengths; answers as the arrays of
:class:`~impactreport.metrics.count.Measured`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from array import array
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from impactreport.metrics.count import Measured, chunk_metrics, measure_bodies, measured_frame

if TYPE_CHECKING:  # imported where used: the worker processes measure HTML without polars
    import polars as pl

#: Below this many posts, starting worker processes costs more than it saves.
PARALLEL_MIN_POSTS = 20_000
#: Bodies per chunk sent to a worker: small enough to start early and balance, large enough to amortise IPC.
CHUNK_POSTS = 8_000
#: About this many bytes of HTML per chunk (a chunk ends after the body that crosses it).
CHUNK_BYTES = 1_000_000

_SIZE = 8  # bytes of a length


def write_parts(stream: IO[bytes], parts: Sequence[bytes]) -> None:
    """One message: the number of parts, each part's length, the parts."""
    header = array("q", [len(parts), *(len(part) for part in parts)])
    stream.write(header.tobytes())
    for part in parts:
        stream.write(part)
    stream.flush()


def read_parts(stream: IO[bytes]) -> list[bytes] | None:
    """One message written by :func:`write_parts`, or None at the end of the stream."""
    head = stream.read(_SIZE)
    if len(head) < _SIZE:
        return None
    count = int.from_bytes(head, sys.byteorder, signed=True)
    lengths = array("q")
    lengths.frombytes(stream.read(_SIZE * count))
    parts = [stream.read(length) for length in lengths]
    if any(len(part) != length for part, length in zip(parts, lengths, strict=True)):
        return None
    return parts


def _integers(values: Sequence[int]) -> bytes:
    return array("q", values).tobytes()


def _from_integers(data: bytes) -> list[int]:
    values = array("q")
    values.frombytes(data)
    return values.tolist()


def _joined(texts: Sequence[str]) -> list[bytes]:
    """Texts as two parts: their UTF-8 byte lengths, and the bytes end to end."""
    encoded = [text.encode("utf-8") for text in texts]
    return [_integers([len(data) for data in encoded]), b"".join(encoded)]


def _split(lengths: bytes, data: bytes) -> list[str]:
    texts = []
    start = 0
    for length in _from_integers(lengths):
        texts.append(data[start : start + length].decode("utf-8"))
        start += length
    return texts


def write_bodies(stream: IO[bytes], bodies: pl.Series) -> None:
    """Send a chunk of bodies (a polars string column without nulls) to a worker.

    The UTF-8 bytes come from polars as they are (a cast to binary), not through Python strings.
    """
    import polars as pl

    lengths = array("q", bodies.str.len_bytes().to_list()).tobytes()
    write_parts(stream, [lengths, b"".join(bodies.cast(pl.Binary).to_list())])


def read_bodies(stream: IO[bytes]) -> list[str] | None:
    """The bodies of one request (in the worker), or None when the stream ends."""
    parts = read_parts(stream)
    return None if parts is None else _split(*parts)


def write_answer(stream: IO[bytes], measured: Measured) -> None:
    """Send what the worker measured."""
    write_parts(
        stream,
        [
            _integers(measured.characters),
            _integers(measured.words),
            bytes(measured.limited),
            _integers(measured.cited_by),
            "\n".join(measured.cited).encode("utf-8"),  # a DOI found in a citation holds no whitespace
            _integers(measured.uncounted),
            *_joined(measured.texts),
        ],
    )


def read_bodies_answer(stream: IO[bytes]) -> Measured | None:
    """A worker's answer to one chunk, or None when it stopped."""
    parts = read_parts(stream)
    if parts is None:
        return None
    characters, words, limited, cited_by, cited, uncounted, lengths, texts = parts
    return Measured(
        characters=_from_integers(characters),
        words=_from_integers(words),
        limited=[bool(flag) for flag in limited],
        cited_by=_from_integers(cited_by),
        cited=cited.decode("utf-8").split("\n") if cited else [],
        uncounted=_from_integers(uncounted),
        texts=_split(lengths, texts),
    )


class HtmlMetricsPool:
    """Html-basis metrics of bodies, computed while the loader is still reading, once per distinct body.

    ``add`` queues the bodies of each batch of files as it is read; with ``parallel`` they go at once,
    in chunks, to worker processes (:func:`main`) that were started before the first file was read, so
    parsing HTML overlaps reading JSON. A worker imports neither polars nor the
    rest of the package (it starts in a few hundredths of a second) and answers with plain arrays
    (:class:`Measured`); the feeding thread turns them into a frame. Results are keyed by a 64-bit hash
    of the body: a body repeated across snapshots or projects is parsed once. ``table`` waits for every
    chunk.
    """

    def __init__(self, *, parallel: bool, workers: int | None = None) -> None:
        count = (workers or min(os.cpu_count() or 1, 8)) if parallel else 1
        self._queue: queue.Queue[tuple[int, pl.Series] | None] = queue.Queue()
        self._keys: list[pl.Series] = []
        self._results: dict[int, pl.DataFrame] = {}
        self._seen: set[int] = set()
        self._errors: list[BaseException] = []
        self._processes: list[subprocess.Popen] = []
        # One feeding thread per worker process; none when serial (``add`` computes in place).
        self._threads = [
            threading.Thread(target=self._serve, daemon=True) for _ in range(count if count > 1 else 0)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self) -> None:
        """Feed one worker process from the queue until the end marker (runs in a thread)."""
        worker = subprocess.Popen(
            [sys.executable, "-m", "impactreport.metrics"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._processes.append(worker)
        assert worker.stdin is not None and worker.stdout is not None
        try:
            while (item := self._queue.get()) is not None:
                index, chunk = item
                write_bodies(worker.stdin, chunk)
                answer = read_bodies_answer(worker.stdout)
                if answer is None:
                    raise RuntimeError("text metrics worker stopped unexpectedly")
                self._results[index] = measured_frame(answer)
        except BaseException as error:  # reported by table(); the other workers finish the queue
            self._errors.append(error)
        finally:
            with contextlib.suppress(OSError):  # a killed worker (loading failed) has closed its pipe
                worker.stdin.close()
            worker.wait()

    def add(self, htmls: pl.Series) -> None:
        """Queue the bodies not seen before, in chunks of at most :data:`CHUNK_POSTS` and about
        :data:`CHUNK_BYTES` (small enough for every worker to get some early)."""
        import polars as pl

        frame = pl.DataFrame({"hash": body_hash(htmls), "body": htmls.fill_null("")})
        frame = frame.unique("hash", keep="first", maintain_order=True)
        # A Python set, not `is_in` against everything seen: that would rebuild a hash table of all
        # earlier bodies for every file (quadratic over hundreds of snapshots).
        hashes = frame["hash"].to_list()
        new = [key not in self._seen for key in hashes]
        self._seen.update(hashes)
        frame = frame.filter(pl.Series(new, dtype=pl.Boolean))
        if frame.is_empty():
            return
        # A chunk ends where the running byte count or the row count crosses a multiple of its limit.
        chunk = (pl.col("body").str.len_bytes().cum_sum() // CHUNK_BYTES) + (
            pl.int_range(pl.len()) // CHUNK_POSTS
        )
        starts = frame.select((chunk.diff().fill_null(1) != 0).arg_true()).to_series().to_list()
        for start, end in zip(starts, [*starts[1:], frame.height], strict=True):
            part = frame.slice(start, end - start)
            index = len(self._keys)
            self._keys.append(part["hash"])
            if self._threads:
                self._queue.put((index, part["body"]))
            else:
                self._results[index] = chunk_metrics(part["body"])

    def table(self) -> pl.DataFrame:
        """``hash``, ``characters``, ``words``, ``html_dois``, ``html_limited`` of every body added."""
        import polars as pl

        self.close()
        if self._errors:
            raise RuntimeError(f"text metrics failed: {self._errors[0]}") from self._errors[0]
        if len(self._results) != len(self._keys):
            raise RuntimeError("text metrics workers did not answer for every chunk")
        if not self._keys:
            return chunk_metrics(pl.Series([], dtype=pl.String)).with_columns(
                pl.Series("hash", [], dtype=pl.UInt64)
            )
        return pl.concat(
            [self._results[i].with_columns(self._keys[i].alias("hash")) for i in range(len(self._keys))]
        )

    def close(self) -> None:
        """Stop the workers (after the queued chunks are done)."""
        if any(thread.is_alive() for thread in self._threads):
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()

    def __enter__(self) -> HtmlMetricsPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            for process in self._processes:
                process.kill()
        self.close()


def body_hash(htmls: pl.Series) -> pl.Series:
    """The key of a body in :class:`HtmlMetricsPool` (same seeds everywhere in one process)."""

    return htmls.fill_null("").hash(seed=0x1B873593)


def html_metrics(htmls: pl.Series, *, pool: HtmlMetricsPool | None = None) -> pl.DataFrame:
    """``characters``, ``words``, ``html_dois``, ``html_limited`` of HTML bodies, in order (from ``pool``)."""

    if pool is None:
        with HtmlMetricsPool(parallel=htmls.len() >= PARALLEL_MIN_POSTS) as own:
            own.add(htmls)
            return html_metrics(htmls, pool=own)
    keys = body_hash(htmls).alias("hash").to_frame()
    return keys.join(pool.table(), on="hash", how="left", maintain_order="left").drop("hash")


def main() -> None:
    """Serve chunks until stdin closes (the worker process)."""
    while (bodies := read_bodies(sys.stdin.buffer)) is not None:
        write_answer(sys.stdout.buffer, measure_bodies(bodies))
