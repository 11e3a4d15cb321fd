"""``impactreport fetch thinklab`` against a real Thinklab-like server on 127.0.0.1 with injected faults.

The fetch runs as a separate process (``python -m impactreport.cli.main``), as cron would run it, so a
SIGKILL hits a real process mid-download or mid-write.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from impactreport.fetch.http import HttpClient, HttpFailure, RetryPolicy, Wait, parse_retry_after
from impactreport.fetch.store import store_lock
from impactreport.fetch.thinklab import TABLES, project_links
from tests.runner import COMMAND, cli
from tests.servers.thinklab_app import FAULTS, ThinklabApp, ThinklabServer

PROJECTS = [
    "EdgeProject",
    "HHMI_Bcr_Abl",
    "LWT_FOR_OPEN_SCIENCE",
    "MicrobeResist",
    "dFoxPoperant",
    "issnindiadatabase",
    "meta",
    "pathways4life",
    "rephetio",
    "thinklabOSP",
]
PASSWORD = "pw-7f3a9c-Zebra!-never-shown"
FAST = ["--backoff", "0.01", "--timeout", "0.5", "--max-attempts", "40", "--max-time", "60"]


@pytest.fixture
def serve(latest_dir: Path) -> Iterator:
    """Start servers on demand: ``url, app = serve(fault_rate=..., ...)``; all stopped at the end."""
    running: list[ThinklabServer] = []

    def start(**options) -> tuple[str, ThinklabApp]:
        app = ThinklabApp(latest_dir, password=PASSWORD, slow_seconds=0.8, **options)
        server = ThinklabServer(app)
        running.append(server)
        return server.__enter__(), app

    yield start
    for server in running:
        server.__exit__(None, None, None)


def fetch_args(url: str, data: Path, *args: str) -> list[str]:
    return ["fetch", "thinklab", "--base-url", url, "--data", str(data), *args]


def fetch_command(url: str, data: Path, *args: str) -> list[str]:
    """The whole command line, for the runs a test watches or kills (``Popen``)."""
    return [*COMMAND, *fetch_args(url, data, *args)]


def credentials(app: ThinklabApp) -> dict[str, str]:
    return {
        **os.environ,
        "IMPACTREPORT_THINKLAB_EMAIL": app.email,
        "IMPACTREPORT_THINKLAB_PASSWORD": app.password,
        "COLUMNS": "200",
    }


def run_fetch(url: str, app: ThinklabApp, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*fetch_args(url, data, *args), env=credentials(app), timeout=300)


def snapshot(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def without_retrieved(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key != "retrieved"}


def check_store(data: Path, seen: dict[Path, str]) -> None:
    """Every visible snapshot is a complete gzip JSON export; earlier ones are byte-identical."""
    for path in sorted((data / "exports").rglob("*.json.gz")):
        if path.name.startswith("."):
            continue
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if path in seen:
            assert seen[path] == digest, f"{path} changed after it was written"
            continue
        payload = json.loads(gzip.decompress(raw))  # raises on a partial file
        assert all(isinstance(payload[table], list) for table in TABLES), path
        assert payload["retrieved"].endswith("Z")
        seen[path] = digest
    manifest = data / "exports/manifest.jsonl"
    if manifest.exists():
        text = manifest.read_text()
        assert text == "" or text.endswith("\n"), "a manifest line was cut short"
        for line in text.splitlines():
            row = json.loads(line)
            path = data / row["file"]
            assert path.exists(), f"manifest names a missing file {path}"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]


@pytest.mark.slow  # a fetch scenario: every project through a server failing 40% of requests
def test_all_projects_intact_under_40_percent_faults(serve, latest_dir: Path, tmp_path: Path) -> None:
    url, app = serve(fault_rate=0.4, seed=7)
    done = run_fetch(url, app, tmp_path, "--all", "--json", *FAST)
    assert done.returncode == 0, done.stderr
    outcomes = {item["project"]: item for item in json.loads(done.stdout)}
    assert sorted(outcomes) == PROJECTS
    assert {item["status"] for item in outcomes.values()} == {"stored"}
    for kind in FAULTS:  # every kind of fault was met and survived
        assert app.stats[f"fault:{kind}"] > 0, (kind, dict(app.stats))
    assert app.stats["logins"] >= 2, "a lost session must lead to a second login"
    assert sum(item["attempts"] for item in outcomes.values()) > len(PROJECTS)
    for project in PROJECTS:
        [path] = sorted((tmp_path / "exports/thinklab" / project).glob("*.json.gz"))
        stored = snapshot(path)
        served = json.loads((latest_dir / f"{project}.json").read_bytes())
        assert without_retrieved(stored) == without_retrieved(served), project
        assert stored["retrieved"] != served["retrieved"]  # stamped with the time of this fetch
        assert outcomes[project]["rows"] == sum(len(served[t]) for t in TABLES)
        assert (
            path.name
            == stored["retrieved"][:10] + "T" + stored["retrieved"][11:19].replace(":", "") + "Z.json.gz"
        )
    check_store(tmp_path, {})
    assert "WARNING" in done.stderr and "plain http" in done.stderr

    # a second run with the same content stores nothing
    quiet_url, quiet_app = serve()
    again = run_fetch(quiet_url, quiet_app, tmp_path, "--all", "--json", *FAST)
    assert again.returncode == 0, again.stderr
    assert {item["status"] for item in json.loads(again.stdout)} == {"unchanged"}
    assert len(list((tmp_path / "exports").rglob("*.json.gz"))) == len(PROJECTS)
    assert len((tmp_path / "exports/manifest.jsonl").read_text().splitlines()) == len(PROJECTS)


def test_password_appears_nowhere(serve, tmp_path: Path) -> None:
    url, app = serve(fault_rate=0.3, seed=3, faults=("bad_gateway", "logout", "truncated"))
    process = subprocess.Popen(
        fetch_command(url, tmp_path, "--all", *FAST),
        env=credentials(app),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cmdlines = []
    while process.poll() is None:
        try:
            cmdlines.append(Path(f"/proc/{process.pid}/cmdline").read_bytes())
        except OSError:
            break
        time.sleep(0.01)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert cmdlines and all(PASSWORD.encode() not in line for line in cmdlines)
    assert app.stats["fault:logout"] > 0  # re-logins happened, and still nothing leaked
    assert PASSWORD not in stdout and PASSWORD not in stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            if path.name.endswith(".gz"):
                raw = gzip.decompress(raw)
            assert PASSWORD.encode() not in raw, path


def test_permanently_failing_project_gives_one_line_and_others_succeed(serve, tmp_path: Path) -> None:
    url, app = serve(always_fail=frozenset({"meta"}))
    done = run_fetch(url, app, tmp_path, "--all", "--json", "--backoff", "0.01", "--max-attempts", "3")
    assert done.returncode == 1
    outcomes = {item["project"]: item for item in json.loads(done.stdout)}
    assert outcomes["meta"]["status"] == "failed"
    assert all(outcomes[p]["status"] == "stored" for p in PROJECTS if p != "meta")
    assert not (tmp_path / "exports/thinklab/meta").exists()
    lines = [line for line in done.stderr.splitlines() if line.startswith("impactreport: error: meta:")]
    assert lines == [
        "impactreport: error: meta: gave up: HTTP 502 after 3 attempts "
        "(last: HTTP 502, text/html, '502 Bad Gateway')"
    ]
    assert app.stats["always_fail"] == 3
    assert done.stderr.strip().splitlines()[-1] == "impactreport: error: 1 of 10 projects failed"


def test_endless_login_redirects_fail_without_looping(serve, tmp_path: Path) -> None:
    url, app = serve(no_access=frozenset({"meta"}))
    done = run_fetch(url, app, tmp_path, "--project", "meta", "--project", "rephetio", *FAST)
    assert done.returncode == 1
    assert (
        "impactreport: error: meta: still sent to the login page (3 new logins) after 4 attempts "
        "(last: HTTP 302, text/plain)"
    ) in done.stderr
    assert app.stats["logins"] == 4  # the first login, and three more for meta
    assert len(list((tmp_path / "exports/thinklab/rephetio").glob("*.json.gz"))) == 1


def test_concurrent_run_gets_the_lock_message(serve, tmp_path: Path) -> None:
    url, app = serve()
    with store_lock(tmp_path):
        done = run_fetch(url, app, tmp_path, "--project", "meta", *FAST)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("impactreport: error: ") and "being written by another fetch" in line
    assert f"pid {os.getpid()}" in line
    assert not (tmp_path / "exports/thinklab").exists()


def count_snapshots(data: Path) -> int:
    folder = data / "exports/thinklab"
    return sum(1 for _ in folder.rglob("*.json.gz")) if folder.exists() else 0


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_broken_file(serve, tmp_path: Path) -> None:
    url, app = serve(fault_rate=0.2, seed=11, faults=("bad_gateway", "truncated", "reset"), vary=True)
    rng = random.Random(20170909)
    seen: dict[Path, str] = {}
    interrupted = 0
    env = credentials(app)
    for iteration in range(10):
        process = subprocess.Popen(
            fetch_command(url, tmp_path, "--all", "--quiet", *FAST),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if iteration % 2:  # at any moment: starting, logging in, downloading, writing
            time.sleep(rng.uniform(0.2, 2.5))
        else:  # while the run is writing: after its first new snapshot appears
            before = count_snapshots(tmp_path)
            deadline = time.monotonic() + 30
            while count_snapshots(tmp_path) == before and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        known = len(seen)
        check_store(tmp_path, seen)
        interrupted += 0 < len(seen) - known < len(PROJECTS)  # killed between two projects' writes
    final = run_fetch(url, app, tmp_path, "--all", "--quiet", *FAST)
    assert final.returncode == 0, final.stderr
    check_store(tmp_path, seen)
    assert not [p for p in (tmp_path / "exports").rglob(".*.tmp-*")], "temp files left after a full run"
    listed = [
        json.loads(line)["file"] for line in (tmp_path / "exports/manifest.jsonl").read_text().splitlines()
    ]
    on_disk = [p.relative_to(tmp_path).as_posix() for p in (tmp_path / "exports").rglob("*.json.gz")]
    assert sorted(listed) == sorted(on_disk), "the manifest lists every snapshot exactly once"
    # every project has a snapshot from the final run, and at least one kill interrupted writing
    for project in PROJECTS:
        assert list((tmp_path / "exports/thinklab" / project).glob("*.json.gz")), project
    assert len(seen) > len(PROJECTS)
    assert interrupted >= 1, "no kill landed in the middle of a run"


def test_login_file_must_be_private(serve, tmp_path: Path) -> None:
    url, app = serve()
    login = tmp_path / "login.json"
    login.write_text(json.dumps({"email": app.email, "password": app.password}))
    login.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPACTREPORT_THINKLAB")}
    command = fetch_command(url, tmp_path / "data", "--project", "meta", "--login-file", str(login), *FAST)
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"impactreport: error: {login}: readable by group or others; refusing it (run: chmod 600 {login})"
    )
    login.chmod(0o600)
    accepted = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert accepted.returncode == 0, accepted.stderr
    assert len(list((tmp_path / "data/exports/thinklab/meta").glob("*.json.gz"))) == 1


def test_missing_credentials_and_bad_options(serve, tmp_path: Path) -> None:
    url, app = serve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPACTREPORT_THINKLAB")}
    done = subprocess.run(fetch_command(url, tmp_path, "--all"), env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "IMPACTREPORT_THINKLAB_EMAIL and IMPACTREPORT_THINKLAB_PASSWORD" in done.stderr
    both = run_fetch(url, app, tmp_path, "--all", "--project", "meta")
    assert both.returncode == 2 and "not both" in both.stderr
    odd = run_fetch(url, app, tmp_path, "--project", "../meta")
    assert odd.returncode == 2 and "--project '../meta': not a Thinklab project id" in odd.stderr
    assert not (tmp_path / "exports").exists()


def test_wrong_password_fails_at_once(serve, tmp_path: Path) -> None:
    url, app = serve()
    env = dict(credentials(app), IMPACTREPORT_THINKLAB_PASSWORD="wrong")
    done = subprocess.run(
        fetch_command(url, tmp_path, "--all", *FAST), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "login refused (check the email and password) after 1 attempt" in done.stderr
    assert app.stats["login_refused"] == 1


def test_unknown_project_is_refused_without_retries(serve, tmp_path: Path) -> None:
    url, app = serve()
    done = run_fetch(url, app, tmp_path, "--project", "nope", "--project", "meta", *FAST)
    assert done.returncode == 1
    assert (
        "impactreport: error: nope: refused: HTTP 404 after 1 attempt (last: HTTP 404, text/html, 'Not Found')"
        in (done.stderr)
    )
    assert len(list((tmp_path / "exports/thinklab/meta").glob("*.json.gz"))) == 1


def test_retry_after_seconds_and_http_date_are_honoured(serve) -> None:
    url, _ = serve(fault_rate=1.0, faults=("too_many",), retry_after=7)
    waits: list[float] = []
    client = HttpClient(policy=RetryPolicy(max_attempts=3, max_time=60, backoff=0.01), sleep=waits.append)
    with pytest.raises(HttpFailure) as caught:
        client.request("GET", f"{url}/projects")
    assert caught.value.attempts == 3
    assert waits[0] == 7.0  # "Retry-After: 7"
    assert 5.0 <= waits[1] <= 7.0  # an HTTP date 7 s ahead, to the second
    assert str(caught.value).startswith("gave up: HTTP 429 after 3 attempts (last: HTTP 429, text/plain")


def test_max_time_bounds_the_retries(serve) -> None:
    url, _ = serve(fault_rate=1.0, faults=("bad_gateway",))
    client = HttpClient(policy=RetryPolicy(max_attempts=1000, max_time=0.5, backoff=0.05, max_backoff=0.1))
    start = time.monotonic()
    with pytest.raises(HttpFailure) as caught:
        client.request("GET", f"{url}/projects")
    assert time.monotonic() - start < 2.0
    assert 2 <= caught.value.attempts < 1000


def test_classify_hook_and_on_wait(serve) -> None:
    """A source's own rule (as GitHub's rate limit): a 200 can be made to wait, and on_wait is told."""
    url, _ = serve()
    calls = {"n": 0}

    def classify(response: requests.Response) -> Wait | None:
        calls["n"] += 1
        return Wait(0.25, "rate limited") if calls["n"] == 1 else None

    events = []
    slept: list[float] = []
    client = HttpClient(classify=classify, on_wait=events.append, sleep=slept.append)
    result = client.request("GET", f"{url}/projects", validate=lambda r: project_links(r.text))
    assert result.attempts == 2 and slept == [0.25]
    assert [(e.attempt, e.seconds, e.reason) for e in events] == [(1, 0.25, "rate limited")]
    assert result.value == [p for p in PROJECTS if p not in ThinklabApp.proposals]


def test_project_links_and_retry_after_parsing() -> None:
    html = (
        '<a class="list-proj-name" href="/p/rephetio/">R</a><a class="list-proj-name" href="/about/">x</a>'
        '<a href="/p/other/">no class</a><a class="list-proj-name" href="https://thinklab.com/p/meta/report">m</a>'
        '<a class="list-proj-name" href="/p/rephetio/proposal">again</a>'
        '<a class="list-proj-name" href="/p/../x">odd</a><a class="list-proj-name" href="/p/.hidden/">odd</a>'
    )
    assert project_links(html) == ["rephetio", "meta"]
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
