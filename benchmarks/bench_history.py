"""Benchmark: the versioned tables of an imported archive, cold, then ``summary --history`` after one
more snapshot (targets: cold < 20 s and < 1 GB; warm < 3 s).

Usage: ``python benchmarks/bench_history.py DATA`` where ``DATA`` holds ``exports/`` written by
``impactreport fetch archive --from ../shared/thinklab/archive.bundle --data DATA``. The cache under
``DATA/exports/.history`` is removed first; one snapshot (a copy of the newest rephetio export under a
later stamp) is added for the warm run and removed afterwards.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main(data: Path) -> None:
    exports = data / "exports"
    shutil.rmtree(exports / ".history", ignore_errors=True)
    command = [
        str(Path(sys.executable).parent / "impactreport"),
        "summary",
        str(exports),
        "--history",
        "--json",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    cold = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    folder = exports / "thinklab" / "rephetio"
    newest = sorted(folder.glob("*.json.gz"))[-1]
    extra = folder / "2099-01-01T000000Z.json.gz"
    shutil.copyfile(newest, extra)
    try:
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        warm = time.perf_counter() - started
    finally:
        extra.unlink()
    print(f"cold summary --history: {cold:.1f} s, peak {peak:.0f} MB; after one more snapshot: {warm:.1f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data"))
