"""Benchmark: writing every figure (SVG, PNG, PDF) with its metadata against writing it without.

The metadata (period, version, data fingerprint, parameters, citation: ``impactreport.figures.provenance``)
is written into each file after vl-convert drew it: PNG text chunks after ``IHDR``, an SVG ``<metadata>``
block, a PDF information dictionary appended as an incremental update. Target: with / without ≤ 1.1.

Two measures, each a median over the rounds:

- end to end: every figure of one pipeline run written by ``write_figures`` into a fresh folder, once as
  the charts are and once with their ``usermeta`` removed (what was written before), alternating which
  goes first (on a busy shared machine this one is noisy: a few percent either way);
- the metadata's own cost: each figure drawn once (Vega → SVG → PNG and PDF), then the time to write
  the metadata into the three files, against the time to draw them.

    python benchmarks/bench_figure_metadata.py                       # ../shared/thinklab/latest
    python benchmarks/bench_figure_metadata.py --data /tmp/arch/data --since 2016-09-01 --until 2017-08-31
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "thinklab" / "latest"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--since", type=date.fromisoformat, default=None)
    parser.add_argument("--until", type=date.fromisoformat, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=2)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data} (give --data)", file=sys.stderr)
        return 2

    import altair as alt

    from impactreport.figures.provenance import USERMETA, pdf_with_info, png_with_text, svg_with_metadata
    from impactreport.figures.save import from_svg, metadata_of, render
    from impactreport.figures.write import figure_key, write_figures
    from impactreport.pipeline import Request, run
    from impactreport.settings import Period

    start = time.perf_counter()
    result = run(Request(paths=(args.data,), period=Period(args.since, args.until)), figures=True)
    print(f"pipeline: {time.perf_counter() - start:.1f} s, {len(result.charts)} figures")
    bare, plain_charts = {}, {}
    for name, chart in result.charts.items():
        assert USERMETA in chart.to_dict()["usermeta"]
        without = chart.copy()
        without.usermeta = alt.Undefined  # the chart as it was drawn before: no metadata
        plain_charts[name] = without
        bare[name] = without.to_dict()
        assert "usermeta" not in bare[name]
    formats = ("svg", "png", "pdf")
    keys = {
        figure_key(chart.to_dict(validate=False), formats, args.scale) for chart in result.charts.values()
    }
    assert len(keys) == len(result.charts)
    plain = type(result)(
        result.request, result.dataset, result.stats, frames=result.frames, charts=plain_charts
    )
    times: dict[str, list[float]] = {"with metadata": [], "without": []}
    for index in range(args.rounds):
        order = [("with metadata", result), ("without", plain)]
        for label, which in order if index % 2 == 0 else reversed(order):
            with tempfile.TemporaryDirectory() as out:
                began = time.perf_counter()
                write_figures(which, Path(out), scale=args.scale)
                times[label].append(time.perf_counter() - began)
    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, values in times.items():
        print(f"{label:>14}: median {medians[label]:.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    ratio = medians["with metadata"] / medians["without"]
    print(f"end to end, with / without: {ratio:.3f}")

    drawing, embedding = [], []
    for _ in range(args.rounds):
        drawn = embedded = 0.0
        for name, chart in result.charts.items():
            entries = metadata_of(chart.to_dict())
            began = time.perf_counter()
            svg = render(bare[name], "svg").decode("utf-8")
            files = {fmt: from_svg(svg, fmt, scale=args.scale) for fmt in formats}
            middle = time.perf_counter()
            svg_with_metadata(svg, entries).encode("utf-8")
            png_with_text(files["png"], entries)
            pdf_with_info(files["pdf"], entries)
            drawn += middle - began
            embedded += time.perf_counter() - middle
        drawing.append(drawn)
        embedding.append(embedded)
    draw, embed = statistics.median(drawing), statistics.median(embedding)
    own = (draw + embed) / draw
    print(f"drawing {draw:.2f} s, writing the metadata {embed * 1000:.1f} ms: ratio {own:.4f} (target ≤ 1.1)")
    return 0 if own <= 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
