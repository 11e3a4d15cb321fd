"""``impactreport fetch github``: a repository's issues, comments and Discussions into a snapshot.

The token comes from ``GITHUB_TOKEN`` only (never an option: argv is visible to other users); the API
URLs default to ``GITHUB_API_URL`` / ``GITHUB_GRAPHQL_URL`` (set by GitHub Actions, and pointing at a
GitHub Enterprise Server there), then to the public API. See docs/sources.md.

The progress display, the closing table and the ``--json`` shape here are shared with
``fetch discourse`` (:mod:`impactreport.cli.fetch_discourse` imports them).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from impactreport.errors import InputError
from impactreport.fetch.github import PUBLIC_API, PUBLIC_GRAPHQL, GitHubFetch, SyncResult, project_name, sync
from impactreport.fetch.http import RetryPolicy, WaitEvent
from impactreport.fetch.ratelimits import GITHUB_POLICY, GitHubLimits, Reporter, clock

TOKEN_VARIABLE = "GITHUB_TOKEN"
REPO_PATTERN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/([A-Za-z0-9._-]+)$")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_url(option: str, url: str, console: Console) -> str:
    """An API URL without a trailing slash; refused with credentials in it, warned about on plain http."""
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise InputError(f"{option} {url!r}: expected http(s)://host[/path]")
    if parsed.username or parsed.password or parsed.query:
        raise InputError(f"{option}: must not carry credentials or a query; tokens come from the environment")
    if parsed.scheme == "http":
        local = " (a local test server?)" if parsed.hostname in LOOPBACK else ""
        console.print(
            f"[bold red]WARNING:[/] {url} is plain http: requests and any token travel unencrypted{local}."
        )
    return url.rstrip("/")


@dataclass
class Display:
    """Draws a :class:`Reporter`'s events as a rich progress display (one line per stage)."""

    progress: Progress | None
    task: Any = None

    def stage(self, name: str, total: int | None) -> None:
        if self.progress is None:
            return
        self.close()
        self.task = self.progress.add_task(name, total=total, status="")

    def advance(self, count: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=count, status="")

    def waiting(self, event: WaitEvent) -> None:
        if self.progress is None or self.task is None:
            return
        status = f"[yellow]waiting {event.seconds:.0f} s until {clock(event.seconds)}[/] ({event.reason})"
        self.progress.update(self.task, status=status)

    def reporter(self) -> Reporter:
        return Reporter(stage=self.stage, advance=self.advance, waiting=self.waiting)

    def close(self) -> None:
        """Mark the current stage done (its bar full, whatever total it guessed)."""
        if self.progress is not None and self.task is not None:
            done = self.progress.tasks[-1].completed
            self.progress.update(self.task, total=done, completed=done, status="done")


@contextmanager
def display(console: Console, quiet: bool) -> Iterator[Display]:
    """The progress display on stderr (nothing with ``--quiet``)."""
    if quiet:
        yield Display(None)
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        shown = Display(progress)
        yield shown
        shown.close()


def summary(
    source: str, project: str, result: SyncResult, reporter: Reporter, seconds: float
) -> dict[str, Any]:
    """The run as a JSON-able dict: the ``--json`` output and the rows of the closing table."""
    return {
        "source": source,
        "project": project,
        "status": result.save.status,
        "mode": result.mode,
        "since": result.since.isoformat() if result.since else None,
        "threads_fetched": result.threads_fetched,
        "rows": result.save.rows,
        "file": str(result.save.path),
        "bytes": result.save.bytes,
        "requests": reporter.requests,
        "waits": len(reporter.waits),
        "waited_seconds": round(sum(w.seconds for w in reporter.waits), 3),
        "seconds": round(seconds, 3),
        "note": result.note,
    }


def closing_table(report: dict[str, Any], title: str) -> Table:
    """The rich table printed at the end of a fetch."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = report["rows"]
    for label, value in (
        ("status", f"{report['status']} ({report['mode']})"),
        ("since", report["since"] or "–"),
        ("threads re-fetched", f"{report['threads_fetched']:,}"),
        *(
            (f"{name} in snapshot", f"{rows.get(name, 0):,}")
            for name in ("threads", "comments", "notes", "profiles")
        ),
        ("requests", f"{report['requests']:,}"),
        ("waits", f"{report['waits']} ({report['waited_seconds']:.1f} s)"),
        ("time", f"{report['seconds']:.1f} s"),
        ("file", report["file"]),
    ):
        table.add_row(label, str(value))
    return table


def finish(report: dict[str, Any], *, title: str, quiet: bool, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    elif not quiet:
        Console().print(closing_table(report, title))


def retry_options(function: Any) -> Any:
    """--max-attempts, --max-time, --backoff, --timeout (the shared HTTP layer's policy)."""
    options = [
        click.option(
            "--max-attempts",
            type=click.IntRange(min=1),
            default=GITHUB_POLICY.max_attempts,
            show_default=True,
            help="Attempts per request.",
        ),
        click.option(
            "--max-time",
            type=click.FloatRange(min=0),
            default=None,
            help=(
                "Seconds of retrying per request "
                "[default: GitHub 3900, to sit out an hourly reset; Discourse 600]."
            ),
        ),
        click.option(
            "--backoff",
            type=click.FloatRange(min=0),
            default=GITHUB_POLICY.backoff,
            show_default=True,
            help="First retry delay in seconds (doubles, with full jitter).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.01),
            default=120.0,
            show_default=True,
            help="Seconds to wait for one answer.",
        ),
        click.option(
            "--since",
            "since",
            default="auto",
            show_default=True,
            metavar="auto|full|ISO-DATE",
            help=(
                "auto: only what changed since the newest snapshot (full fetch when there is none); "
                "full: everything; a date: what changed since then, merged into the newest snapshot."
            ),
        ),
        click.option(
            "--data",
            "data_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("data"),
            show_default=True,
            help="Data folder (snapshots under DATA/exports/<source>/<project>/).",
        ),
        click.option("--quiet", is_flag=True, help="No progress display and no table."),
        click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON on stdout."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def policy_from(
    base: RetryPolicy, max_attempts: int, max_time: float | None, backoff: float, timeout: float
) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=max_attempts,
        max_time=base.max_time if max_time is None else max_time,
        backoff=backoff,
        max_backoff=base.max_backoff,
        timeout=(min(10.0, timeout), timeout),
        max_wait=base.max_wait if max_time is None else min(base.max_wait, max_time),
    )


@click.command(name="github")
@click.option("--repo", required=True, metavar="OWNER/NAME", help="The repository, e.g. PyGithub/PyGithub.")
@click.option(
    "--include-pulls", is_flag=True, help="Also pull requests (their conversation, not review comments)."
)
@click.option("--api-url", default=None, help=f"REST API root [default: $GITHUB_API_URL, else {PUBLIC_API}].")
@click.option(
    "--graphql-url",
    default=None,
    help=f"GraphQL endpoint [default: $GITHUB_GRAPHQL_URL, else {PUBLIC_GRAPHQL}].",
)
@click.option("--no-discussions", is_flag=True, help="Skip Discussions (GraphQL).")
@click.option(
    "--secondary-wait",
    type=click.FloatRange(min=0),
    default=60.0,
    hidden=True,
    help="Least wait after a secondary limit without retry-after (tests lower it).",
)
@retry_options
def command(
    repo: str,
    include_pulls: bool,
    api_url: str | None,
    graphql_url: str | None,
    no_discussions: bool,
    secondary_wait: float,
    max_attempts: int,
    max_time: float | None,
    backoff: float,
    timeout: float,
    since: str,
    data_dir: Path,
    quiet: bool,
    as_json: bool,
) -> None:
    """Fetch a GitHub repository's issues, comments and Discussions into DATA/exports/github/OWNER__NAME/.

    Needs GITHUB_TOKEN for useful rate limits (60 requests an hour without it). Rate limits are
    waited out (the display shows until when); the snapshot is complete or not written at all.
    """
    err = Console(stderr=True)
    match = REPO_PATTERN.match(repo)
    if not match:
        raise InputError(f"--repo {repo!r}: expected OWNER/NAME")
    owner, name = match.groups()
    api = check_url("--api-url", api_url or os.environ.get("GITHUB_API_URL") or PUBLIC_API, err)
    graphql = check_url(
        "--graphql-url", graphql_url or os.environ.get("GITHUB_GRAPHQL_URL") or PUBLIC_GRAPHQL, err
    )
    token = os.environ.get(TOKEN_VARIABLE) or None
    if token is None:
        skipped = "" if no_discussions else "; Discussions skipped (GitHub's GraphQL API needs a token)"
        err.print(
            f"[bold yellow]WARNING:[/] {TOKEN_VARIABLE} is not set: unauthenticated, "
            f"60 requests an hour{skipped}."
        )
        no_discussions = True
    policy = policy_from(GITHUB_POLICY, max_attempts, max_time, backoff, timeout)
    project = project_name(owner, name)
    start = time.monotonic()
    with display(err, quiet) as shown:
        reporter = shown.reporter()
        run = GitHubFetch(
            owner,
            name,
            token=token,
            api_url=api,
            graphql_url=graphql,
            include_pulls=include_pulls,
            discussions_enabled=not no_discussions,
            policy=policy,
            limits=GitHubLimits(secondary_min_wait=secondary_wait),
            reporter=reporter,
        )
        result = sync(data_dir, "github", project, run, since, run.options)
    report = summary("github", project, result, reporter, time.monotonic() - start)
    report["fetched"] = run.counts
    finish(report, title=f"GitHub {owner}/{name} → {data_dir}", quiet=quiet, as_json=as_json)
