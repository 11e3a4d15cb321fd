"""The CLI as tests run it: one way in a subprocess, one way in this process.

:func:`cli` runs ``python -m impactreport.cli.main`` as a separate process with stdout and stderr pipes,
as cron or a user's shell runs it: what a test of output, exit codes, signals or environment variables
needs. :func:`run_main` calls :func:`impactreport.cli.main.main` in this process and reads what it
printed from pytest's ``capsys``: the same command without a second interpreter's start-up (~1 s), for
the many tests that only read the numbers.

    done = cli("summary", path, "--json", env={"GITHUB_TOKEN": None})
    assert done.returncode == 0, done.stderr

    code, out, err = run_main(capsys, "summary", str(path))
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

#: The command line of the CLI module run by this interpreter (the test environment's package).
COMMAND = [sys.executable, "-m", "impactreport.cli.main"]


def environment(changes: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment with ``changes``: a value sets a variable, ``None`` removes it."""
    env = dict(os.environ)
    for name, value in (changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def unset(*prefixes: str) -> dict[str, None]:
    """Changes that remove every inherited variable starting with one of ``prefixes`` (a developer's
    ``GITHUB_TOKEN`` must not reach a test's fetch): ``cli(..., env=unset("GITHUB_") | {"COLUMNS": "200"})``."""
    return {name: None for name in os.environ if name.startswith(prefixes)}


def cli(
    *args: str | Path,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``impactreport ARGS`` as a separate process, text captured, never raising on the exit code.

    ``env`` changes the inherited environment (see :func:`environment`); ``timeout`` stops a hung run.
    """
    return subprocess.run(
        [*COMMAND, *map(str, args)],
        env=environment(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )


def cli_json(*args: str | Path, **options: Any) -> Any:
    """Run :func:`cli`, assert it succeeded, and parse its stdout as JSON (pass ``--json`` yourself)."""
    done = cli(*args, **options)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run ``impactreport ARGS`` in this process: (exit code, stdout, stderr) printed since ``capsys`` was
    last read."""
    from impactreport.cli.main import main

    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def main_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[Any, str]:
    """Run ``impactreport ARGS --json`` in this process, assert it succeeded: (parsed stdout, stderr)."""
    code, out, err = run_main(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out), err
