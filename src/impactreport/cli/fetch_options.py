"""What the ``impactreport fetch <source>`` commands share: their click options and their output.

Each option is written once here and parametrised where a source words it differently, so that
``--data``, ``--quiet``/``--json`` and the retry options mean the same thing (and check the same ranges)
in every fetch command. The fetching itself (lock, ``--since``, the per-project loop, progress) is
:func:`impactreport.fetch.sync.sync`; here are only :func:`run` (sync under the progress display,
after saying where a new store is created), the printing of its outcome, and the closing table and
``--json`` shape of ``fetch github`` and ``fetch discourse``. Everything prints through
:mod:`impactreport.cli.console`.

Nothing from :mod:`impactreport.fetch` is imported at the top: ``fetch archive`` should not pay for
importing requests (the Thinklab and API commands import it anyway).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from impactreport.errors import FetchError, InputError
from impactreport.layout import EXPORTS_DIR
from impactreport.project import DATA_DIR

from .console import err_console, inert, notice, out_console, safe_text

if TYPE_CHECKING:
    from impactreport.fetch.http import RetryPolicy
    from impactreport.fetch.sync import ProjectResult, Source, SyncRun


F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: ``--data`` help of the commands that write Thinklab snapshots (``fetch thinklab``, ``fetch archive``).
THINKLAB_DATA_HELP = "Data folder; snapshots go to DATA/exports/thinklab/<project>/."
QUIET_HELP = "No progress display and no table."


# --- options -----------------------------------------------------------------------------------------


def stack(*decorators: Decorator) -> Decorator:
    """One decorator applying ``decorators`` so that the first listed is the first shown in ``--help``."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def data_option(help: str) -> Decorator:
    """``--data DIR`` (default ``data``), passed as ``data_dir``; ``help`` says where the source writes."""
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DATA_DIR,
        show_default=True,
        help=help,
    )


def output_options(*, json_help: str, quiet_help: str = QUIET_HELP) -> Decorator:
    """``--quiet`` and ``--json`` (passed as ``quiet`` and ``as_json``); see :func:`show_result`."""
    return stack(
        click.option("--quiet", is_flag=True, help=quiet_help),
        click.option("--json", "as_json", is_flag=True, help=json_help),
    )


def retry_options(
    defaults: RetryPolicy,
    *,
    max_time_help: str,
    attempts_help: str = "Attempts per request.",
    timeout_help: str = "Seconds to wait for one answer.",
    max_time_default_in_help: bool = False,
) -> Decorator:
    """``--max-attempts``, ``--max-time``, ``--backoff``, ``--timeout``: the shared HTTP layer's policy.

    Defaults come from ``defaults``. With ``max_time_default_in_help`` ``--max-time`` defaults to None
    (:func:`policy_from` then keeps each source's own budget) and ``max_time_help`` names the defaults.
    """
    max_time = None if max_time_default_in_help else defaults.max_time
    specs = (
        ("--max-attempts", click.IntRange(min=1), defaults.max_attempts, attempts_help),
        ("--max-time", click.FloatRange(min=0), max_time, max_time_help),
        (
            "--backoff",
            click.FloatRange(min=0),
            defaults.backoff,
            "First retry delay in seconds (doubles, with full jitter).",
        ),
        ("--timeout", click.FloatRange(min=0.01), defaults.timeout[1], timeout_help),
    )
    return stack(
        *(
            click.option(name, type=kind, default=default, show_default=default is not None, help=text)
            for name, kind, default, text in specs
        )
    )


since_option: Decorator = click.option(
    "--since",
    "since",
    default="auto",
    show_default=True,
    metavar="auto|full|ISO-DATE",
    help=(
        "auto: only what changed since the newest snapshot (full fetch when there is none); "
        "full: everything; a date: what changed since then, merged into the newest snapshot."
    ),
)


#: ``--fetch-time`` default: 23 hours, so a daily fetch never overlaps the next day's.
FETCH_TIME = 23 * 3600.0


@dataclass(frozen=True)
class SyncSettings:
    """The options of :func:`sync_options` as one value: a command receives them as ``settings``."""

    max_attempts: int
    max_time: float | None
    backoff: float
    timeout: float
    fetch_time: float
    since: str
    data_dir: Path
    quiet: bool
    as_json: bool

    def policy(self, base: RetryPolicy) -> RetryPolicy:
        """``base`` (the source's policy) with the retry options applied, and the whole fetch's
        deadline counted from now (a command asks for its policy once, as it starts)."""
        policy = policy_from(base, self.max_attempts, self.max_time, self.backoff, self.timeout)
        return dataclasses.replace(
            policy, fetch_time=self.fetch_time, ends_at=time.monotonic() + self.fetch_time
        )


def sync_options(defaults: RetryPolicy) -> Decorator:
    """The options after the source-specific ones of ``fetch github`` and ``fetch discourse``.

    The command function gets them packed into one ``settings`` keyword (a :class:`SyncSettings`).
    """
    options = stack(
        retry_options(
            defaults,
            max_time_help=(
                "Seconds of retrying per request "
                "[default: GitHub 3900, to sit out an hourly reset; Discourse, GitLab, mailing lists 600]."
            ),
            max_time_default_in_help=True,
        ),
        click.option(
            "--fetch-time",
            type=click.FloatRange(min=1),
            default=FETCH_TIME,
            show_default=True,
            help="Seconds the whole fetch may take (a daily cron job must end before the next one).",
        ),
        since_option,
        data_option("Data folder (snapshots under DATA/exports/<source>/<project>/)."),
        output_options(json_help="Print the outcome as JSON on stdout."),
    )
    names = [item.name for item in dataclasses.fields(SyncSettings)]

    def apply(function: F) -> F:
        @functools.wraps(function)
        def packed(**kwargs: Any) -> Any:
            settings = SyncSettings(**{name: kwargs.pop(name) for name in names})
            return function(settings=settings, **kwargs)

        return options(packed)

    return apply


def policy_from(
    base: RetryPolicy, max_attempts: int, max_time: float | None, backoff: float, timeout: float
) -> RetryPolicy:
    """``base`` with the retry options applied (``max_time`` None keeps the source's own budget)."""
    return dataclasses.replace(
        base,
        max_attempts=max_attempts,
        max_time=base.max_time if max_time is None else max_time,
        backoff=backoff,
        timeout=(min(10.0, timeout), timeout),
        max_wait=base.max_wait if max_time is None else min(base.max_wait, max_time),
    )


def check_url(
    option: str,
    url: str,
    console: Console,
    *,
    refuse_query: bool = True,
    credentials_error: str | None = None,
    http_warning: str | None = None,
) -> str:
    """A server URL without a trailing slash; refused with credentials in it, warned about on plain http.

    ``credentials_error`` and ``http_warning`` (what travels unencrypted) replace the wording for API
    tokens when a source sends something else (a password, a session cookie).
    """
    parsed = urlparse(url)
    if parsed.username or parsed.password:  # said before anything else, and without the URL
        raise InputError(
            credentials_error
            or f"{option}: must not carry credentials or a query; tokens come from the environment"
        )
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise InputError(f"{option} {safe_text(url)!r}: expected http(s)://host[/path]")
    if refuse_query and parsed.query:
        raise InputError(
            credentials_error
            or f"{option}: must not carry credentials or a query; tokens come from the environment"
        )
    if parsed.scheme == "http":
        local = " (a local test server?)" if parsed.hostname in LOOPBACK else ""
        warning = http_warning or f"requests and any token travel unencrypted{local}."
        loud(console, f"{url} is plain http: {warning}")
    return url.rstrip("/")


# --- output ------------------------------------------------------------------------------------------


def loud(console: Console, message: str) -> None:
    """``WARNING: <message>`` in bold red, the message inert: for what puts a secret at risk."""
    console.print(Text.assemble(("WARNING: ", "bold red"), safe_text(message)), soft_wrap=True)


def error_line(console: Console, message: str) -> None:
    """``impactreport: error: <message>`` on one line, inert (as the CLI prints an error it raises)."""
    console.print(Text("impactreport: error: " + safe_text(message)), soft_wrap=True)


def show_result(payload: Any, table: Callable[[], Table], *, quiet: bool, as_json: bool) -> None:
    """``payload`` as JSON on stdout with ``--json``, else the closing ``table()`` unless ``--quiet``.

    Not a terminal (cron logs, pipes): the table is printed at a fixed wide width, never cut to ``Ve…``.
    """
    if as_json:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    elif not quiet:
        out_console().print(table())


def run(source: Source, data_dir: Path, *, quiet: bool, as_json: bool, since: str = "auto") -> SyncRun:
    """:func:`~impactreport.fetch.sync.sync` under the progress display (on stderr, when it is a
    terminal and neither ``--quiet`` nor ``--json`` was given); its notes (a project stored in its
    existing folder of another case) follow on stderr, ``note: …``, whatever the options."""
    from impactreport.fetch.sync import sync  # see the module docstring

    from .progress import progress_display

    err = err_console()
    announce_new_store(err, data_dir)
    with progress_display(err, enabled=not (quiet or as_json)) as shown:
        outcome = sync(source, data_dir, since=since, display=shown)
    for note in outcome.notes:
        notice(err, note)
    return outcome


def announce_new_store(console: Console, data_dir: Path) -> None:
    """``note: creating data folder /abs/path/data/exports`` when the store does not exist yet.

    Why: ``--data`` defaults to ``data`` in the working folder, so a fetch run outside the project
    would otherwise silently start a new store wherever it was run; the absolute path says where.
    """
    exports = data_dir / EXPORTS_DIR
    if not os.path.lexists(exports):
        notice(console, f"creating data folder {os.path.abspath(exports)}")


def report_failures(outcome: SyncRun) -> None:
    """One line on stderr per failed project, then raise (exit 1) when any failed."""
    failed = outcome.failed
    if not failed:
        return
    err = err_console()
    for item in failed:
        error_line(err, f"{item.project}: {item.error}")
    raise FetchError(f"{len(failed)} of {len(outcome.results)} projects failed")


def only_result(outcome: SyncRun) -> ProjectResult:
    """The one project's result of a one-project source; its failure is the command's one error line."""
    [item] = outcome.results
    if item.status == "failed":
        raise FetchError(item.error or "failed")
    return item


def summary(source: str, item: ProjectResult, seconds: float) -> dict[str, Any]:
    """An incremental fetch as a JSON-able dict: the ``--json`` output and the rows of the closing table."""
    return {
        "source": source,
        "project": item.project,
        "status": item.status,
        "mode": item.mode,
        "since": item.since.isoformat() if item.since else None,
        "threads_fetched": item.details.get("threads_fetched", 0),
        "rows": item.rows,
        "file": str(item.file),
        "bytes": item.bytes,
        "requests": item.requests,
        "waits": len(item.waits),
        "waited_seconds": round(item.waited_seconds, 3),
        "seconds": round(seconds, 3),
        "note": item.note,
        "fetched": item.details.get("fetched", {}),
    }


def closing_table(report: dict[str, Any], title: str) -> Table:
    """The rich table printed at the end of an incremental fetch."""
    table = Table(title=inert(title), title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right", overflow="fold")
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
        table.add_row(label, inert(value))
    return table


def run_incremental(source: Source, settings: SyncSettings, *, title: str) -> None:
    """``fetch github`` / ``fetch discourse``: sync the one project, then print the outcome."""
    quiet, as_json = settings.quiet, settings.as_json
    outcome = run(source, settings.data_dir, quiet=quiet, as_json=as_json, since=settings.since)
    report = summary(source.source, only_result(outcome), outcome.seconds)
    show_result(report, lambda: closing_table(report, title), quiet=quiet, as_json=as_json)
