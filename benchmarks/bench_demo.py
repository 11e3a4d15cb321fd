"""Benchmark: ``impactreport demo --posts 1000000``, with the demo's writer or with a plain gzip writer.

Why: the issue asked for the hand-written export writer to be replaced by ``json.dumps`` + ``gzip``
unless a benchmark shows it is needed. ``--writer plain`` swaps in that writer: every snapshot file is a
``gzip.GzipFile`` (mtime 0) that compresses its whole text, each batch of rows serialised once and
written to every file that holds it, two files compressing at a time. ``--writer shared`` (the default)
is :mod:`impactreport.demo.writer`: each batch is deflated once and its blocks appended to every file.
Both give the same JSON text (checked with ``--check``: the decompressed files are compared).

    python benchmarks/bench_demo.py --posts 1000000                  # the demo's writer
    python benchmarks/bench_demo.py --posts 1000000 --writer plain   # json + GzipFile per snapshot
    /usr/bin/time -v python benchmarks/bench_demo.py ...             # whole-process figures

Measured on 2 cores, medians of 5 alternating runs of the whole command: plain 60.9 s wall (50.3 s CPU)
against 22.1 s (18.8 s CPU) for the former hand-written writer (templates, shared deflate pieces, CRC-32
combined in GF(2)); the present writer (JSON from the ``json`` module's encoders, shared deflate pieces,
CRC-32 from ``zlib.crc32``) 27.4 s (33.6 s CPU) against 19.1 s (20.9 s CPU) for the former one.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from impactreport.demo import build as demo_build
from impactreport.demo import build_demo
from impactreport.demo import writer as demo_writer


def plain_write_snapshots(paths: Sequence[Path], members: Mapping[str, demo_writer.Member]) -> None:
    """Every snapshot through its own ``gzip.GzipFile`` (the same text as the demo's writer)."""
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=2) as pool:
        raws = [stack.enter_context(open(path, "wb")) for path in paths]
        files = [
            stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1))
            for raw in raws
        ]

        def each(targets: Sequence[gzip.GzipFile], texts: Sequence[str]) -> None:
            list(pool.map(lambda pair: pair[0].write(pair[1].encode()), zip(targets, texts, strict=True)))

        for index, key in enumerate(sorted(members)):
            member = members[key]
            lead = "{" if index == 0 else ","
            each(files, [f"{lead}\n  {demo_writer._ENCODER.encode(key)}: "] * len(files))
            if isinstance(member, demo_writer.Growing):
                each(files, ["[" if count else "[]" for count in member.counts])
                done = 0
                for first, count in enumerate(member.counts):
                    for start in range(done, count, demo_writer.BATCH):
                        rows = member.rows(start, min(count, start + demo_writer.BATCH))
                        text = ",".join(map(demo_writer._row, rows))
                        each(files[first:], ["," + text if start else text] * (len(files) - first))
                    done = max(done, count)
                each(files, ["\n  ]" if count else "" for count in member.counts])
            else:
                each(files, [demo_writer._member(member(k)) for k in range(len(files))])
        each(files, ["\n}"] * len(files))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--writer", choices=("shared", "plain"), default="shared")
    parser.add_argument("--out", type=Path, help="folder to write (default: a temporary one, removed)")
    parser.add_argument("--check", action="store_true", help="also write with the other writer and compare")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="impactreport-bench-demo-"))
    if args.writer == "plain":
        demo_build.write_snapshots = plain_write_snapshots
    start, cpu = time.perf_counter(), cpu_seconds()
    result = build_demo(out, posts=args.posts)
    wall, used = time.perf_counter() - start, cpu_seconds() - cpu
    size = sum(path.stat().st_size for path in result.paths)
    print(
        f"{args.writer}: {args.posts:,} posts, {len(result.paths)} files, {size / 1e6:,.0f} MB "
        f"in {wall:.1f} s wall, {used:.1f} s CPU"
    )
    if args.check:
        other = Path(tempfile.mkdtemp(prefix="impactreport-bench-demo-other-"))
        demo_build.write_snapshots = (
            demo_writer.write_snapshots if args.writer == "plain" else plain_write_snapshots
        )
        build_demo(other, posts=args.posts)
        for path in result.paths:
            twin = other / path.relative_to(out)
            assert gzip.decompress(path.read_bytes()) == gzip.decompress(twin.read_bytes()), path
        print("same JSON text from both writers")
        shutil.rmtree(other)
    if args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
