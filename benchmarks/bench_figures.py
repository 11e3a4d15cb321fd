"""Benchmark: the data behind every figure for 1,000,000 demo posts (target < 10 s).

``--prepare`` writes the demo exports (``impactreport.demo.write_demo``, 1,000,000 posts) and loads
them once, keeping the loaded tables as Parquet in a temporary folder (never in the repository):
loading is the loader's own benchmark. The timed run reads those tables and computes every figure's
frame (``compute_all``: imbalance, histogram, densities, contributors, streams, cumulative, views),
then builds the altair charts from them (``build_all``), and prints both times.

    python benchmarks/bench_figures.py --prepare    # once (a few minutes)
    python benchmarks/bench_figures.py              # the timed run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(tempfile.gettempdir()) / "impactreport-bench-figures"
POSTS = 1_000_000
TABLES = ("profiles", "documents", "threads", "comments", "notes", "posts", "snapshots")


def prepare(root: Path = ROOT, posts: int = POSTS) -> None:
    from impactreport.demo import write_demo
    from impactreport.load import load_dataset

    exports = root / "demo"
    if not (exports / "exports").is_dir():
        write_demo(exports, posts=posts, seed=7, snapshots=2)
    start = time.perf_counter()
    dataset = load_dataset([exports])
    print(f"loaded {dataset.posts.height:,} posts in {time.perf_counter() - start:.1f} s")
    tables = root / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        getattr(dataset, name).write_parquet(tables / f"{name}.parquet")


def run(root: Path = ROOT) -> float:
    from impactreport.analyses import AnalysisParams
    from impactreport.figures import build_all, compute_all
    from impactreport.schema import Dataset

    tables = root / "tables"
    dataset = Dataset(**{name: pl.read_parquet(tables / f"{name}.parquet") for name in TABLES})
    start = time.perf_counter()
    frames = compute_all(dataset, AnalysisParams())
    computed = time.perf_counter() - start
    charts = build_all(frames, AnalysisParams())
    specs = {name: chart.to_dict() for name, chart in charts.items()}
    built = time.perf_counter() - start - computed
    rows = sum(frame.height for frame in frames.values())
    print(
        f"figure data for {dataset.posts.height:,} posts: {computed:.2f} s "
        f"({rows:,} rows in {len(frames)} frames); "
        f"chart specs: {built:.2f} s ({len(specs)} charts)"
    )
    return computed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="write and load the demo exports first")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    if args.prepare or not (args.root / "tables" / "posts.parquet").is_file():
        prepare(args.root)
        if args.prepare:
            return 0
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
