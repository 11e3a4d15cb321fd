"""Requests used and wall time of ``fetch github`` for the fixture repository, with and without faults.

Serves PyGithub/PyGithub from the recorded payloads (tests/servers/github_app.py: 31 issues and pull
requests, 7 issue comments, 65 discussions with 55 comments and 31 replies) on 127.0.0.1 and fetches
it into a temporary store, in-process, four ways: GitHub's page sizes and small pages (7 REST items,
3 GraphQL nodes a page: every pagination path), each without and with faults. The fault run waits
out real primary-limit resets (about 1-2 s each: the server's reset is a second ahead); the minimum
wait after a secondary limit without retry-after is lowered from 60 s to 1 s, and the retry backoff
to 0.1 s, so the figure shows requests and resets rather than the policy's sleep.

Run: ``.venv/bin/python benchmarks/bench_fetch_github.py`` (needs ../shared/fixtures).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.github_app import GitHubState, serve  # noqa: E402

from impactreport.fetch.github import GitHubFetch  # noqa: E402
from impactreport.fetch.http import RetryPolicy  # noqa: E402
from impactreport.fetch.ratelimits import GitHubLimits, Reporter  # noqa: E402
from impactreport.fetch.sync import sync  # noqa: E402

FIXTURES = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared")) / "fixtures"
REST_FAULTS = ["primary", None, "secondary", None, "secondary_no_header", "reset", "502", None, "primary429"]
GRAPHQL_FAULTS = ["rate_limited", "502", None, "reset", "secondary429"]


def once(small_pages: bool, faults: bool) -> tuple[int, float, int, int, dict[str, int]]:
    options = {"max_per_page": 7, "graphql_max_first": 3} if small_pages else {}
    state = GitHubState.from_fixtures(FIXTURES, token="bench", **options)
    if faults:
        state.plan("rest", REST_FAULTS)
        state.plan("graphql", GRAPHQL_FAULTS)
    reporter = Reporter()
    with serve(state) as url, tempfile.TemporaryDirectory() as data:
        run = GitHubFetch(
            "PyGithub",
            "PyGithub",
            token="bench",
            api_url=url,
            graphql_url=f"{url}/graphql",
            include_pulls=True,
            policy=RetryPolicy(max_attempts=8, max_time=300, backoff=0.1, max_backoff=1.0, max_wait=60),
            limits=GitHubLimits(secondary_min_wait=1.0),
            reporter=reporter,
        )
        start = time.perf_counter()
        [result] = sync(run, data, since="full").results
        seconds = time.perf_counter() - start
    assert reporter.requests == len(state.log)
    planned = sum(f is not None for f in REST_FAULTS + GRAPHQL_FAULTS) if faults else 0
    left = sum(f is not None for queue in state.faults.values() for f in queue)
    return reporter.requests, seconds, len(reporter.waits), planned - left, result.rows


def main() -> None:
    if not FIXTURES.is_dir():
        sys.exit(f"needs the recorded payloads in {FIXTURES}")
    for small in (False, True):
        for faults in (False, True):
            requests, seconds, waits, served, rows = once(small, faults)
            pages = "small pages (7 REST / 3 GraphQL)" if small else "GitHub page sizes (100)"
            label = f"{served} faults served" if faults else "no faults"
            print(
                f"github fixture repository, {pages}, {label}: {requests} requests, {seconds:.2f} s wall, "
                f"{waits} waits; stored {rows['threads']} threads, {rows['comments']} comments, "
                f"{rows['notes']} notes, {rows['profiles']} profiles"
            )


if __name__ == "__main__":
    main()
