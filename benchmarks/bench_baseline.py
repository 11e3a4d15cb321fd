"""Benchmark of issue 12, item 6: cold `impactreport summary` against a one-parse-per-row BeautifulSoup tool.

Input (built once under $TMPDIR, never in the repository): 20 copies of the final Rephetio export
(../shared/thinklab/latest/rephetio.json) as 20 projects, every text made distinct: copy ``n`` gets
``<p>copy n</p>`` before every HTML body and introduction, ``copy n`` before every markdown one and
`` (copy n)`` after every title and subject; ids stay (so `summary` warns that the projects share ids).
About 58 MB, 16,320 posts.

Each run starts a new process (imports, worker start-up and all; files in the OS page cache) for
``impactreport summary TREE --json``, then for the baseline: this script with ``--baseline TREE``, which
does what a simple tool does — ``json.load`` each file and, for every comment, note and document body
(and document introduction), one ``BeautifulSoup(html, "lxml")`` and ``get_text()``: characters =
length of the text, words = ``\\w+`` tokens of the text nodes joined by spaces, summed per project.
The two must agree on every project's words and characters to within one per started million (the
README's definitions: the character totals of `latest/` differ from BeautifulSoup + lxml by 1 in
1,339,932, the one in Rephetio; the package's words use Unicode TR 18 ``\\w``, Python's ``re`` a
slightly wider one), which is asserted.
Prints both medians and the ratio (target: at least 20), of wall time and of CPU time (the machine
is shared: the baseline uses one core, summary two, so other work on the machine changes the wall
ratio; the CPU ratio says how much work each does).

    .venv/bin/pip install -e '.[bench]'      # beautifulsoup4 + lxml
    .venv/bin/python benchmarks/bench_baseline.py [--copies 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
WORK = Path(tempfile.gettempdir()) / "impactreport-bench"
EXE = str(Path(sys.executable).parent / "impactreport")
#: What one copy's texts get: HTML, markdown, titles.
TEXTS = {
    "html": ("body_html", "intro_html"),
    "md": ("body_md", "intro_md"),
    "title": ("title", "subject"),
}
#: Difference allowed between the package's totals and the baseline's: one per started million.
PER = 1_000_000


def distinct(export: dict, copy: int) -> dict:
    """One copy of an export with the copy number in every text (module docstring); ids unchanged."""
    out: dict = {key: value for key, value in export.items() if not isinstance(value, list)}
    for table, rows in export.items():
        if not isinstance(rows, list):
            continue
        copied = []
        for row in rows:
            row = dict(row)
            for field in TEXTS["html"]:
                if field in row:
                    row[field] = f"<p>copy {copy}</p>" + (row[field] or "")
            for field in TEXTS["md"]:
                if field in row:
                    row[field] = f"copy {copy}\r\n\r\n" + (row[field] or "")
            for field in TEXTS["title"]:
                if field in row and row[field] is not None:
                    row[field] = f"{row[field]} (copy {copy})"
            copied.append(row)
        out[table] = copied
    return out


def build(copies: int) -> Path:
    """``rephetio-NN.json`` for each copy, in a folder of their own (built once)."""
    target = WORK / f"rephetio-distinct-{copies}"
    if target.exists():
        return target
    source = SHARED / "thinklab" / "latest" / "rephetio.json"
    if not source.is_file():
        raise SystemExit(f"needs the real export {source} (../shared)")
    export = json.loads(source.read_text(encoding="utf-8"))
    partial = target.with_suffix(".partial")
    partial.mkdir(parents=True, exist_ok=True)
    for copy in range(copies):
        text = json.dumps(distinct(export, copy), ensure_ascii=False, indent=2, sort_keys=True)
        (partial / f"rephetio-{copy:02d}.json").write_text(text, encoding="utf-8")
    partial.rename(target)
    return target


def baseline(tree: Path) -> dict[str, dict[str, int]]:
    """Per project (file stem): words and characters, one BeautifulSoup parse per text."""
    from bs4 import BeautifulSoup

    word = re.compile(r"\w+")
    totals: dict[str, dict[str, int]] = {}
    for path in sorted(tree.glob("*.json")):
        with path.open(encoding="utf-8") as stream:
            export = json.load(stream)
        words = characters = 0
        texts = [row["body_html"] for table in ("comments", "notes") for row in export[table]]
        texts += [row[field] for row in export["documents"] for field in ("intro_html", "body_html")]
        for html in texts:
            soup = BeautifulSoup(html or "", "lxml")
            characters += len(soup.get_text())
            words += len(word.findall(soup.get_text(" ")))
        totals[path.stem] = {"words": words, "characters": characters}
    return totals


def timed(command: list[str]) -> tuple[float, float, dict]:
    """Wall seconds of a command, CPU seconds of it and its child processes, and its JSON output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, json.loads(done.stdout)


def agree(package: dict, simple: dict[str, dict[str, int]]) -> str:
    """The largest relative difference between the two, after asserting it is within the tolerance."""
    worst = 0
    assert set(package["projects"]) == set(simple), (sorted(package["projects"]), sorted(simple))
    for project, theirs in simple.items():
        ours = package["projects"][project]
        for key in ("words", "characters"):
            difference = abs(ours[key] - theirs[key])
            allowed = theirs[key] // PER + 1
            assert difference <= allowed, f"{project} {key}: package {ours[key]:,}, baseline {theirs[key]:,}"
            worst = max(worst, difference)
    overall = package["overall"]
    words = sum(t["words"] for t in simple.values())
    characters = sum(t["characters"] for t in simple.values())
    return (
        f"words {overall['words']:,} vs {words:,}, characters {overall['characters']:,} vs {characters:,} "
        f"(largest difference in one project: {worst})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="run only the baseline on this tree (prints JSON)")
    options = parser.parse_args()
    if options.baseline is not None:
        print(json.dumps(baseline(options.baseline)))
        return
    tree = build(options.copies)
    size = sum(path.stat().st_size for path in tree.glob("*.json"))
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(f"input: {tree} ({options.copies} files, {size / 1e6:.1f} MB)")
    summary = [EXE, "summary", str(tree), "--json"]
    simple = [sys.executable, __file__, "--baseline", str(tree)]
    timed(summary)  # warm-up: the files into the page cache, bytecode compiled
    times: dict[str, list[tuple[float, float]]] = {"summary": [], "baseline": []}
    for _ in range(options.runs):
        wall, cpu, package = timed(summary)
        times["summary"].append((wall, cpu))
        wall, cpu, totals = timed(simple)
        times["baseline"].append((wall, cpu))
    print(f"agreement: {agree(package, totals)}")
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in times.items()
    }
    for name, label in (
        ("summary", "summary --json"),
        ("baseline", "baseline (json + BeautifulSoup/lxml per row)"),
    ):
        walls = [w for w, _ in times[name]]
        print(
            f"{label}: wall median {medians[name][0]:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
            f"CPU median {medians[name][1]:.2f} s (with its worker processes); {options.runs} runs"
        )
    print(
        f"ratio: {medians['baseline'][0] / medians['summary'][0]:.1f}x wall "
        f"(best runs: {min(w for w, _ in times['baseline']) / min(w for w, _ in times['summary']):.1f}x), "
        f"{medians['baseline'][1] / medians['summary'][1]:.1f}x CPU"
    )


if __name__ == "__main__":
    main()
