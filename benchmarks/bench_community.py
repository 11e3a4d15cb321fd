"""Benchmark: community health for 1,000,000 demo posts from the loaded tables (target < 5 s).

What is timed (loading is not: it is the loader's own benchmark): time to first response, new and
returning contributors and the absence factor, per project and overall (the queries ``summarise`` adds,
:func:`impactreport.stats._community`), plus the frames of the ``first-response`` and
``contributors-over-time`` figures; once for all the data and once for a one-year period (restricted
tables, all-time ``history``). For context it also times the whole ``summarise`` (every statistic).

``--prepare`` loads the demo exports once (``impactreport demo DIR --posts 1000000`` writes them; this
script writes them itself when DIR holds none) and keeps the loaded tables as Parquet in a temporary
folder (never in the repository).

    impactreport demo /tmp/demo-1m --posts 1000000                  # once (about 30 s)
    python benchmarks/bench_community.py --prepare --demo /tmp/demo-1m
    python benchmarks/bench_community.py                               # the timed run (median of 3)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

ROOT = Path(tempfile.gettempdir()) / "impactreport-bench-community"
POSTS = 1_000_000
TABLES = ("profiles", "documents", "threads", "comments", "notes", "posts", "snapshots")


def prepare(demo: Path, root: Path = ROOT) -> None:
    from impactreport.load import load_dataset

    if not (demo / "exports").is_dir():
        from impactreport.demo import write_demo

        write_demo(demo, posts=POSTS)
    start = time.perf_counter()
    dataset = load_dataset([demo])
    print(f"loaded {dataset.posts.height:,} posts in {time.perf_counter() - start:.1f} s")
    tables = root / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        getattr(dataset, name).write_parquet(tables / f"{name}.parquet")


def community_once(dataset, history: pl.DataFrame, period) -> dict[str, int]:
    """Every community number per project and overall, and both figure frames; sizes for the print."""
    from impactreport.analyses import AnalysisParams
    from impactreport.analyses import community as frames
    from impactreport.stats import OVERALL, _community

    posts, threads, past = dataset.posts.lazy(), dataset.threads.lazy(), history.lazy()
    levels = [
        _community(posts, threads, past, group, False, period)
        for group in (pl.col("project"), pl.lit(OVERALL))
    ]
    rows = pl.concat(pl.collect_all(levels), how="diagonal_relaxed")
    params = AnalysisParams()
    responses = frames.first_response(dataset, params, history, period)
    months = frames.contributors_over_time(dataset, params, history)
    return {"levels": rows.height, "discussions": responses.height, "months": months.height}


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run(root: Path = ROOT, repeat: int = 3) -> float:
    from impactreport.pipeline import restrict
    from impactreport.schema import Dataset
    from impactreport.settings import Period
    from impactreport.stats import summarise

    tables = root / "tables"
    dataset = Dataset(**{name: pl.read_parquet(tables / f"{name}.parquet") for name in TABLES})
    first, last = dataset.posts["published"].min(), dataset.posts["published"].max()
    print(f"{dataset.posts.height:,} posts, {dataset.threads.height:,} threads, {first:%Y-%m} … {last:%Y-%m}")
    assert isinstance(last, date)
    period = Period(date(last.year - 1, 1, 1), date(last.year - 1, 12, 31))
    restricted = restrict(dataset, period)
    seconds, sizes = timed(lambda: community_once(dataset, dataset.posts, None), repeat)
    print(f"community, all data: {seconds:.2f} s {sizes}")
    in_period, sizes = timed(lambda: community_once(restricted, dataset.posts, period), repeat)
    print(f"community, {period.describe()} ({restricted.posts.height:,} posts): {in_period:.2f} s {sizes}")
    whole, stats = timed(lambda: summarise(dataset), repeat)
    overall = stats.overall  # type: ignore[attr-defined]
    print(
        f"summarise (every statistic): {whole:.2f} s; first_response {overall.first_response}, "
        f"new {overall.new_contributors:,}, absence {overall.absence_factor}"
    )
    return max(seconds, in_period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="load the demo exports into Parquet first")
    parser.add_argument("--demo", type=Path, default=ROOT / "demo", help="demo exports (written if absent)")
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.prepare or not (args.root / "tables" / "posts.parquet").is_file():
        prepare(args.demo, args.root)
        if args.prepare:
            return 0
    seconds = run(args.root, args.repeat)
    print(f"slowest community run: {seconds:.2f} s (target < 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
