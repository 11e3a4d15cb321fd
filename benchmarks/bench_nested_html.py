"""Seconds to measure one hostile post of n nested elements (issue 11: grew faster than the input).

Each shape goes through :func:`impactreport.metrics.count.chunk_metrics` (characters, words, DOIs) as
one post.
``--whole`` parses each body in one piece instead (the cost before the fix: quadratic; the largest sizes
take minutes and, for ``formatting``, gigabytes), so keep ``--sizes`` small with it.

    .venv/bin/python benchmarks/bench_nested_html.py                 # n = 1e3, 1e4, 1e5, 1e6
    .venv/bin/python benchmarks/bench_nested_html.py --whole --sizes 1000,10000,30000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import polars as pl

from impactreport import metrics

SHAPES: dict[str, Callable[[int], str]] = {
    "div": lambda n: "<div>" * n + "deep text" + "</div>" * n,
    "div-unclosed": lambda n: "<div>" * n + "deep text",
    "b-i": lambda n: "<b><i>" * (n // 2) + "deep text" + "</i></b>" * (n // 2),
    "b-i-unclosed": lambda n: "<b>one <i>two " * (n // 2),
    # Distinct formatting elements: every text re-opens all of them (O(n²) nodes in one parse).
    "formatting": lambda n: "".join(f"<p><b id={i}>x</p>" for i in range(n // 3)),
}


def measure(body: str, *, whole: bool) -> tuple[float, tuple]:
    """Seconds for one post, and its (characters, words, html_limited)."""
    if whole:
        saved = metrics.html.PIECE_TAGS
        metrics.html.PIECE_TAGS = 10**12
    try:
        start = time.perf_counter()
        row = metrics.chunk_metrics(pl.Series([body])).row(0, named=True)
        seconds = time.perf_counter() - start
    finally:
        if whole:
            metrics.html.PIECE_TAGS = saved
    return seconds, (row["characters"], row["words"], row["html_limited"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="elements per post")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"of {', '.join(SHAPES)}")
    parser.add_argument("--whole", action="store_true", help="one parse per body (the old, quadratic cost)")
    args = parser.parse_args()
    sizes = [int(float(size)) for size in args.sizes.split(",")]
    print(f"{'shape':<14}{'n':>10}{'seconds':>10}{'µs/element':>12}  characters, words, limited")
    for shape in args.shapes.split(","):
        for n in sizes:
            seconds, result = measure(SHAPES[shape](n), whole=args.whole)
            print(f"{shape:<14}{n:>10,}{seconds:>10.3f}{seconds / n * 1e6:>12.1f}  {result}", flush=True)


if __name__ == "__main__":
    main()
