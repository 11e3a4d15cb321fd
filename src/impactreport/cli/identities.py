"""``impactreport identities suggest``: candidate people across sources, as a file to review.

Why a separate step: merging accounts changes every count, and a shared username or full name is only a
hint (two people may both be ``alex``). The command writes suggestions; only the file the user edits and
passes (``--identities``, report parameter ``identities``, or ``data/identities.yml``) is ever applied.
"""

from __future__ import annotations

from pathlib import Path

import click

from impactreport.errors import InputError
from impactreport.identities import suggest, suggestions_yaml

from .console import err_console, notice


@click.group(name="identities")
def command() -> None:
    """People across sources: suggest which accounts are one person."""


@command.command(name="suggest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the suggestions to this file (default: print them).",
)
@click.option("--all-snapshots", is_flag=True, help="Read every snapshot, not only the newest per project.")
def suggest_command(paths: tuple[Path, ...], out: Path | None, all_snapshots: bool) -> None:
    """Candidate merges across sources in the exports at PATHS: accounts of two sources with the same
    username (ignoring case) or the same full name (Unicode NFKC, case folded), as identities YAML.

    Above each entry, comments say why it is proposed (``# why:``) and what argues against it
    (``# against:``: usernames or full names that differ), so a false match can be rejected.
    """
    from impactreport.files import write_atomic
    from impactreport.load import load_dataset

    dataset = load_dataset(list(paths), all_snapshots=all_snapshots)
    suggestions = suggest(dataset.posts)
    text = suggestions_yaml(suggestions)
    errors = err_console()
    people = "1 candidate person" if len(suggestions) == 1 else f"{len(suggestions)} candidate people"
    if out is None:
        click.echo(text, nl=False)
        notice(errors, f"{people}; review them, then save as data/identities.yml or pass --identities FILE")
        return
    from impactreport.figures.save import check_folder

    check_folder(out.parent, "--out")
    try:
        write_atomic(out, text.encode("utf-8"))
    except OSError as error:
        raise InputError(f"--out {out}: cannot write ({error.strerror or error})") from None
    notice(errors, f"{people} written to {out}; review them, then pass --identities {out}")
