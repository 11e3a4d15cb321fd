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
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from impactreport.errors import FetchError, InputError
from impactreport.fetch.http import HttpClient, HttpFailure, RetryPolicy, WaitEvent
from impactreport.fetch.store import SnapshotStore, store_lock
from impactreport.fetch.thinklab import SOURCE, ThinklabClient

from .fetch_options import (
    THINKLAB_DATA_HELP,
    check_url,
    data_option,
    output_options,
    retry_options,
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


@dataclass
class Outcome:
    """One project's line in the closing table (and in ``--json``)."""

    project: str
    status: str  # stored | unchanged | failed
    rows: int = 0
    bytes: int = 0
    attempts: int = 0
    seconds: float = 0.0
    file: str | None = None
    error: str | None = None
    tables: dict[str, int] = field(default_factory=dict)


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
            data = json.loads(login_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"{login_file}: not a JSON object with email and password ({error})") from None
        if not isinstance(data, dict):
            raise InputError(f"{login_file}: not a JSON object with email and password")
        email, password = data.get("email"), data.get("password")
        for name, value in (("email", email), ("password", password)):
            if not isinstance(value, str) or not value:
                raise InputError(f"{login_file}: field {name!r} is missing or empty")
        return email, password
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


def _human_bytes(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return str(size)


def outcome_table(outcomes: Sequence[Outcome], title: str) -> Table:
    """The closing table: one row per project."""
    table = Table(title=title, title_justify="left")
    table.add_column("Project")
    table.add_column("Status")
    for header in ("Rows", "Bytes", "Attempts", "Time"):
        table.add_column(header, justify="right")
    styles = {"stored": "green", "unchanged": "cyan", "failed": "bold red"}
    for item in outcomes:
        table.add_row(
            item.project,
            f"[{styles.get(item.status, '')}]{item.status}[/]",
            f"{item.rows:,}" if item.status != "failed" else "–",
            _human_bytes(item.bytes) if item.bytes else "–",
            str(item.attempts),
            f"{item.seconds:.1f} s",
        )
    return table


@contextmanager
def progress_display(console: Console, quiet: bool) -> Iterator[Progress | None]:
    """A rich progress display on stderr, or nothing with --quiet."""
    if quiet:
        yield None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        yield progress


def report(outcomes: Sequence[Outcome], *, title: str, quiet: bool, as_json: bool) -> None:
    """Print the closing table (or JSON on stdout), then one line per failure; raise if any failed."""
    failed = [item for item in outcomes if item.status == "failed"]
    rows = [asdict(item) for item in outcomes]
    show_result(rows, lambda: outcome_table(outcomes, title), quiet=quiet, as_json=as_json)
    for item in failed:
        click.echo(f"impactreport: error: {item.project}: {item.error}", err=True)
    if failed:
        raise FetchError(f"{len(failed)} of {len(outcomes)} projects failed")


def fetch_projects(
    client: ThinklabClient,
    store: SnapshotStore,
    projects: Sequence[str],
    progress: Progress | None,
) -> list[Outcome]:
    """Export and store each project; a failing project is recorded and the others go on."""
    outcomes = []
    overall = progress.add_task("all projects", total=len(projects), status="") if progress else None
    for project in projects:
        task = progress.add_task(project, total=1, status="downloading") if progress else None

        def on_wait(event: WaitEvent, task: Any = task) -> None:
            if progress is not None:
                status = f"attempt {event.attempt + 1} in {event.seconds:.1f} s ({event.reason})"
                progress.update(task, status=status)

        client.http.on_wait = on_wait
        start = time.monotonic()
        try:
            export = client.export(project)
            saved = store.save(SOURCE, project, export.payload)
        except HttpFailure as failure:
            outcome = Outcome(project, "failed", attempts=failure.attempts, error=str(failure))
            outcome.seconds = time.monotonic() - start
        else:
            outcome = Outcome(
                project,
                saved.status,
                rows=sum(saved.rows.values()),
                bytes=saved.bytes,
                attempts=export.attempts,
                seconds=time.monotonic() - start,
                file=str(saved.path),
                tables=saved.rows,
            )
        outcomes.append(outcome)
        if progress is not None:
            progress.update(task, completed=1, status=outcome.status)
            progress.advance(overall)
    return outcomes


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
    err = Console(stderr=True)
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
    with store_lock(data_dir):
        store = SnapshotStore(data_dir)
        try:
            client.login()
            selected = list(projects) if projects else client.list_projects()
        except HttpFailure as failure:
            raise FetchError(f"{base_url}: {failure}") from None
        if not selected:
            raise FetchError(f"{base_url}: the listing pages link no project (a.list-proj-name)")
        with progress_display(err, quiet) as progress:
            try:
                outcomes = fetch_projects(client, store, selected, progress)
            except OSError as error:  # disk full, permissions: nothing partial was left, but stop here
                raise FetchError(f"{data_dir}: cannot write a snapshot ({error.strerror or error})") from None
    report(outcomes, title=f"Thinklab exports → {data_dir}", quiet=quiet, as_json=as_json)
