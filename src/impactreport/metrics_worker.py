"""Worker process for :class:`impactreport.metrics.HtmlMetricsPool`: HTML bodies in, counts out.

A plain ``python -m`` process, not ``multiprocessing``: forking would copy polars' thread pool, and
spawning would re-import the user's ``__main__`` (a script without a main guard, a notebook). It imports
neither polars nor the rest of the package (only :mod:`impactreport.metrics`, whose per-body step needs
selectolax alone), so it starts in a few hundredths of a second: a worker that imported polars spent a
tenth of a second of CPU before its first body, on a machine whose cores the loader is using.

Messages travel over stdin/stdout as length-prefixed parts (:func:`write_parts`): bodies as their
UTF-8 bytes end to end with an array of their lengths; answers as the arrays of
:class:`~impactreport.metrics.Measured`.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from impactreport.metrics import Measured, measure_bodies

if TYPE_CHECKING:
    import polars as pl

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


def main() -> None:
    """Serve chunks until stdin closes."""
    while (bodies := read_bodies(sys.stdin.buffer)) is not None:
        write_answer(sys.stdout.buffer, measure_bodies(bodies))


if __name__ == "__main__":
    main()
