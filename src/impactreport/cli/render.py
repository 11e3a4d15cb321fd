"""``impactreport render``: the Quarto report to HTML, PDF and/or Word, with Quarto or the built-in renderer.

``-P key:value`` works as in ``quarto render``: the value is read as YAML, so ``-P projects:[rephetio]``
is a list and ``-P bandwidth:14`` a number; a text parameter (``title``, ``author``, ``since``…) is taken
literally, so ``-P 'title:Year 1 #2'`` keeps its ``#``.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import date, datetime
from typing import Any

import click
import yaml
from rich.table import Table

from impactreport.cli.console import err_console, inert, notice, out_console, warn
from impactreport.errors import InputError
from impactreport.yaml_bounded import load_bounded

TO_FORMATS = {"html": ("html",), "pdf": ("pdf",), "docx": ("docx",), "all": ("html", "pdf", "docx")}
#: ``--timeout`` default, seconds (``impactreport.render.execute.TIMEOUT``; not imported from there so
#: that ``--help`` does not load Jupyter).
TIMEOUT = 1800


def text_params() -> frozenset[str]:
    """Parameters whose value is text: taken literally from ``-P key:value`` (no YAML reading)."""
    from dataclasses import fields

    from impactreport.settings import ReportParams

    return frozenset(f.name for f in fields(ReportParams) if f.type in ("str", str))


def parse_param(text: str) -> tuple[str, Any]:
    """``key:value`` → ``(key, value)``: the text itself for a text parameter (a title may hold ``#``
    or ``: ``), else YAML read with bounded cost (no aliases, bounded depth); dates become ``YYYY-MM-DD``
    strings (papermill-safe). A ``#`` that YAML would take as a comment is an error, never a silent cut."""
    shown = text if len(text) <= 80 else f"{text[:60]}…({len(text):,} characters)"
    key, separator, raw = text.partition(":")
    key = key.strip()
    if not separator or not key or not key.replace("_", "").isalnum():
        raise InputError(f"-P {shown!r}: expected key:value, e.g. -P projects:[rephetio]")
    if key in text_params():
        return key, raw.strip()
    try:
        value = load_bounded(raw, f"-P {shown!r}", "a report parameter") if raw.strip() else ""
    except yaml.YAMLError:
        raise InputError(f"-P {shown!r}: the value is not valid YAML") from None
    except ValueError:
        # YAML reads 2017-13-01 as a date and fails: keep the text, the parameter check names it
        value = raw.strip()
    if "#" in raw and "#" not in repr(value):
        raise InputError(f"-P {shown!r}: YAML reads '#' as the start of a comment; quote the value")
    return key, _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM: stop the kernel or Quarto (the render then ends as ``Stopped``); between stages, exit."""
    from impactreport.render.execute import stop_running

    if not stop_running(signum):
        raise SystemExit(128 + signum)


@click.command(name="render")
@click.option(
    "--to",
    "to",
    type=click.Choice(sorted(TO_FORMATS)),
    default="all",
    show_default=True,
    help="Output format: html, pdf (Typst), docx (Word) or all three.",
)
@click.option(
    "-P",
    "--execute-param",
    "params",
    multiple=True,
    metavar="KEY:VALUE",
    help="Report parameter, value read as YAML (as quarto render -P), e.g. -P projects:[rephetio].",
)
@click.option(
    "--output-dir",
    type=click.Path(),
    default=None,
    help="Where index.html, index.pdf, index.docx and figures/ go (default: _output in the project).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "quarto", "builtin"]),
    default="auto",
    show_default=True,
    help="quarto: the Quarto CLI; builtin: Jupyter + Pandoc + Typst; auto: Quarto when found.",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Stop when the report's code runs longer than this (all cells together).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the files written as JSON.")
def command(
    to: str, params: tuple[str, ...], output_dir: str | None, engine: str, timeout: int, as_json: bool
) -> None:
    """Render report/index.qmd to _output/index.html, _output/index.pdf and _output/index.docx.

    Progress goes to stderr, one line per stage, then the report's warnings and notes, one line each;
    the files written go to stdout.
    """
    from impactreport.render import find_quarto, render
    from impactreport.render.notes import Message

    parameters = dict(parse_param(text) for text in params)
    used = engine if engine != "auto" else ("quarto" if find_quarto() else "builtin")
    console = err_console()
    started = time.perf_counter()

    def progress(line: str) -> None:
        console.print(inert(f"render: {line}"), soft_wrap=True)

    def message(shown: Message) -> None:
        """What the report warns about, on the terminal too (as ``summary`` prints it)."""
        (warn if shown.kind == "warning" else notice)(console, shown.text)

    from impactreport.render.execute import Stopped

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        written = render(
            TO_FORMATS[to],
            parameters,
            output_dir,
            engine,
            timeout=timeout,
            progress=progress,
            messages=message,
        )
    except Stopped as stopped:
        progress(str(stopped))
        raise SystemExit(128 + stopped.signum) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    seconds = time.perf_counter() - started
    progress(f"done in {seconds:.1f} s with {used}: {', '.join(path.name for path in written)}")
    if as_json:
        files = [str(path) for path in written]
        click.echo(json.dumps({"engine": used, "seconds": round(seconds, 2), "files": files}))
        return
    table = Table(title=f"Report rendered with {used} in {seconds:.1f} s")
    table.add_column("Format")
    table.add_column("File")
    for path in written:
        table.add_row(path.suffix.lstrip("."), inert(path))
    out_console().print(table)
