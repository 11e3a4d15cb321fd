"""The command line: every command documented in the README, the summary's human and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from impactreport.cli.main import cli, main
from impactreport.stats import KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def command_names(group: click.Group, prefix: str = "impactreport") -> list[str]:
    names = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names += command_names(command, f"{prefix} {name}")
    return names


def test_every_command_is_documented_in_the_readme() -> None:
    names = command_names(cli)
    assert {"impactreport summary", "impactreport fetch thinklab", "impactreport fetch github"} <= set(names)
    for name in names:
        assert f"`{name}" in README, f"{name} is not in the README"


def test_readme_lists_every_module_with_its_one_job() -> None:
    """Every package and module of src/impactreport in the README, each with its docstring's first line."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_modules import modules, modules_markdown

    assert all(line for _, line in modules()), [name for name, line in modules() if not line]
    assert modules_markdown() in README, "run scripts/readme_modules.py"


def test_readme_schema_is_current() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_schema import schema_markdown

    assert schema_markdown() in README, "run scripts/readme_schema.py"


@pytest.mark.shared
def test_summary_human_and_json(latest_dir: Path, capsys) -> None:
    assert main(["summary", str(latest_dir), "--team", "dhimmel"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("In total, 66 non-team members commented across 171 discussions")
    assert "rephetio" in out and "overall" in out
    assert main(["summary", str(latest_dir), "--json", "--project", "rephetio", "--project", "meta"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"overall", "sources", "projects", "notes"}
    assert result["notes"] == []  # how to read a number (none without a period)
    assert set(result["projects"]) == {"rephetio", "meta"} and set(result["sources"]) == {"thinklab"}
    for values in [result["overall"], *result["sources"].values()]:
        assert list(values) == list(KEYS)
    for values in result["projects"].values():
        assert list(values) == ["source", *KEYS]
    assert result["sources"]["thinklab"] == result["overall"]
    assert result["overall"]["comments"] == 622 + 188


@pytest.mark.shared
def test_console_script_exit_codes(latest_dir: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "impactreport"
    ok = subprocess.run([exe, "summary", str(latest_dir / "meta.json")], capture_output=True, text=True)
    assert ok.returncode == 0 and "In total," in ok.stdout
    bad = tmp_path / "x.json"
    bad.write_text("<html>502</html>")
    failed = subprocess.run([exe, "summary", str(bad)], capture_output=True, text=True)
    assert (
        failed.returncode == 2
        and failed.stderr.startswith("impactreport: error: ")
        and "Traceback" not in failed.stderr
    )
