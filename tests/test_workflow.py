"""The GitHub Actions workflow: weekly + manual, fetch → commit → quarto render → publish, secrets via env."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "impact-report.yml"
SECRET = re.compile(r"\$\{\{[^}]*\bsecrets\.")


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def steps(workflow: dict) -> list[dict]:
    jobs = workflow["jobs"]
    assert len(jobs) == 1
    return next(iter(jobs.values()))["steps"]


def _index(steps: list[dict], predicate) -> int:
    matches = [i for i, step in enumerate(steps) if predicate(step)]
    assert matches, "step not found"
    return matches[0]


def _uses(name: str):
    return lambda step: str(step.get("uses", "")).split("@")[0] == name


def _runs(pattern: str):
    return lambda step: re.search(pattern, step.get("run", "")) is not None


def test_triggers_weekly_and_by_hand(workflow: dict) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "workflow_dispatch" in triggers
    (schedule,) = triggers["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit() and 0 <= int(weekday) <= 6
    assert minute.isdigit() and hour.isdigit()


def test_steps_in_order(steps: list[dict]) -> None:
    order = [
        _index(steps, _uses("actions/checkout")),
        _index(steps, _uses("actions/setup-python")),
        _index(steps, _runs(r"pip install \.")),
        _index(steps, _uses("quarto-dev/quarto-actions/setup")),
        _index(steps, _runs(r"impactreport fetch ")),
        _index(steps, _runs(r"git commit")),
        _index(steps, _runs(r"(?m)^\s*quarto render\s*$")),
        _index(steps, _uses("actions/upload-pages-artifact")),
        _index(steps, _uses("actions/deploy-pages")),
    ]
    assert order == sorted(order)


def test_publishes_output_and_pins_quarto(steps: list[dict]) -> None:
    upload = steps[_index(steps, _uses("actions/upload-pages-artifact"))]
    assert upload["with"]["path"] == "_output"
    quarto = steps[_index(steps, _uses("quarto-dev/quarto-actions/setup"))]
    assert str(quarto["with"]["version"]) == "1.7.34"
    commit = steps[_index(steps, _runs(r"git commit"))]["run"]
    assert "data/exports" in commit and "git push" in commit


def test_permissions(workflow: dict) -> None:
    assert workflow["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}


def test_secrets_only_through_env(workflow: dict, steps: list[dict]) -> None:
    """Every ``secrets.`` reference is the value of an ``env`` entry; none is in a command or ``with``."""
    fetch = steps[_index(steps, _runs(r"impactreport fetch "))]
    secret_env = {key for key, value in fetch.get("env", {}).items() if SECRET.search(str(value))}
    assert {"GITHUB_TOKEN", "IMPACTREPORT_THINKLAB_EMAIL", "IMPACTREPORT_THINKLAB_PASSWORD"} <= secret_env
    for step in steps:
        for key, value in step.items():
            if key != "env":
                where = f"{step.get('name')}: {key}"
                assert not SECRET.search(yaml.safe_dump(value)), f"secret outside env in {where}"
        for value in step.get("env", {}).values():
            # an env value is a secret expression or not a secret at all, never a secret spliced into text
            assert not SECRET.search(str(value)) or re.fullmatch(r"\$\{\{[^}]*\}\}", str(value).strip())
    job = next(iter(workflow["jobs"].values()))
    assert not SECRET.search(yaml.safe_dump({k: v for k, v in job.items() if k != "steps"}))
    # the commands use the variables, never print them
    assert not re.search(r"echo[^\n]*\$\{?(GITHUB_TOKEN|IMPACTREPORT_THINKLAB_PASSWORD)", fetch["run"])
    raw = WORKFLOW.read_text(encoding="utf-8")
    assert len(SECRET.findall(raw)) == len(secret_env)
