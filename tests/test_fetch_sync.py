"""The one fetch loop (:mod:`impactreport.fetch.sync`): ``--since``, per-project failures, cron-log output.

The sources here are small real implementations of the :class:`Source` protocol writing to a real store
in a temporary folder; the CLI checks run the real command as a separate process with stdout a pipe,
as cron runs it.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from impactreport.cli.fetch_options import report_failures
from impactreport.errors import FetchError, InputError
from impactreport.fetch.ratelimits import Reporter
from impactreport.fetch.store import read_snapshot
from impactreport.fetch.sync import SAFETY_MARGIN, Since, Snapshot, resolve_since, sync
from tests import builders, runner


def export(threads: int) -> dict[str, Any]:
    """A small export in the five-table layout, with ``threads`` thread rows (ids and subjects only)."""
    return builders.export(threads=[{"thread_id": i, "subject": f"t{i}"} for i in range(threads)])


class Projects:
    """A source of whole exports: ``broken`` projects fail with a one-line :class:`FetchError`."""

    source = "thinklab"

    def __init__(self, exports: dict[str, dict[str, Any]], broken: dict[str, str] | None = None) -> None:
        self.exports, self.broken = exports, broken or {}
        self.reporter = Reporter()
        self.asked: list[Since] = []

    @property
    def options(self) -> dict[str, Any] | None:
        return None

    def projects(self) -> list[str]:
        return sorted([*self.exports, *self.broken])

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        self.asked.append(since)
        self.reporter.attempt(1)
        if project in self.broken:
            raise FetchError(self.broken[project])
        yield Snapshot(payload=self.exports[project])


class Incremental(Projects):
    """A source that resumes (``options`` set): it records the ``Since`` each fetch was given."""

    source = "github"

    def __init__(self, exports: dict[str, dict[str, Any]], options: dict[str, Any]) -> None:
        super().__init__(exports)
        self._options = options

    @property
    def options(self) -> dict[str, Any] | None:
        return self._options

    def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
        self.asked.append(since)
        payload = dict(self.exports[project], options=self._options)
        yield Snapshot(payload=payload)


# -- resolve_since ---------------------------------------------------------------------------------


def test_resolve_since_auto_full_and_dates() -> None:
    options = {"include_pulls": False}
    previous = {"retrieved": "2024-05-02T10:00:00.000000Z", "options": options}
    retrieved = datetime(2024, 5, 2, 10, tzinfo=UTC)

    assert resolve_since("full", previous, options) == Since()
    assert resolve_since("auto", None, options).note == "no earlier snapshot: full fetch"
    other = resolve_since("auto", previous, {"include_pulls": True})
    assert other.moment is None and "other options" in other.note
    auto = resolve_since(" AUTO ", previous, options)
    assert auto.moment == retrieved - SAFETY_MARGIN and auto.previous is previous
    assert auto.mode == "incremental" and timedelta(minutes=10) == SAFETY_MARGIN
    # a date without a zone is UTC; with one it is converted
    assert resolve_since("2024-05-01", previous, options).moment == datetime(2024, 5, 1, tzinfo=UTC)
    assert resolve_since("2024-05-01T12:00+02:00", previous, options).moment == datetime(
        2024, 5, 1, 10, tzinfo=UTC
    )
    for option, prior, wanted in (
        ("yesterday", previous, "--since: 'yesterday' is not auto, full or an ISO date"),
        ("2024-05-01", None, "there is none yet"),
        ("2024-05-01", {**previous, "options": {"include_pulls": True}}, "run with --since full"),
    ):
        with pytest.raises(InputError) as caught:
            resolve_since(option, prior, options)
        assert wanted in str(caught.value) and "\n" not in str(caught.value)


def test_since_complete_assembles_or_merges() -> None:
    from impactreport.fetch import mapping

    issue = {"id": 5, "number": 1, "title": "T", "user": {"login": "ann", "id": 7, "type": "User"}}
    issue |= {"created_at": "2024-01-01T00:00:00Z", "html_url": "i", "body": "b"}
    part = mapping.github_issue(issue, [])
    full = Since().complete([part], "github")
    assert len(full["threads"]) == 1 and full["source"] == "github"
    renamed = mapping.github_issue({**issue, "title": "Renamed"}, [])
    merged = Since(datetime(2024, 1, 2, tzinfo=UTC), full).complete([renamed], "github")
    assert [t["subject"] for t in merged["threads"]] == ["Renamed"]


# -- sync ------------------------------------------------------------------------------------------


def test_a_failed_project_gets_its_row_and_the_others_are_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = Projects({"alpha": export(2), "gamma": export(3)}, broken={"beta": "gave up: HTTP 502"})
    run = sync(source, tmp_path)
    rows = {item.project: item for item in run.results}
    assert [item.project for item in run.results] == ["alpha", "beta", "gamma"]  # the source's order
    assert rows["beta"].status == "failed" and rows["beta"].error == "gave up: HTTP 502"
    assert rows["beta"].file is None and rows["beta"].stored == 0
    assert not (tmp_path / "exports/thinklab/beta").exists()
    for project, threads in (("alpha", 2), ("gamma", 3)):
        item = rows[project]
        assert item.status == "stored" and item.rows["threads"] == threads and item.requests == 1
        assert item.file is not None and item.file.parent == tmp_path / "exports/thinklab" / project
        assert item.bytes == item.file.stat().st_size > 0
        assert len(read_snapshot(item.file)["threads"]) == threads
    assert run.exit_code == 1 and [item.project for item in run.failed] == ["beta"]
    with pytest.raises(FetchError, match=r"^1 of 3 projects failed$"):
        report_failures(run)
    assert capsys.readouterr().err.splitlines() == ["impactreport: error: beta: gave up: HTTP 502"]

    again = sync(Projects({"alpha": export(2), "gamma": export(3)}), tmp_path)
    assert [item.status for item in again.results] == ["unchanged", "unchanged"] and again.exit_code == 0
    assert [item.file for item in again.results] == [rows["alpha"].file, rows["gamma"].file]


def test_input_errors_stop_the_run(tmp_path: Path) -> None:
    class Refusing(Projects):
        def fetch(self, project: str, since: Since) -> Iterator[Snapshot]:
            raise InputError(f"--category {project!r}: no such category")
            yield  # pragma: no cover

    with pytest.raises(InputError, match="no such category"):
        sync(Refusing({"alpha": export(1), "beta": export(1)}), tmp_path)
    assert not (tmp_path / "exports/thinklab").exists()


def test_an_incremental_source_gets_the_previous_snapshot(tmp_path: Path) -> None:
    options = {"include_pulls": False}
    first = Incremental({"o__r": export(1)}, options)
    before = datetime.now(UTC)
    [full] = sync(first, tmp_path).results
    assert full.mode == "full" and first.asked[0] == Since(note="no earlier snapshot: full fetch")
    stored = read_snapshot(full.file) if full.file else {}
    assert stored["options"] == options
    # the snapshot is dated when the fetch started, so the next auto run starts 10 minutes before that
    retrieved = datetime.fromisoformat(stored["retrieved"].replace("Z", "+00:00"))
    assert before <= retrieved <= datetime.now(UTC)

    second = Incremental({"o__r": export(2)}, options)
    [item] = sync(second, tmp_path).results
    assert item.mode == "incremental" and item.since == retrieved - SAFETY_MARGIN
    assert second.asked[0].previous == stored and item.status == "stored"
    [full_again] = sync(Incremental({"o__r": export(2)}, options), tmp_path, since="full").results
    assert full_again.mode == "full" and full_again.status == "unchanged"


# -- the commands' output ----------------------------------------------------------------------------


def cli(*args: str, columns: str = "40") -> subprocess.CompletedProcess[str]:
    """Run ``impactreport fetch …`` with stdout and stderr pipes (not terminals), as cron does."""
    return runner.cli("fetch", *args, env={"COLUMNS": columns}, timeout=120)


def test_a_log_gets_the_whole_table_not_cut_headers(tmp_path: Path) -> None:
    folder = tmp_path / "exports-folder"
    for day, threads in (("2017-01-01", 1), ("2017-01-02", 2)):
        name = folder / day / "a_project_with_a_rather_long_name.json.gz"
        name.parent.mkdir(parents=True)
        payload = export(threads) | {"retrieved": f"{day}T12:00:00.000000Z"}
        name.write_bytes(gzip.compress(json.dumps(payload, indent=2, sort_keys=True).encode()))
    done = cli("archive", "--from", str(folder), "--data", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "Project" in line)
    for column in ("Project", "Versions", "Stored", "Unchanged", "Rows", "MB", "From", "To"):
        assert column in header, (column, header)
    assert "a_project_with_a_rather_long_name" in done.stdout
    assert "…" not in done.stdout
    # no progress display in a log: nothing on stderr but the new data folder it created
    assert done.stderr.splitlines() == [f"note: creating data folder {tmp_path / 'data' / 'exports'}"]


def test_a_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path) -> None:
    for command in (
        ["discourse", "--base-url", "ftp://u:PASSWORD@host/"],
        ["github", "--repo", "o/r", "--api-url", "https://u:PASSWORD@host/api"],
        ["thinklab", "--base-url", "ftp://u:PASSWORD@host/", "--all"],
    ):
        env_done = cli(*command, "--data", str(tmp_path))
        assert env_done.returncode == 2, env_done.stderr
        assert "PASSWORD" not in env_done.stderr + env_done.stdout
        assert len(env_done.stderr.strip().splitlines()) == 1
