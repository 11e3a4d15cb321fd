"""Requests used and wall time of ``fetch discourse`` for the fixture forum, with and without faults.

Serves the captured forum (tests/servers/discourse_app.py: 11 topics, 99 posts) on 127.0.0.1 with
Discourse's page sizes (30 topics a listing page, 20 posts a topic view) and fetches it into a
temporary store, in-process: unthrottled and at the polite default rate (1 request a second), each
without and with faults (429 with Retry-After: 1, 429 with only wait_seconds: 1, 502, resets). Retry
backoff is lowered to 0.1 s so the fault figure shows the server-requested waits, not jitter.

Run: ``.venv/bin/python benchmarks/bench_fetch_discourse.py`` (needs ../shared/fixtures).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.discourse_app import DiscourseState  # noqa: E402
from tests.servers.github_app import serve  # noqa: E402

from impactreport.fetch.discourse import POLITE_RATE, DiscourseFetch  # noqa: E402
from impactreport.fetch.http import RetryPolicy  # noqa: E402
from impactreport.fetch.ratelimits import Reporter  # noqa: E402
from impactreport.fetch.sync import sync  # noqa: E402

FIXTURES = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared")) / "fixtures"
FAULTS = ["429", None, "429_no_header", "reset", None, "502", "429", None, "reset"]


def once(rate: float, faults: bool) -> tuple[int, float, int, dict[str, int]]:
    state = DiscourseState.from_fixtures(FIXTURES)
    if faults:
        state.plan(FAULTS)
    reporter = Reporter()
    with serve(state) as url, tempfile.TemporaryDirectory() as data:
        run = DiscourseFetch(
            url,
            rate=rate,
            policy=RetryPolicy(max_attempts=8, max_time=300, backoff=0.1, max_backoff=1.0, max_wait=60),
            reporter=reporter,
        )
        start = time.perf_counter()
        [result] = sync(run, data, since="full").results
        seconds = time.perf_counter() - start
    assert reporter.requests == len(state.log)
    return reporter.requests, seconds, len(reporter.waits), result.rows


def main() -> None:
    if not FIXTURES.is_dir():
        sys.exit(f"needs the recorded payloads in {FIXTURES}")
    served = sum(f is not None for f in FAULTS)
    for rate in (0.0, POLITE_RATE):
        for faults in (False, True):
            requests, seconds, waits, rows = once(rate, faults)
            pace = "unthrottled" if rate == 0 else f"polite rate ({rate:g} request/s)"
            label = f"{served} faults" if faults else "no faults"
            print(
                f"discourse fixture forum, {pace}, {label}: {requests} requests, {seconds:.2f} s wall, "
                f"{waits} waits; stored {rows['threads']} topics, {rows['comments']} posts, "
                f"{rows['profiles']} profiles"
            )


if __name__ == "__main__":
    main()
