"""Issue 22: ``summary --history`` on many tiny exports, against plain ``summary`` on the same tree.

The tree is bench_many_files.py's (N projects of one small real-shaped export each, under $TMPDIR).
Prints the wall time of ``summary TREE --json``, then ``summary TREE --history --json`` cold (the
history cache removed first) and warm, each a new process, with a private cache folder.

    .venv/bin/python benchmarks/bench_history_many.py [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_many_files import build


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    tree = build(args.files)
    cache = Path(tempfile.mkdtemp(prefix="bench-history-cache-"))
    env = {**os.environ, "IMPACTREPORT_CACHE_DIR": str(cache)}
    command = [str(Path(sys.executable).parent / "impactreport"), "summary", str(tree), "--json"]
    try:
        plain = timed(command, env)
        cold = timed([*command, "--history"], env)
        warm = timed([*command, "--history"], env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(f"{args.files:,} tiny exports: summary {plain:.1f} s; --history cold {cold:.1f} s "
          f"({cold / plain:.1f}x), warm {warm:.1f} s ({warm / plain:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
