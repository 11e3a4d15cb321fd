"""Credentials go only to the origin the user named (issue 15, item 1).

Two real servers on 127.0.0.1: ``A`` (the one named on the command line) sends a redirect, a
``Link: rel="next"`` or a ``more_topics_url`` to ``B``, which records every request it receives. ``B``
is another port on the same host, so every case here differs from the user's origin by port only;
the scheme case is checked without a second server (nothing is connected to).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from impactreport.fetch.http import HttpClient, OriginRefused, RetryPolicy, origin
from tests import runner
from tests.runner import unset
from tests.servers.github_app import serve
from tests.servers.origin_app import Pointer, Recorder

SECRET = "s3cret-7f3a9c-never-forwarded"


@pytest.fixture
def servers() -> Iterator[tuple[Pointer, str, Recorder, str]]:
    pointer, recorder = Pointer(), Recorder()
    with serve(pointer) as a, serve(recorder) as b:
        yield pointer, a, recorder, b


def cli(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = unset("GITHUB_", "DISCOURSE_", "IMPACTREPORT_") | variables
    return runner.cli("fetch", *args, env=env, timeout=120)


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exactly one error line, and the secret is in no output."""
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("impactreport: error:")]
    assert len(errors) == 1, done.stderr
    assert SECRET not in done.stdout + done.stderr
    return errors[0]


def test_origin_is_scheme_host_and_port() -> None:
    assert origin("https://API.github.com/graphql?x=1") == "https://api.github.com:443"
    assert origin("http://u:pw@127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert origin("http://[::1]/") == "http://[::1]:80"


def test_the_client_follows_its_own_origin_only(servers: tuple[Pointer, str, Recorder, str]) -> None:
    pointer, a, recorder, b = servers
    pointer.routes = {
        "/same": (302, {"Location": "/here"}, {}),
        "/here": (200, {}, {"ok": True}),
        "/away": (302, {"Location": f"{b}/collect"}, {}),
        "/scheme": (302, {"Location": a.replace("http://", "https://") + "/here"}, {}),
    }
    session = requests.Session()
    session.headers["Api-Key"] = SECRET
    client = HttpClient(session=session, policy=RetryPolicy(max_attempts=3, backoff=0.01))
    client.allow(a)
    assert client.request("GET", f"{a}/same").response.json() == {"ok": True}  # same origin: followed
    port = a.rsplit(":", 1)[1]
    for path, target in (("/away", b), ("/scheme", f"https://127.0.0.1:{port}")):
        with pytest.raises(OriginRefused) as caught:
            client.request("GET", f"{a}{path}")
        message = str(caught.value)
        assert f"redirected to another origin ({origin(target)})" in message and "\n" not in message
    with pytest.raises(OriginRefused, match="refusing to send a request to another origin"):
        client.request("GET", f"{b}/direct")
    assert recorder.log == []  # nothing, and so no Api-Key, reached the other server
    # without allowed origins (a bare client, as the policy tests use) redirects are followed as before
    free = HttpClient(policy=RetryPolicy(max_attempts=1))
    assert free.request("GET", f"{a}/away").response.json() == {}
    assert [entry["path"] for entry in recorder.log] == ["/collect?"]


def test_github_link_next_and_redirect_to_another_origin(
    servers: tuple[Pointer, str, Recorder, str], tmp_path: Path
) -> None:
    pointer, a, recorder, b = servers
    repo = {"id": 1, "html_url": "https://example.org/o/r", "has_discussions": False}
    base = ["github", "--repo", "o/r", "--api-url", a, "--graphql-url", f"{a}/graphql"]
    base += ["--data", str(tmp_path), "--backoff", "0.01"]
    pointer.routes = {
        "/repos/o/r": (200, {}, repo),
        "/repos/o/r/issues": (200, {"Link": f'<{b}/repositories/1/issues?page=2>; rel="next"'}, []),
    }
    line = one_error(cli(*base, GITHUB_TOKEN=SECRET))
    assert f"another origin ({origin(b)})" in line and "credentials go only to" in line
    pointer.routes["/repos/o/r"] = (301, {"Location": f"{b}/repos/o/r"}, {})
    line = one_error(cli(*base, GITHUB_TOKEN=SECRET))
    assert f"redirected to another origin ({origin(b)})" in line
    assert recorder.log == []
    assert not list(tmp_path.rglob("*.json.gz"))


def test_discourse_more_topics_url_and_redirect_to_another_origin(
    servers: tuple[Pointer, str, Recorder, str], tmp_path: Path
) -> None:
    pointer, a, recorder, b = servers
    keys = {"DISCOURSE_API_KEY": SECRET, "DISCOURSE_API_USERNAME": "system"}
    base = ["discourse", "--base-url", a, "--data", str(tmp_path), "--rate", "0", "--backoff", "0.01"]
    listing = {"topic_list": {"topics": [], "more_topics_url": f"{b}/latest?page=1"}}
    pointer.routes = {"/latest.json": (200, {}, listing)}
    line = one_error(cli(*base, **keys))
    assert f"refusing to follow a link to another origin ({origin(b)})" in line
    pointer.routes = {"/latest.json": (302, {"Location": f"{b}/latest.json"}, {})}
    line = one_error(cli(*base, **keys))
    assert f"redirected to another origin ({origin(b)})" in line
    assert recorder.log == []


def test_thinklab_redirect_to_another_origin(
    servers: tuple[Pointer, str, Recorder, str], tmp_path: Path
) -> None:
    pointer, a, recorder, b = servers
    pointer.routes = {"/login": (302, {"Location": f"{b}/login"}, {})}
    variables = {"IMPACTREPORT_THINKLAB_EMAIL": "me@example.org", "IMPACTREPORT_THINKLAB_PASSWORD": SECRET}
    done = cli("thinklab", "--base-url", a, "--all", "--data", str(tmp_path), **variables)
    assert f"redirected to another origin ({origin(b)})" in one_error(done)
    assert recorder.log == []
