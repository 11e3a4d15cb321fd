"""Issue 22: ``summary --history`` on many tiny exports, against plain ``summary`` on the same tree.

The tree is bench_many_files.py's (N projects of one small real-shaped export each, under $TMPDIR).
Prints the wall time of ``summary TREE --json``, then ``summary TREE --history --json`` cold (the
history cache removed first) and warm, each a new process, with a private cache folder; with ``--runs
N``, the three are run in turn N times (paired: a busy moment slows all three) and the medians and the
median ratios are printed.

    .venv/bin/python benchmarks/bench_history_many.py [--files 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    tree = build(args.files)
    cache = Path(tempfile.mkdtemp(prefix="bench-history-cache-"))
    env = {**os.environ, "IMPACTREPORT_CACHE_DIR": str(cache)}
    command = [str(Path(sys.executable).parent / "impactreport"), "summary", str(tree), "--json"]
    runs: list[tuple[float, float, float]] = []
    try:
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            plain = timed(command, env)
            cold = timed([*command, "--history"], env)
            warm = timed([*command, "--history"], env)
            runs.append((plain, cold, warm))
            print(f"  summary {plain:.1f} s, --history cold {cold:.1f} s, warm {warm:.1f} s", flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    plain, cold, warm = (statistics.median(run[i] for run in runs) for i in range(3))
    cold_ratio = statistics.median(run[1] / run[0] for run in runs)
    warm_ratio = statistics.median(run[2] / run[0] for run in runs)
    print(f"{args.files:,} tiny exports, median of {len(runs)}: summary {plain:.1f} s; --history cold "
          f"{cold:.1f} s ({cold_ratio:.2f}x), warm {warm:.1f} s ({warm_ratio:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
