"""``impactreport fetch github``: a repository's issues, comments and Discussions into a snapshot
(with ``--include-pulls`` also pull requests with their review comments and review bodies).

The token comes from ``GITHUB_TOKEN`` only (never an option: argv is visible to other users); the API
URLs default to ``GITHUB_API_URL`` / ``GITHUB_GRAPHQL_URL`` (set by GitHub Actions, and pointing at a
GitHub Enterprise Server there), then to the public API. See docs/sources.md.

The retry/output options, the closing table and the ``--json`` shape are shared with ``fetch discourse``
and live in :mod:`impactreport.cli.fetch_options`; the fetching is :func:`impactreport.fetch.sync.sync`.
"""

from __future__ import annotations

import os
import re

import click

from impactreport.errors import InputError
from impactreport.fetch.github import PUBLIC_API, PUBLIC_GRAPHQL, GitHubFetch
from impactreport.fetch.ratelimits import GITHUB_POLICY, GitHubLimits

from .console import err_console, warn
from .fetch_options import SyncSettings, check_url, run_incremental, sync_options

TOKEN_VARIABLE = "GITHUB_TOKEN"
REPO_PATTERN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/([A-Za-z0-9._-]+)$")


@click.command(name="github")
@click.option("--repo", required=True, metavar="OWNER/NAME", help="The repository, e.g. PyGithub/PyGithub.")
@click.option(
    "--include-pulls",
    is_flag=True,
    help="Also pull requests: their conversation, review comments and review bodies.",
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
@sync_options(GITHUB_POLICY)
def command(
    repo: str,
    include_pulls: bool,
    api_url: str | None,
    graphql_url: str | None,
    no_discussions: bool,
    secondary_wait: float,
    settings: SyncSettings,
) -> None:
    """Fetch a GitHub repository's issues, comments and Discussions into DATA/exports/github/OWNER__NAME/.

    Needs GITHUB_TOKEN for useful rate limits (60 requests an hour without it). Rate limits are
    waited out (the display shows until when); the snapshot is complete or not written at all.
    """
    err = err_console()
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
        warn(err, f"{TOKEN_VARIABLE} is not set: unauthenticated, 60 requests an hour{skipped}.")
        no_discussions = True
    source = GitHubFetch(
        owner,
        name,
        token=token,
        api_url=api,
        graphql_url=graphql,
        include_pulls=include_pulls,
        discussions_enabled=not no_discussions,
        policy=settings.policy(GITHUB_POLICY),
        limits=GitHubLimits(secondary_min_wait=secondary_wait),
    )
    run_incremental(source, settings, title=f"GitHub {owner}/{name} → {settings.data_dir}")
