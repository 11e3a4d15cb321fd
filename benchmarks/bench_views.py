"""Benchmark: views over time from 400 daily snapshots of the Thinklab archive size (target < 10 s).

``--prepare`` builds the snapshot store once in a temporary folder (never in the repository): the 10
final Thinklab exports copied 400 times as daily snapshots (store layout
``exports/thinklab/<project>/<stamp>.json.gz``), each day's views raised by the day number. The timed
run reads every snapshot's views (``load_views``) and computes the views-over-time frame.

    python benchmarks/bench_views.py --prepare      # once (about a minute)
    python benchmarks/bench_views.py                # the timed run; prints seconds
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
LATEST = SHARED / "thinklab" / "latest"
STORE = Path(tempfile.gettempdir()) / "impactreport-bench-views"
DAYS = 400


def prepare(store: Path = STORE, days: int = DAYS) -> None:
    """Write ``days`` daily snapshots of every project in ``latest/`` into ``store``."""
    start = datetime(2016, 8, 6, 23, 29, 37, tzinfo=UTC)
    views = re.compile(r'("views": )(\d+)')
    retrieved = re.compile(r'"retrieved": "[^"]*"')
    for path in sorted(LATEST.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        folder = store / "exports" / "thinklab" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        for day in range(days):
            when = start + timedelta(days=day)
            body = views.sub(lambda m, d=day: f"{m.group(1)}{int(m.group(2)) + d}", text)
            body = retrieved.sub(f'"retrieved": "{when:%Y-%m-%dT%H:%M:%S.%f}Z"', body)
            target = folder / f"{when:%Y-%m-%dT%H%M%SZ}.json.gz"
            target.write_bytes(gzip.compress(body.encode("utf-8"), compresslevel=6, mtime=0))
    print(f"prepared {days} snapshots x {len(list(LATEST.glob('*.json')))} projects in {store}")


def run(store: Path = STORE) -> float:
    from impactreport.analyses import AnalysisParams
    from impactreport.analyses.views import views_over_time
    from impactreport.history.views import load_views

    start = time.perf_counter()
    series = load_views([store])
    frame = views_over_time(series, None, AnalysisParams())
    elapsed = time.perf_counter() - start
    days = frame.filter(frame["kind"] == "total").height
    print(f"views over time: {series.height:,} rows from {days} snapshot days read in {elapsed:.2f} s")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="build the 400-day snapshot store first")
    parser.add_argument("--store", type=Path, default=STORE)
    args = parser.parse_args()
    if args.prepare or not (args.store / "exports").is_dir():
        if not LATEST.is_dir():
            print(f"needs the Thinklab exports in {LATEST}", file=sys.stderr)
            return 2
        prepare(args.store)
        if args.prepare:
            return 0
    run(args.store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
