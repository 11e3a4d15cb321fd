"""Benchmark of issue 13, item 8: `summary --since/--until` against plain `summary`, whole process.

Two inputs from ../shared/thinklab: the final exports (`latest/`, one snapshot per project) and the 21
snapshot sets (`snapshots/`, where a period also reads every snapshot's views to give views gained).
Prints the median wall time of each command over ``--runs`` runs, run in turn, and the ratio.

    .venv/bin/python benchmarks/bench_period.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
EXE = str(Path(sys.executable).parent / "impactreport")
PERIOD = ["--since", "2016-09-01", "--until", "2017-08-31"]


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    for name in ("latest", "snapshots"):
        path = SHARED / "thinklab" / name
        if not path.is_dir():
            sys.exit(f"needs {path} (../shared)")
        plain = [EXE, "summary", str(path), "--json"]
        period = [*plain, *PERIOD]
        wall(plain)  # warm-up: file cache, imports
        times: dict[str, list[float]] = {"plain": [], "period": []}
        for _ in range(runs):
            times["plain"].append(wall(plain))
            times["period"].append(wall(period))
        a, b = statistics.median(times["period"]), statistics.median(times["plain"])
        print(f"{name}: with a period {a:.2f} s, without {b:.2f} s, ratio {a / b:.2f} ({runs} runs)")


if __name__ == "__main__":
    main()
