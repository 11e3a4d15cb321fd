"""Requests per ``fetch gitlab`` of the fixture project: a full fetch, then an incremental one.

Serves the generated project of tests/servers/gitlab_app.py (7 issues, 5 merge requests, their user,
system and bot notes) on 127.0.0.1 and fetches it in-process into a temporary store: first in full,
then, after one new note on an issue, one edited note on a merge request and one deleted note on
another issue, with ``--since auto``. Prints both request counts (as the fetcher's reporter and the
server's log count them: they must agree), at GitLab's 100 items a page and at 2 a page (many pages).

Run: ``.venv/bin/python benchmarks/bench_gitlab_requests.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.github_app import serve  # noqa: E402
from tests.servers.gitlab_app import PROJECT_PATH, GitLabState  # noqa: E402

from impactreport.fetch.gitlab import GitLabFetch  # noqa: E402
from impactreport.fetch.sync import sync  # noqa: E402


def fetch(state: GitLabState, url: str, data: str) -> tuple[int, int, str, int]:
    """(requests the fetcher counted, requests the server saw, mode, threads re-fetched) of one run."""
    state.log.clear()
    source = GitLabFetch(PROJECT_PATH, token=state.token, base_url=url)
    [result] = sync(source, data, since="auto").results
    assert result.status == "stored", result.error
    return result.requests, len(state.log), result.mode, result.details["threads_fetched"]


def main() -> None:
    print(f"{'items a page':>12}  {'run':<12} {'requests':>8} {'server saw':>10} {'threads read':>12}")
    for per_page in (100, 2):
        state = GitLabState(max_per_page=per_page)
        with serve(state) as url, tempfile.TemporaryDirectory() as data:
            runs = [fetch(state, url, data)]
            state.add_note("issue", 2, "bob", "A new remark")
            state.edit_note("merge_request", 1, 0, "Rewritten")
            state.delete_note("issue", 5, 0)
            runs.append(fetch(state, url, data))
        for counted, seen, mode, threads in runs:
            print(f"{per_page:>12}  {mode:<12} {counted:>8} {seen:>10} {threads:>12}")


if __name__ == "__main__":
    main()
