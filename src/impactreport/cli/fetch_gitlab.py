"""``impactreport fetch gitlab``: a GitLab project's issues and merge requests with their notes into a
snapshot.

The token comes from ``GITLAB_TOKEN`` only (never an option: argv is visible to other users) and is
sent as the ``PRIVATE-TOKEN`` header to the origin of ``--base-url`` alone. See docs/sources.md.
The shared sync options, the closing table and ``--json`` are :mod:`impactreport.cli.fetch_options`'.
"""

from __future__ import annotations

import os
import re

import click

from impactreport.errors import InputError
from impactreport.fetch.gitlab import PUBLIC_URL, GitLabFetch
from impactreport.fetch.ratelimits import GITLAB_POLICY

from .console import err_console, warn
from .fetch_options import SyncSettings, check_url, run_incremental, sync_options

TOKEN_VARIABLE = "GITLAB_TOKEN"
#: GROUP/NAME or GROUP/SUBGROUP/…/NAME: each part a GitLab path (letters, digits, ``_``, ``-``, ``.``;
#: starting with a letter, digit or ``_``).
PROJECT_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")


@click.command(name="gitlab")
@click.option(
    "--project", required=True, metavar="GROUP/NAME", help="The project's path, e.g. gitlab-org/cli."
)
@click.option("--base-url", default=PUBLIC_URL, show_default=True, help="The GitLab instance.")
@sync_options(GITLAB_POLICY)
def command(project: str, base_url: str, settings: SyncSettings) -> None:
    """Fetch a GitLab project's issues and merge requests with their notes into
    DATA/exports/gitlab/GROUP__NAME[@HOST]/.

    Uses GITLAB_TOKEN when set (needed for private projects). Rate limits are waited out; the
    snapshot is complete or not written at all.
    """
    err = err_console()
    if not PROJECT_PATTERN.match(project) or project.endswith((".git", ".atom")):
        raise InputError(f"--project {project!r}: expected GROUP/NAME (or GROUP/SUBGROUP/NAME)")
    base = check_url("--base-url", base_url, err)
    token = os.environ.get(TOKEN_VARIABLE) or None
    if token is None:
        warn(err, f"{TOKEN_VARIABLE} is not set: unauthenticated (public projects only).")
    source = GitLabFetch(project, token=token, base_url=base, policy=settings.policy(GITLAB_POLICY))
    run_incremental(source, settings, title=f"GitLab {project} → {settings.data_dir}")
