"""Benchmark of issue 2: `impactreport summary`, whole process, on replicated real exports and 1M demo posts.

Targets (2-core machine): at least 30,000 posts per second end to end; 1,000,000 posts in under 60 s with peak
memory under 4 GB. Prints median wall time, posts per second and peak memory (the largest process, and the
main process plus its metric workers together).

    .venv/bin/python benchmarks/bench_summary.py [--copies 100] [--runs 3] [--skip-demo]

Inputs are built under $TMPDIR (never in the repository): the real exports of ../shared/thinklab/latest copied
N times inside each project file (ids shifted, every body made distinct), the same files copied N times
verbatim, and `impactreport demo --posts 1000000` (generated once, then reused).
The same figures can be taken with farm-bench, e.g.
    farm-bench -n 5 --timeout 900 -- .venv/bin/impactreport summary \
        /tmp/impactreport-bench/replicated-rows-100 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
WORK = Path(tempfile.gettempdir()) / "impactreport-bench"
EXE = str(Path(sys.executable).parent / "impactreport")


def tree_rss(pid: int) -> int:
    """Resident memory (KB) of a process and all its descendants."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        pending += [int(child) for child in children]
    return total


def run(args: list[str]) -> tuple[float, int, int, dict]:
    """Wall seconds, peak single-process RSS (KB), peak RSS of the process tree (KB), parsed JSON output."""
    peak_tree = 0
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()

    single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with exit code {process.returncode}")
    return wall, single, peak_tree, json.loads(out)


def bench(label: str, path: Path, runs: int) -> None:
    results = [run([EXE, "summary", str(path), "--json"]) for _ in range(runs)]
    walls = [r[0] for r in results]
    overall = results[0][3]["overall"]
    posts = overall["comments"] + overall["notes"] + overall["documents"]
    median = statistics.median(walls)
    print(
        f"{label}: {posts:,} posts; wall median {median:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}, "
        f"{runs} runs); {posts / median:,.0f} posts/s; peak RSS largest process "
        f"{max(r[1] for r in results) / 1024:,.0f} MB, "
        f"whole process tree {max(r[2] for r in results) / 1024:,.0f} MB"
    )


ID_FIELDS = ("document_id", "thread_id", "comment_id", "note_id")
ID_OFFSET = 10_000_000


def replicate(export: dict, copies: int) -> dict:
    """An export whose rows are repeated ``copies`` times: ids shifted, every body made distinct.

    People (profile ids) stay the same, as when a project grows. Each copy's texts get a marker of a few
    characters so no body repeats: the text metrics really run on every post (no deduplication helps).
    """
    out: dict = {"retrieved": export["retrieved"], "profiles": export["profiles"]}
    for table in ("documents", "threads", "comments", "notes"):
        rows = []
        for copy in range(copies):
            for row in export[table]:
                row = dict(row)
                for field in ID_FIELDS:
                    if row.get(field) not in (None, ""):
                        row[field] = int(row[field]) + copy * ID_OFFSET
                if copy and "body_html" in row:
                    row["body_html"] += f"<p>copy {copy}</p>"
                    row["body_md"] += f"\r\n\r\ncopy {copy}"
                rows.append(row)
        out[table] = rows
    return out


def verbatim(copies: int) -> Path:
    """The 10 real project files copied ``copies`` times as separate projects (bodies repeat verbatim)."""
    target = WORK / f"replicated-files-{copies}"
    if not target.exists():
        latest = SHARED / "thinklab" / "latest"
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for copy in range(copies):
            for export in latest.glob("*.json"):
                os.link(export, partial / f"{export.stem}-{copy:03d}.json")
        partial.rename(target)
    return target


def replicated(copies: int) -> Path:
    """The 10 real projects, each with its rows replicated ``copies`` times (10 files)."""
    target = WORK / f"replicated-rows-{copies}"
    if not target.exists():
        latest = SHARED / "thinklab" / "latest"
        if not latest.is_dir():
            raise SystemExit(f"needs the real exports in {latest}")
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for export in latest.glob("*.json"):
            data = replicate(json.loads(export.read_text(encoding="utf-8")), copies)
            (partial / export.name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        partial.rename(target)
    return target


def demo(posts: int) -> Path:
    target = WORK / f"demo-{posts}"
    if not (target / "exports").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [EXE, "demo", str(target), "--posts", str(posts), "--json"], check=True, stdout=subprocess.DEVNULL
        )
    return target / "exports"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--demo-posts", type=int, default=1_000_000)
    parser.add_argument("--skip-demo", action="store_true")
    options = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    if (SHARED / "thinklab" / "latest").is_dir():
        bench(
            f"real exports x{options.copies}, rows replicated, bodies distinct",
            replicated(options.copies),
            options.runs,
        )
        bench(
            f"real exports x{options.copies}, files copied verbatim", verbatim(options.copies), options.runs
        )
    else:
        print(f"skipped replicated real exports: {SHARED / 'thinklab' / 'latest'} is absent")
    if not options.skip_demo:
        bench(f"demo --posts {options.demo_posts:,}", demo(options.demo_posts), options.runs)


if __name__ == "__main__":
    main()
