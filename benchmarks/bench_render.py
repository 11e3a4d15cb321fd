"""Render time of the report on the full Thinklab archive (latest/ + every snapshot), per engine.

    .venv/bin/python benchmarks/bench_render.py [--engine builtin|quarto|both] [--to html|pdf|all]

Prints one line per engine: wall seconds for HTML + PDF of report/index.qmd with
``-P data:[../shared/thinklab/latest, ../shared/thinklab/snapshots]`` (10 projects; 22 snapshot dates, so
views over time is drawn). The Quarto engine needs ``quarto`` on PATH or ``$QUARTO_PATH`` (it is skipped
otherwise). Each engine renders into a fresh temporary folder; the numbers include starting the kernel,
loading, statistics, analyses, all figures in SVG/PNG/PDF, Pandoc and Typst.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("builtin", "quarto", "both"), default="both")
    parser.add_argument("--to", choices=("html", "pdf", "all"), default="all")
    args = parser.parse_args()
    from impactreport.render import find_quarto, render

    thinklab = SHARED / "thinklab"
    if not (thinklab / "latest").is_dir():
        print(f"needs the Thinklab archive in {thinklab}", file=sys.stderr)
        return 2
    params = {"data": [str(thinklab / "latest"), str(thinklab / "snapshots")]}
    formats = ("html", "pdf") if args.to == "all" else (args.to,)
    engines = ("builtin", "quarto") if args.engine == "both" else (args.engine,)
    for engine in engines:
        if engine == "quarto" and find_quarto() is None:
            print("quarto: skipped (no quarto on PATH or $QUARTO_PATH)")
            continue
        with tempfile.TemporaryDirectory(prefix="bench-render-") as out:
            started = time.perf_counter()
            written = render(formats, params, out, engine, root=REPO)
            seconds = time.perf_counter() - started
            sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB" for path in written)
        print(f"{engine}: {seconds:.1f} s for {' + '.join(formats)} on the full Thinklab archive ({sizes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
