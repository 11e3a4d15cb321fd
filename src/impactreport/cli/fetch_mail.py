"""``impactreport fetch mbox|pipermail|hyperkitty``: mailing-list archives into ``mail`` snapshots.

Three commands, one source (``mail``): local mbox files, a Mailman 2 (Pipermail) archive, a Mailman 3
(HyperKitty) list. Each is registered in :mod:`impactreport.cli.fetch` through its own small module
(``fetch_mbox``, ``fetch_pipermail``, ``fetch_hyperkitty``), since the lazy group loads one command
per module. See docs/sources.md, "Mailing lists".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from impactreport.errors import InputError

from .console import err_console, notice
from .fetch_options import (
    SyncSettings,
    check_url,
    closing_table,
    data_option,
    only_result,
    output_options,
    run,
    run_incremental,
    show_result,
    stack,
    summary,
    sync_options,
)

if TYPE_CHECKING:
    from impactreport.fetch.http import RetryPolicy

#: A list name as a project folder: letters, digits, ``.``, ``_``, ``-``; not starting with ``.``.
LIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
HTTP_WARNING = "the archive is read unencrypted (a local test server?)."


def _policy() -> (
    RetryPolicy
):  # the mail fetchers' retry defaults (imported late: fetch modules import requests)
    from impactreport.fetch.mail_archive import MAIL_POLICY

    return MAIL_POLICY


@click.command(name="mbox")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--list", "list_name", required=True, metavar="NAME", help="The list (project) to store them as."
)
@stack(
    click.option(
        "--since",
        type=click.Choice(["auto", "full"], case_sensitive=False),
        default="auto",
        show_default=True,
        help="auto: add the files to the list's newest snapshot; full: the snapshot holds only these files.",
    ),
    data_option("Data folder (snapshots under DATA/exports/mail/<list>/)."),
    output_options(json_help="Print the outcome as JSON on stdout."),
)
def mbox_command(
    paths: tuple[Path, ...], list_name: str, since: str, data_dir: Path, quiet: bool, as_json: bool
) -> None:
    """Import local mbox files (plain or .gz) into DATA/exports/mail/NAME/.

    Every file is read and parsed before anything is stored. A later import adds to the list's newest
    snapshot (a message already there counts once); --since full keeps only the files given.
    """
    from impactreport.fetch.mbox_import import MboxImport, read_mbox_files

    if not LIST_NAME.match(list_name):
        raise InputError(f"--list {list_name!r}: expected a name of letters, digits, '.', '_' or '-'")
    messages, undated = read_mbox_files(list(paths))
    if not messages:
        raise InputError(f"{', '.join(map(str, paths))}: no messages (empty mbox files); nothing stored")
    if undated:
        notice(err_console(), f"{undated} messages without any date (Date header or From line): skipped")
    source = MboxImport(list_name, messages, files=len(paths), undated=undated)
    # as run_incremental, without the retry settings a local import has no use for
    outcome = run(source, data_dir, quiet=quiet, as_json=as_json, since=since)
    report = summary(source.source, only_result(outcome), outcome.seconds)
    title = f"mbox ({len(paths)} files) → {data_dir}"
    show_result(report, lambda: closing_table(report, title), quiet=quiet, as_json=as_json)


@click.command(name="pipermail")
@click.option(
    "--url", required=True, help="The list's archive, e.g. https://mail.example.org/pipermail/LIST/"
)
@sync_options(_policy())
def pipermail_command(url: str, settings: SyncSettings) -> None:
    """Fetch a Mailman 2 (Pipermail) archive into DATA/exports/mail/HOST__LIST/.

    The index page's monthly text archives (YYYY-Month.txt.gz) are downloaded; later fetches ask for
    each month with its ETag/Last-Modified and download only new or changed months.
    """
    from impactreport.fetch.pipermail import PipermailFetch

    base = check_url("--url", url, err_console(), http_warning=HTTP_WARNING)
    source = PipermailFetch(base, policy=settings.policy(_policy()))
    run_incremental(source, settings, title=f"Pipermail {base} → {settings.data_dir}")


@click.command(name="hyperkitty")
@click.option(
    "--url", required=True, help="The list, e.g. https://lists.example.org/hyperkitty/list/NAME@DOMAIN/"
)
@click.option(
    "--start", default=None, metavar="YYYY-MM", help="First month (default: the list's created_at)."
)
@sync_options(_policy())
def hyperkitty_command(url: str, start: str | None, settings: SyncSettings) -> None:
    """Fetch a Mailman 3 (HyperKitty) list, one monthly mbox export at a time, into
    DATA/exports/mail/HOST__NAME/.

    Months from the list's creation (or --start) to now; later fetches download again only the months
    since the previous snapshot.
    """
    from impactreport.fetch.hyperkitty import HyperKittyFetch

    base = check_url("--url", url, err_console(), http_warning=HTTP_WARNING)
    source = HyperKittyFetch(base, policy=settings.policy(_policy()), start=start)
    run_incremental(source, settings, title=f"HyperKitty {base} → {settings.data_dir}")
