"""Benchmark: the versioned tables of an imported archive, cold, then ``summary --history`` after one
more snapshot (targets: cold < 20 s and < 1 GB; warm < 3 s).

Usage: ``python benchmarks/bench_history.py DATA`` where ``DATA`` holds ``exports/`` written by
``impactreport fetch archive --from ../shared/thinklab/archive.bundle --data DATA``. The history
cache of ``DATA/exports`` (in the cache folder) is removed first; one snapshot (a copy of the
newest rephetio export under a later stamp) is added before each warm run (``summary --history``,
then ``figures``, each 3 times) and all are removed afterwards, with the cache.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from impactreport.history.cache import cache_dir


def _run(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main(data: Path, runs: int = 3) -> None:
    exports = data / "exports"
    shutil.rmtree(cache_dir(exports), ignore_errors=True)
    exe = str(Path(sys.executable).parent / "impactreport")
    summary = [exe, "summary", str(exports), "--history", "--json"]
    cold = _run(summary)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    folder = exports / "thinklab" / "rephetio"
    newest = sorted(folder.glob("*.json.gz"))[-1]
    added: list[Path] = []
    timings: dict[str, list[float]] = {"summary --history": [], "figures": []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-history-") as out:
            figures = [exe, "figures", str(exports), "--out", out]
            _run(figures)  # the figures' own output folder warm, as in daily use
            for index in range(runs):
                for name, command in (("summary --history", summary), ("figures", figures)):
                    extra = folder / f"2099-01-{index + 1:02d}T{len(added):06d}Z.json.gz"
                    shutil.copyfile(newest, extra)
                    added.append(extra)
                    timings[name].append(_run(command))
    finally:
        for extra in added:
            extra.unlink()
        shutil.rmtree(cache_dir(exports), ignore_errors=True)
    print(f"cold summary --history: {cold:.1f} s, peak {peak:.0f} MB")
    for name, values in timings.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name} after one more snapshot: median {statistics.median(values):.2f} s ({shown})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data"))
