"""Responses whose JSON has another shape than the API documents end a fetch with one line naming the
source, the URL and the field: never a traceback (issue 22: a Discourse ``/latest.json`` answering ``{}``
or ``[1, 2]``, a topic without ``id``, a post without ``post_number``, a GitHub issue without ``id``).

Each case is a real Werkzeug server on 127.0.0.1 answering every path with the same payload, and the
real command in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.runner import cli, unset
from tests.servers.github_app import serve

FAST = ["--backoff", "0.05", "--max-attempts", "1"]


class Fixed:
    """A server whose every GET answers ``routes[path]`` (or ``default``) as JSON."""

    def __init__(self, routes: dict[str, Any], default: Any = None) -> None:
        self.routes, self.default = routes, default

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = self.routes.get(request.path, self.default)
        response = Response(
            json.dumps(body), mimetype="application/json", headers={"X-RateLimit-Remaining": "60"}
        )
        return response(environ, start_response)


def fetch(kind: str, data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**unset("DISCOURSE_", "GITHUB_"), "COLUMNS": "200"}
    return cli("fetch", kind, "--data", data, *FAST, *extra, env=env, timeout=120)


TOPIC = {
    "id": 7,
    "title": "A topic",
    "created_at": "2020-01-01T00:00:00.000Z",
    "bumped_at": "2020-01-01T00:00:00.000Z",
}


@pytest.mark.parametrize(
    ("routes", "field"),
    [
        ({"/latest.json": {}}, "'topic_list'"),
        ({"/latest.json": [1, 2]}, "TypeError"),
        ({"/latest.json": {"topic_list": {"topics": [{"title": "no id"}]}}}, "'id'"),
        (
            {
                "/latest.json": {"topic_list": {"topics": [TOPIC]}},
                "/t/7.json": {
                    **TOPIC,
                    "post_stream": {"posts": [{"id": 70, "raw": "x", "cooked": "<p>x</p>"}], "stream": [70]},
                },
            },
            "'post_number'",
        ),
    ],
    ids=["empty object", "array", "topic without id", "post without post_number"],
)
def test_a_malformed_discourse_response_is_one_line(
    routes: dict[str, Any], field: str, tmp_path: Path
) -> None:
    with serve(Fixed(routes, default={})) as url:
        result = fetch("discourse", tmp_path / "data", "--base-url", url, "--rate", "0")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"malformed response from {url}/" in result.stdout + result.stderr
    assert field in result.stdout + result.stderr
    assert not list((tmp_path / "data").rglob("*.json.gz"))  # nothing stored


def test_a_github_issue_without_id_is_one_line(tmp_path: Path) -> None:
    issue = {
        "number": 1,
        "title": "t",
        "body": "b",
        "user": {"login": "a", "id": 1, "type": "User"},
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "comments": 0,
    }
    routes = {
        "/repos/o/r": {"id": 1, "full_name": "o/r", "has_discussions": False},
        "/repos/o/r/issues": [issue],
    }
    with serve(Fixed(routes, default=[])) as url:
        result = fetch("github", tmp_path / "data", "--repo", "o/r", "--api-url", url)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2), output
    assert "Traceback" not in output
    assert "malformed response" in output and "'id'" in output, output
