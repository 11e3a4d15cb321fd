"""Wall time of ``impactreport fetch archive`` on the 421-commit Thinklab archive bundle, and of a re-run.

Runs the real command in a child process into a fresh temporary data folder (the first import: clone
the bundle, stream 4,210 file versions through one ``git cat-file --batch``, store the ~1,660 distinct
ones), then once more into the same folder (stores nothing new). Target: first import under 60 s.

Run: ``.venv/bin/python benchmarks/bench_archive_import.py`` (needs ../shared/thinklab/archive.bundle).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))


def timed_import(data: str) -> tuple[float, dict]:
    command = [
        sys.executable, "-m", "impactreport.cli.main", "fetch", "archive",
        "--from", str(SHARED / "thinklab/archive.bundle"), "--data", data, "--json", "--quiet",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        first, summary = timed_import(data)
        stored = sum(item["stored"] for item in summary["projects"])
        size = sum(p.stat().st_size for p in Path(data).rglob("*.json.gz"))
        again, rerun = timed_import(data)
        stored_again = sum(item["stored"] for item in rerun["projects"])
    print(
        json.dumps(
            {
                "commits": summary["commits"],
                "versions": sum(item["versions"] for item in summary["projects"]),
                "snapshots_stored": stored,
                "store_megabytes": round(size / 1e6, 1),
                "import_seconds": round(first, 2),
                "rerun_seconds": round(again, 2),
                "rerun_stored": stored_again,
            }
        )
    )
    print(f"archive import: {first:.1f} s ({stored} snapshots); re-run: {again:.1f} s ({stored_again} new)")


if __name__ == "__main__":
    main()
