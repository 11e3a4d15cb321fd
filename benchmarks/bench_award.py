"""Benchmark of issue 19, item 8: award-period numbers on the imported archive, whole process.

On the public Thinklab archive imported with ``fetch archive`` (1,660 daily snapshots; imported into a
temporary folder once, or ``--data PATH`` for an existing store), median wall time over ``--runs`` runs:

- ``plain``: ``summary DATA`` (the newest snapshot of each project);
- ``period``: ``summary DATA --since 2016-09-01 --until 2017-08-31 --compare-previous`` with a warm
  cache (the versioned tables already built), and its ratio to ``plain`` (target ≤ 1.1);
- ``cold``: the same with an empty cache folder each run (target < 15 s);
- ``award``: ``--award-start 2016-09-01 --years 2`` (three periods) against ``period`` (target < 2×).

    .venv/bin/python benchmarks/bench_award.py [--runs 5] [--data PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
EXE = str(Path(sys.executable).parent / "impactreport")
PERIOD = ["--since", "2016-09-01", "--until", "2017-08-31", "--compare-previous"]
AWARD = ["--award-start", "2016-09-01", "--years", "2"]


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, help="an imported archive store (default: import one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            bundle = SHARED / "thinklab" / "archive.bundle"
            if not bundle.exists():
                sys.exit(f"needs {bundle} (../shared)")
            data = Path(tmp) / "data"
            subprocess.run(
                [EXE, "fetch", "archive", "--from", str(bundle), "--data", str(data), "--quiet"], check=True
            )
        env = dict(os.environ, IMPACTREPORT_CACHE_DIR=str(Path(tmp) / "cache"))
        plain = [EXE, "summary", str(data), "--team", "dhimmel", "--json"]
        commands = {"plain": plain, "period": [*plain, *PERIOD], "award": [*plain, *AWARD]}
        for command in commands.values():
            wall(command, env)  # warm-up: builds the cache, fills the file cache
        times: dict[str, list[float]] = {name: [] for name in (*commands, "cold")}
        for run in range(args.runs):
            for name, command in commands.items():
                times[name].append(wall(command, env))
            cold = dict(env, IMPACTREPORT_CACHE_DIR=str(Path(tmp) / f"cold-{run}"))
            times["cold"].append(wall(commands["period"], cold))
        median = {name: statistics.median(values) for name, values in times.items()}
        print(f"plain summary:                 {median['plain']:.2f} s")
        ratio = median["period"] / median["plain"]
        print(f"period + previous, warm cache: {median['period']:.2f} s (ratio {ratio:.2f})")
        print(f"period + previous, cold cache: {median['cold']:.2f} s")
        times_one = median["award"] / median["period"]
        print(f"award years (2 + since start): {median['award']:.2f} s ({times_one:.2f}x one period)")
        print(f"({args.runs} runs each, medians)")


if __name__ == "__main__":
    main()
