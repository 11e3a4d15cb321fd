"""What the ``impactreport fetch <source>`` commands share: their click options and their output.

Each option is written once here and parametrised where a source words it differently, so that
``--data``, ``--quiet``/``--json`` and the retry options mean the same thing (and check the same ranges)
in every fetch command. The progress display, the closing table and the ``--json`` shape of the
incremental API fetches (``fetch github``, ``fetch discourse``) live here too.

Nothing from :mod:`impactreport.fetch` is imported at the top: ``fetch archive`` uses only the options
and :func:`show_result`, and should not pay for importing requests (the Thinklab and API commands import
it anyway).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
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

if TYPE_CHECKING:
    from impactreport.fetch.github import Source, SyncResult
    from impactreport.fetch.http import RetryPolicy, WaitEvent
    from impactreport.fetch.ratelimits import Reporter

    class SyncRun(Source, Protocol):
        """A GitHub or Discourse run: what :func:`run_sync` needs besides :class:`Source`."""

        counts: dict[str, int]

        @property
        def options(self) -> dict[str, Any]: ...


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
        default=Path("data"),
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


@dataclass(frozen=True)
class SyncSettings:
    """The options of :func:`sync_options` as one value: a command receives them as ``settings``."""

    max_attempts: int
    max_time: float | None
    backoff: float
    timeout: float
    since: str
    data_dir: Path
    quiet: bool
    as_json: bool

    def policy(self, base: RetryPolicy) -> RetryPolicy:
        """``base`` (the source's policy) with the retry options applied."""
        return policy_from(base, self.max_attempts, self.max_time, self.backoff, self.timeout)


def sync_options(defaults: RetryPolicy) -> Decorator:
    """The options after the source-specific ones of ``fetch github`` and ``fetch discourse``.

    The command function gets them packed into one ``settings`` keyword (a :class:`SyncSettings`).
    """
    options = stack(
        retry_options(
            defaults,
            max_time_help=(
                "Seconds of retrying per request "
                "[default: GitHub 3900, to sit out an hourly reset; Discourse 600]."
            ),
            max_time_default_in_help=True,
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
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise InputError(f"{option} {url!r}: expected http(s)://host[/path]")
    if parsed.username or parsed.password or (refuse_query and parsed.query):
        raise InputError(
            credentials_error
            or f"{option}: must not carry credentials or a query; tokens come from the environment"
        )
    if parsed.scheme == "http":
        local = " (a local test server?)" if parsed.hostname in LOOPBACK else ""
        warning = http_warning or f"requests and any token travel unencrypted{local}."
        console.print(f"[bold red]WARNING:[/] {url} is plain http: {warning}")
    return url.rstrip("/")


# --- output ------------------------------------------------------------------------------------------


def show_result(payload: Any, table: Callable[[], Table], *, quiet: bool, as_json: bool) -> None:
    """``payload`` as JSON on stdout with ``--json``, else the closing ``table()`` unless ``--quiet``."""
    if as_json:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    elif not quiet:
        Console().print(table())


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
        from impactreport.fetch.ratelimits import clock  # see the module docstring

        if self.progress is None or self.task is None:
            return
        status = f"[yellow]waiting {event.seconds:.0f} s until {clock(event.seconds)}[/] ({event.reason})"
        self.progress.update(self.task, status=status)

    def reporter(self) -> Reporter:
        from impactreport.fetch.ratelimits import Reporter  # see the module docstring

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
    """The rich table printed at the end of an incremental fetch."""
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
    """The end of an incremental fetch: the :func:`summary` as JSON or as the closing table."""
    show_result(report, lambda: closing_table(report, title), quiet=quiet, as_json=as_json)


def run_sync(
    source: str,
    project: str,
    settings: SyncSettings,
    make_run: Callable[[Reporter], SyncRun],
    *,
    console: Console,
    title: str,
) -> None:
    """Fetch and store one snapshot under the progress display, then print the outcome.

    ``make_run`` builds the source's run around the display's reporter (the display must exist first).
    """
    from impactreport.fetch.github import sync  # see the module docstring

    start = time.monotonic()
    with display(console, settings.quiet) as shown:
        reporter = shown.reporter()
        run = make_run(reporter)
        result = sync(settings.data_dir, source, project, run, settings.since, run.options)
    report = summary(source, project, result, reporter, time.monotonic() - start)
    report["fetched"] = run.counts
    finish(report, title=title, quiet=settings.quiet, as_json=settings.as_json)
