"""Benchmark of issue 12, item 6: `impactreport summary` on a tree of 100,000 small exports.

Input (built once under $TMPDIR, never in the repository): 100,000 projects, each one small real-shaped
export — the final export of ../shared/thinklab/latest/issnindiadatabase.json (1 document, 2
discussions, 2 comments, 2 profiles; 5.9 kB) with every id shifted by the project number (ids stay
unique, as they are across real projects) and the number written into every text — gzip-compressed,
1,000 files per folder (``g000/p000000.json.gz`` …). Project = file name.

Prints, for ``impactreport summary TREE --json`` (a new process each run): wall time, and the peak
resident memory of the process and its text-metrics workers together (sampled every 50 ms, as
bench_summary.py does); the same for the loader alone (``load_dataset`` in a new process: what
summary spends before its statistics and output); and, apart, what finding the files costs
(:func:`impactreport.load.find` on the tree, in this process, after a first walk has the folders in
the OS cache).

    .venv/bin/python benchmarks/bench_many_files.py [--files 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_summary import run  # a script beside this one

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
WORK = Path(tempfile.gettempdir()) / "impactreport-bench"
EXE = str(Path(sys.executable).parent / "impactreport")
TEMPLATE = SHARED / "thinklab" / "latest" / "issnindiadatabase.json"
ID_FIELDS = ("document_id", "thread_id", "comment_id", "note_id", "profile_id")
TEXT_FIELDS = ("body_html", "intro_html")
PER_FOLDER = 1_000
#: Ids of project k are shifted by k times this (the template's ids are below it).
ID_STEP = 10_000


def project(export: dict, number: int) -> bytes:
    """The template as project ``number``: ids shifted, the number in every text; gzip bytes."""
    out: dict = {"retrieved": export["retrieved"]}
    for table in ("documents", "threads", "comments", "notes", "profiles"):
        rows = []
        for row in export[table]:
            row = dict(row)
            for field in ID_FIELDS:
                if isinstance(row.get(field), int):
                    row[field] += number * ID_STEP
            for field in TEXT_FIELDS:
                if row.get(field):
                    row[field] = f"<p>project {number}</p>" + row[field]
            if "username" in row:
                row["username"] = f"{row['username']}_{number}"
            rows.append(row)
        out[table] = rows
    return gzip.compress(json.dumps(out, ensure_ascii=False).encode("utf-8"), compresslevel=6, mtime=0)


def _write(args: tuple[Path, dict, range]) -> None:
    target, export, numbers = args
    for number in numbers:
        path = target / f"g{number // PER_FOLDER:03d}" / f"p{number:06d}.json.gz"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(project(export, number))


def build(files: int) -> Path:
    """The tree of ``files`` small exports (built once, in parallel)."""
    target = WORK / f"many-files-{files}"
    if target.exists():
        return target
    if not TEMPLATE.is_file():
        raise SystemExit(f"needs the real export {TEMPLATE} (../shared)")
    export = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    partial = target.with_suffix(".partial")
    partial.mkdir(parents=True, exist_ok=True)
    jobs = [
        (partial, export, range(start, min(start + PER_FOLDER, files)))
        for start in range(0, files, PER_FOLDER)
    ]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_write, jobs))
    partial.rename(target)
    return target


def walk_seconds(tree: Path) -> tuple[float, int]:
    """Seconds :func:`impactreport.load.find` takes on the tree (second of two walks), files found."""
    from impactreport.load import find

    find([tree])
    started = time.perf_counter()
    found = find([tree])
    return time.perf_counter() - started, len(found.files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    tree = build(options.files)
    size = sum(path.stat().st_size for path in tree.rglob("*.json.gz"))
    print(
        f"input: {tree} ({options.files:,} files, {size / 1e6:.0f} MB gzip; "
        f"ready in {time.perf_counter() - started:.1f} s)"
    )
    seconds, found = walk_seconds(tree)
    print(f"finding the files (impactreport.load.find): {seconds:.2f} s for {found:,} files")
    load_only = [
        sys.executable,
        "-c",
        "import json, sys; from impactreport.load import load_dataset; "
        f"d = load_dataset({str(tree)!r}); print(json.dumps({{'posts': d.posts.height}}))",
    ]
    loads = [run(load_only) for _ in range(options.runs)]
    print(
        f"load_dataset alone (read, normalise, measure, assemble): {loads[0][3]['posts']:,} posts; "
        f"wall median {statistics.median(r[0] for r in loads):.1f} s; peak RSS of the process tree "
        f"{max(r[2] for r in loads) / 1024:,.0f} MB"
    )
    results = [run([EXE, "summary", str(tree), "--json"]) for _ in range(options.runs)]
    walls = [result[0] for result in results]
    overall = results[0][3]["overall"]
    posts = overall["comments"] + overall["notes"] + overall["documents"]
    print(
        f"summary --json: {len(results[0][3]['projects']):,} projects, {posts:,} posts; wall median "
        f"{statistics.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f}, "
        f"{options.runs} runs); "
        f"peak RSS largest process {max(r[1] for r in results) / 1024:,.0f} MB, whole process tree "
        f"{max(r[2] for r in results) / 1024:,.0f} MB"
    )


if __name__ == "__main__":
    main()
