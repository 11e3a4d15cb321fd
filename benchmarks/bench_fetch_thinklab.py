"""Wall time and attempts of ``impactreport fetch thinklab --all`` under 40% faults from a local server.

Serves the 10 real exports (../shared/thinklab/latest, 4.1 MB) from the Thinklab-like test server
(tests/servers/thinklab_app.py) on 127.0.0.1 with 40% of requests faulty (502 page, 200 HTML page, 429
with Retry-After: 1, slow answer past the 0.5 s timeout, truncated body, reset, lost session) and runs the
real command in a child process, as cron would: ``--backoff 0.01`` so the figure shows the faults'
own cost (timeouts, Retry-After), not jitter. Prints one JSON line per seed and the median.

Run: ``.venv/bin/python benchmarks/bench_fetch_thinklab.py`` (needs ../shared/thinklab).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.thinklab_app import ThinklabApp, ThinklabServer  # noqa: E402

SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
SEEDS = (1, 2, 3)


def run(seed: int) -> dict:
    app = ThinklabApp(SHARED / "thinklab/latest", fault_rate=0.4, seed=seed, slow_seconds=0.8)
    with ThinklabServer(app) as url, tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "IMPACTREPORT_THINKLAB_EMAIL": app.email,
            "IMPACTREPORT_THINKLAB_PASSWORD": app.password,
        }
        command = [
            sys.executable, "-m", "impactreport.cli.main", "fetch", "thinklab", "--base-url", url,
            "--all", "--data", data, "--json",
            "--backoff", "0.01", "--timeout", "0.5", "--max-attempts", "40",
        ]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    outcomes = json.loads(done.stdout)
    return {
        "seed": seed,
        "exit": done.returncode,
        "seconds": round(seconds, 2),
        "projects_stored": sum(item["status"] == "stored" for item in outcomes),
        "export_attempts": sum(item["attempts"] for item in outcomes),
        "requests": app.stats["requests"],
        "faults": {
            k.removeprefix("fault:"): v for k, v in sorted(app.stats.items()) if k.startswith("fault:")
        },
    }


def main() -> None:
    results = [run(seed) for seed in SEEDS]
    for result in results:
        print(json.dumps(result))
    median = statistics.median(r["seconds"] for r in results)
    print(f"fetch thinklab --all, 10 projects, 40% faults: median {median:.2f} s")


if __name__ == "__main__":
    main()
