"""Render time of the report on the full Thinklab archive (latest/ + every snapshot), per engine.

    .venv/bin/python benchmarks/bench_render.py [--engine builtin|quarto|both] [--to html|pdf|all]
    .venv/bin/python benchmarks/bench_render.py --data DATA/exports [--engine quarto]

With ``--data`` (e.g. the imported daily archive: ``impactreport fetch archive --from
../shared/thinklab/archive.bundle --data DATA``, 1,660 snapshots) each engine renders twice: cold (the
history cache of ``DATA/exports`` removed from the cache folder first)
and warm (the cache kept), and the two reports'
text must be the same (issue 12: warm Quarto render of the archive report under 20 s).

Prints one line per engine: wall seconds for HTML + PDF of report/index.qmd with
``-P data:[../shared/thinklab/latest, ../shared/thinklab/snapshots]`` (10 projects; 22 snapshot dates, so
views over time is drawn). The Quarto engine needs ``quarto`` on PATH or ``$QUARTO_PATH`` (it is skipped
otherwise). Each engine renders into a fresh temporary folder; the numbers include starting the kernel,
loading, statistics, analyses, all figures in SVG/PNG/PDF, Pandoc and Typst.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from impactreport.history.cache import cache_dir
from impactreport.render import DEFAULT_FORMATS

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("builtin", "quarto", "both"), default="both")
    parser.add_argument("--to", choices=("html", "pdf", "docx", "all"), default="all")
    parser.add_argument("--data", type=Path, help="a snapshot folder: render it cold, then warm")
    parser.add_argument(
        "--award-year",
        action="store_true",
        help="with --data: the award year 2016-09-01..2017-08-31, team dhimmel (issue 20: warm Quarto "
        "HTML + PDF + DOCX under 30 s), rendered cold once, then warm --runs times",
    )
    parser.add_argument("--runs", type=int, default=1, help="warm runs (the median is printed)")
    parser.add_argument(
        "--same-output",
        action="store_true",
        help="warm runs render into the cold run's output folder (as a user re-renders _output/: its "
        "figures are reused by key) instead of a new one each",
    )
    args = parser.parse_args()
    if args.data is not None:
        extra = AWARD_YEAR if args.award_year else {}
        return cold_and_warm(args.data, args.engine, args.to, extra, args.runs, args.same_output)
    from impactreport.render import find_quarto, render

    thinklab = SHARED / "thinklab"
    if not (thinklab / "latest").is_dir():
        print(f"needs the Thinklab archive in {thinklab}", file=sys.stderr)
        return 2
    params = {"data": [str(thinklab / "latest"), str(thinklab / "snapshots")]}
    formats = DEFAULT_FORMATS if args.to == "all" else (args.to,)
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


def _text(html: Path) -> str:
    """The report's visible text (tags and the figures' generated ids dropped)."""
    text = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html.read_text(encoding="utf-8"), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


#: The award-year report of the imported archive (issue 20's check).
AWARD_YEAR = {"since": "2016-09-01", "until": "2017-08-31", "team": ["dhimmel"]}


def cold_and_warm(
    data: Path,
    engine_choice: str,
    to: str,
    extra: dict | None = None,
    runs: int = 1,
    same_output: bool = False,
) -> int:
    from impactreport.render import find_quarto, render

    formats = DEFAULT_FORMATS if to == "all" else (to,)
    engines = ("builtin", "quarto") if engine_choice == "both" else (engine_choice,)
    for engine in engines:
        if engine == "quarto" and find_quarto() is None:
            print("quarto: skipped (no quarto on PATH or $QUARTO_PATH)")
            continue
        shutil.rmtree(cache_dir(data), ignore_errors=True)
        texts = []
        warm: list[float] = []
        kept = tempfile.TemporaryDirectory(prefix="bench-render-kept-")
        for state in ("cold", *["warm"] * max(1, runs)):
            folder = (
                contextlib.nullcontext(kept.name)
                if same_output
                else tempfile.TemporaryDirectory(prefix="bench-render-")
            )
            with folder as out:
                started = time.perf_counter()
                render(formats, {"data": str(data), **(extra or {})}, out, engine, root=REPO)
                seconds = time.perf_counter() - started
                html = Path(out) / "index.html"
                texts.append(_text(html) if html.exists() else "")
            if state == "warm":
                warm.append(seconds)
            print(f"{engine} {state}: {seconds:.1f} s for {' + '.join(formats)} on {data}")
        kept.cleanup()
        where = "the same output folder" if same_output else "a new output folder each"
        print(f"{engine} warm median: {statistics.median(warm):.1f} s over {len(warm)} run(s) ({where})")
        if any(text != texts[0] for text in texts[1:]):
            print(f"{engine}: the warm report's text differs from the cold one's", file=sys.stderr)
            return 1
        print(f"{engine}: warm and cold reports have the same text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
