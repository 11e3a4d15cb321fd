"""``impactreport fetch thinklab``: download project exports into dated snapshots.

Credentials come from ``IMPACTREPORT_THINKLAB_EMAIL`` / ``IMPACTREPORT_THINKLAB_PASSWORD`` or a
``--login-file`` (JSON, readable by its owner only): never from the command line, where other users
could read them in the process list.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from impactreport.errors import InputError
from impactreport.fetch.http import HttpClient, RetryPolicy
from impactreport.fetch.sync import ProjectResult
from impactreport.fetch.thinklab import ThinklabClient, ThinklabSource
from impactreport.files import read_user_text

from .console import err_console, inert
from .fetch_options import (
    THINKLAB_DATA_HELP,
    check_url,
    data_option,
    output_options,
    report_failures,
    retry_options,
    run,
    show_result,
)

EMAIL_VARIABLE = "IMPACTREPORT_THINKLAB_EMAIL"
PASSWORD_VARIABLE = "IMPACTREPORT_THINKLAB_PASSWORD"
DEFAULTS = RetryPolicy()
PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
URL_CREDENTIALS = "--base-url must not contain credentials; use the environment or --login-file"
PLAIN_HTTP = (
    "the password and session cookie travel unencrypted. Use https unless this is a local test server."
)


def read_credentials(login_file: Path | None) -> tuple[str, str]:
    """(email, password) from the login file or the environment; InputError naming what is missing."""
    if login_file is not None:
        try:
            mode = login_file.stat().st_mode
        except OSError as error:
            raise InputError(f"{login_file}: cannot read the login file ({error.strerror})") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputError(
                f"{login_file}: readable by group or others; refusing it (run: chmod 600 {login_file})"
            )
        try:
            data = json.loads(read_user_text(login_file, "login file"))
        except ValueError as error:
            raise InputError(f"{login_file}: not a JSON object with email and password ({error})") from None
        if not isinstance(data, dict):
            raise InputError(f"{login_file}: not a JSON object with email and password")
        email, password = data.get("email"), data.get("password")
        for name, value in (("email", email), ("password", password)):
            if not isinstance(value, str) or not value:
                raise InputError(f"{login_file}: field {name!r} is missing or empty")
        return str(email), str(password)
    email = os.environ.get(EMAIL_VARIABLE, "")
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if not email or not password:
        missing = [
            name for name, value in ((EMAIL_VARIABLE, email), (PASSWORD_VARIABLE, password)) if not value
        ]
        raise InputError(f"no Thinklab credentials: set {' and '.join(missing)} or pass --login-file")
    return email, password


def check_base_url(base_url: str, console: Console) -> str:
    """The base URL without a trailing slash; a loud warning when it is plain http."""
    return check_url(
        "--base-url",
        base_url,
        console,
        refuse_query=False,
        credentials_error=URL_CREDENTIALS,
        http_warning=PLAIN_HTTP,
    )


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return str(size)


STYLES = {"stored": "green", "unchanged": "cyan", "failed": "bold red"}


def outcome(item: ProjectResult) -> dict[str, Any]:
    """One project's record in ``--json`` (and a row of the closing table)."""
    failed = item.status == "failed"
    return {
        "project": item.project,
        "status": item.status,
        "rows": 0 if failed else sum(item.rows.values()),
        "bytes": 0 if failed else item.bytes,
        "attempts": item.details.get("attempts", 0),
        "seconds": item.seconds,
        "file": None if failed or item.file is None else str(item.file),
        "error": item.error,
        "tables": {} if failed else item.rows,
    }


def outcome_table(records: Sequence[dict[str, Any]], title: str) -> Table:
    """The closing table: one row per project."""
    table = Table(title=inert(title), title_justify="left")
    table.add_column("Project")
    table.add_column("Status")
    for header in ("Rows", "Bytes", "Attempts", "Time"):
        table.add_column(header, justify="right")
    for item in records:
        failed = item["status"] == "failed"
        table.add_row(
            inert(item["project"]),
            inert(item["status"], STYLES.get(item["status"], "")),
            "–" if failed else f"{item['rows']:,}",
            _human_bytes(item["bytes"]) if item["bytes"] else "–",
            str(item["attempts"]),
            f"{item['seconds']:.1f} s",
        )
    return table


@click.command(name="thinklab")
@click.option("--base-url", required=True, help="Thinklab server, e.g. https://thinklab.com")
@click.option("--project", "projects", multiple=True, metavar="ID", help="Project id (repeatable).")
@click.option("--all", "all_projects", is_flag=True, help="Every project on the listing pages.")
@data_option(THINKLAB_DATA_HELP)
@click.option(
    "--login-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"JSON with email and password (mode 600). Default: ${EMAIL_VARIABLE} and ${PASSWORD_VARIABLE}.",
)
@retry_options(
    DEFAULTS,
    attempts_help="Attempts per request (export, login, listing) before giving up.",
    max_time_help="Seconds of retrying per project before giving up.",
    timeout_help="Seconds to wait for the server to answer one request.",
)
@output_options(
    quiet_help="No progress display and no table (errors still print).",
    json_help="Print the outcome per project as JSON.",
)
def command(
    base_url: str,
    projects: tuple[str, ...],
    all_projects: bool,
    data_dir: Path,
    login_file: Path | None,
    max_attempts: int,
    max_time: float,
    backoff: float,
    timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Download Thinklab project exports into DATA/exports/thinklab/<project>/<retrieved>.json.gz.

    A project whose content equals its newest snapshot is reported as "unchanged" and nothing is written.
    """
    err = err_console()
    if bool(projects) == all_projects:
        raise InputError("give --project ID (one or more) or --all, not both and not neither")
    for project in projects:
        if not PROJECT_ID.match(project):
            raise InputError(f"--project {project!r}: not a Thinklab project id (letters, digits, . _ -)")
    base_url = check_base_url(base_url, err)
    email, password = read_credentials(login_file)
    policy = RetryPolicy(
        max_attempts=max_attempts,
        max_time=max_time,
        backoff=backoff,
        timeout=(min(10.0, timeout), timeout),
    )
    client = ThinklabClient(base_url, email, password, HttpClient(policy=policy))
    done = run(ThinklabSource(client, projects), data_dir, quiet=quiet, as_json=as_json)
    records = [outcome(item) for item in done.results]
    title = f"Thinklab exports → {data_dir}"
    show_result(records, lambda: outcome_table(records, title), quiet=quiet, as_json=as_json)
    report_failures(done)
