"""Entry point of the ``impactreport`` command: one subcommand per verb, each in its own module.

User errors (:class:`impactreport.errors.InputError`) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import click

from impactreport import __version__
from impactreport.errors import FetchError, InputError

from .console import safe_text
from .lazy import LazyGroup

COMMANDS = {
    "summary": ".summary",
    "figures": ".figures",
    "render": ".render",
    "fetch": ".fetch",
    "demo": ".demo",
    "identities": ".identities",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="impactreport")
def cli() -> None:
    """Impact numbers, figures and reports from open online discussions."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn user errors into one line and a non-zero exit code."""
    try:
        cli.main(args=argv, prog_name="impactreport", standalone_mode=False)
    except (InputError, FetchError) as error:
        # the message may quote a file name or a value from data: shown inert, on one line
        click.echo(f"impactreport: error: {safe_text(error)}", err=True)
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("impactreport: aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as error:
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
