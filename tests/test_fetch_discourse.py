"""``impactreport fetch discourse`` against a Discourse-like forum on 127.0.0.1 replaying the captures.

The server (tests/servers/discourse_app.py) says which of its data are real, derived or generated. The
expected counts are derived independently, straight from the fixture files with ``json``.
"""

from __future__ import annotations

import gzip
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from impactreport.fetch.ratelimits import Throttle
from impactreport.fetch.store import SnapshotStore, read_snapshot
from tests.runner import cli, unset
from tests.servers.discourse_app import DiscourseState
from tests.servers.github_app import serve

pytestmark = pytest.mark.shared
TABLES = ("documents", "threads", "comments", "notes", "profiles")
FAST = ["--backoff", "0.05", "--rate", "0"]


def expected(fixtures: Path) -> dict[str, Any]:
    """Topics, posts and authors of the forum's captures, read straight from the files."""
    folder = fixtures / "discourse"
    posts = json.loads((folder / "posts.json").read_text())["latest_posts"]
    for name in ("t_2108_452.json", "t_2108_posts_post_number_41.json", "t_2144_posts.json"):
        posts += json.loads((folder / name).read_text())["post_stream"]["posts"]
    by_id = {post["id"]: post for post in posts}
    topic = json.loads((folder / "t_2108_452.json").read_text())
    return {
        "threads": len({p["topic_id"] for p in by_id.values()}),
        "comments": len(by_id),
        "contributors": len({p["username"] for p in by_id.values()}),
        "replies": sum(1 for p in by_id.values() if p.get("reply_to_post_number")),
        "views_2108": topic["views"],
        "posts_2108": len({i for i, p in by_id.items() if p["topic_id"] == 2108}),
        # the real markdown sources (only /posts.json's capture has them)
        "raw": {p["id"]: p["raw"] for p in json.loads((folder / "posts.json").read_text())["latest_posts"]},
    }


def assert_markdown_intact(snapshot: dict[str, Any], fixtures: Path, state: DiscourseState) -> None:
    """Every post's ``body_md`` is its markdown: the captured ``raw`` where the capture has one (read
    from the file), else what the server generated (read from its own post list)."""
    real = expected(fixtures)["raw"]
    stored = {c["comment_id"]: c["body_md"] for c in snapshot["comments"]}
    assert len(real) == 50 and set(real) <= set(stored)
    assert all(stored[i] == text for i, text in real.items())
    generated = {p["id"]: p["raw"] for p in state.posts if p["id"] not in real}
    assert {i: stored[i] for i in generated} == generated
    assert all(stored.values()), "no post without markdown"


def run(args: list[str], key: str | None = None, user: str | None = None) -> subprocess.CompletedProcess[str]:
    env: dict[str, str | None] = {**unset("DISCOURSE_"), "COLUMNS": "200"}
    if key is not None:
        env["DISCOURSE_API_KEY"] = key
    if user is not None:
        env["DISCOURSE_API_USERNAME"] = user
    return cli("fetch", "discourse", *args, env=env, timeout=300)


def fetch(url: str, data: Path, *extra: str, **auth: str) -> tuple[dict[str, Any], dict[str, Any]]:
    result = run(["--base-url", url, "--data", str(data), "--json", *FAST, *extra], **auth)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return report, read_snapshot(Path(report["file"]))


def tables(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {name: snapshot[name] for name in TABLES}


@pytest.fixture
def forum(fixtures_dir: Path) -> Iterator[tuple[DiscourseState, str]]:
    # small pages: 4 topics a listing page, 5 posts in a topic view (the rest by post_ids[] chunks)
    state = DiscourseState.from_fixtures(fixtures_dir, per_page=4, chunk_size=5)
    with serve(state) as url:
        yield state, url


def test_full_fetch_holds_every_captured_post(
    forum: tuple[DiscourseState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    state, url = forum
    report, snapshot = fetch(url, tmp_path)
    want = expected(fixtures_dir)
    assert report["mode"] == "full" and snapshot["source"] == "discourse"
    assert len(snapshot["threads"]) == want["threads"] and len(snapshot["comments"]) == want["comments"]
    assert snapshot["notes"] == [] and snapshot["documents"] == []
    assert len({p["username"] for p in snapshot["profiles"]}) == want["contributors"]
    assert sum(1 for c in snapshot["comments"] if c["reply_to_post_number"]) == want["replies"]
    thread = next(t for t in snapshot["threads"] if t["thread_id"] == 2108)
    assert thread["views"] == want["views_2108"]
    assert sum(1 for c in snapshot["comments"] if c["thread_id"] == 2108) == want["posts_2108"]
    urls = [entry["url"] for entry in state.log]
    listing = [u for u in urls if "/latest.json" in u]
    assert listing == [  # oldest-created first, following more_topics_url (no .json in it) to the end
        f"{url}/latest.json?order=created&ascending=true",
        f"{url}/latest.json?no_definitions=true&order=created&ascending=true&page=1",
        f"{url}/latest.json?no_definitions=true&order=created&ascending=true&page=2",
    ]
    chunks = [u for u in urls if "/t/2108/posts.json" in u]
    assert [u.count("post_ids[]=") for u in chunks] == [20, 15]  # 40 posts: 5 in the view, 35 by chunks
    # the markdown rode along on the topic requests: include_raw on each, no request per post
    topic_requests = [u for u in urls if "/t/" in u]
    assert topic_requests and all("include_raw=1" in u for u in topic_requests)
    assert not any("/posts/" in u for u in urls) and report["fetched"]["raw_fallbacks"] == 0
    assert_markdown_intact(snapshot, fixtures_dir, state)
    # a thread's first comment is its first post, by the thread's author
    for thread in snapshot["threads"]:
        first = min(
            (c for c in snapshot["comments"] if c["thread_id"] == thread["thread_id"]),
            key=lambda c: c["post_number"],
        )
        assert first["profile_id"] == thread["profile_id"]


@pytest.mark.slow
def test_faults_are_survived_and_data_is_complete(
    forum: tuple[DiscourseState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    state, url = forum
    _, clean = fetch(url, tmp_path / "clean")
    faults = ["429", None, "429_no_header", "reset", "502", None, "429", "reset"]
    state.plan(faults)
    report, faulty = fetch(url, tmp_path / "faulty")
    assert not state.faults
    assert tables(faulty) == tables(clean)
    assert report["waits"] == sum(1 for f in faults if f)
    assert report["waited_seconds"] >= 3 * 1.0  # Retry-After: 1 (twice) and wait_seconds: 1 honoured
    assert_markdown_intact(faulty, fixtures_dir, state)


def test_a_forum_that_ignores_include_raw_is_read_post_by_post(fixtures_dir: Path, tmp_path: Path) -> None:
    state = DiscourseState.from_fixtures(fixtures_dir, per_page=4, chunk_size=5, honour_include_raw=False)
    with serve(state) as url:
        plan: list[str | None] = [None] * 20 + ["429", "reset", None, "502"]
        state.plan(plan)  # the faults land on the /posts/<id>.json reads
        report, snapshot = fetch(url, tmp_path)
    assert not state.faults
    faulted = [e["url"] for e, f in zip(state.log, plan, strict=False) if f]
    assert len(faulted) == 3 and all("/posts/" in u for u in faulted)
    singles = [e["url"] for e in state.log if "/posts/" in e["url"]]
    assert len(set(singles)) == len(state.posts) == report["fetched"]["raw_fallbacks"]
    assert_markdown_intact(snapshot, fixtures_dir, state)


def test_api_key_appears_nowhere(fixtures_dir: Path, tmp_path: Path) -> None:
    key = secrets.token_hex(32)
    state = DiscourseState.from_fixtures(
        fixtures_dir, per_page=4, chunk_size=5, api_key=key, api_username="alice"
    )
    state.plan(["429", "reset"])
    with serve(state) as url:
        result = run(["--base-url", url, "--data", str(tmp_path), *FAST], key=key, user="alice")
        refused = run(["--base-url", url, "--data", str(tmp_path / "other"), *FAST])
    assert result.returncode == 0, result.stderr
    assert refused.returncode == 1 and "access refused" in refused.stderr
    sent = [entry for entry in state.log if entry["api_key"] is not None]
    assert sent and all(e["api_key"] == key and e["api_username"] == "alice" for e in sent)
    for text in (result.stdout, result.stderr, refused.stdout, refused.stderr):
        assert key not in text
    assert all(key not in entry["url"] for entry in state.log)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".json.gz") for p in files)
    for path in files:
        raw = path.read_bytes()
        assert key.encode() not in raw and (
            not path.name.endswith(".gz") or key.encode() not in gzip.decompress(raw)
        )


@pytest.mark.slow  # a fetch scenario: several fetch and summary runs
def test_since_merge_equals_a_full_fetch(forum: tuple[DiscourseState, str], tmp_path: Path) -> None:
    state, url = forum
    first, _ = fetch(url, tmp_path / "incremental")
    # GENERATED changes: a new post in topic 2144 (bumps it) and a new topic
    author = next(p for p in state.posts if p["topic_id"] == 2144)
    state.add_post(2144, 900_001, author, "A post added after the first fetch.")
    state.add_post(9_999, 900_002, author, "A new topic.")
    start = len(state.log)
    report, merged = fetch(url, tmp_path / "incremental")
    requests_used = len(state.log) - start
    _, full = fetch(url, tmp_path / "full")
    assert report["mode"] == "incremental" and report["threads_fetched"] == 2
    assert tables(merged) == tables(full)
    assert requests_used < first["requests"] / 3
    assert {c["comment_id"] for c in merged["comments"]} >= {900_001, 900_002}


def test_category_listing(forum: tuple[DiscourseState, str], tmp_path: Path) -> None:
    state, url = forum
    category = state.topics[2108]["category_id"]
    report, snapshot = fetch(url, tmp_path, "--category", f"category-{category}")
    wanted = {t["id"] for t in state.topics.values() if t["category_id"] == category}
    assert {t["thread_id"] for t in snapshot["threads"]} == wanted
    assert report["project"].endswith(f"__category-{category}")
    missing = run(["--base-url", url, "--data", str(tmp_path), "--category", "nope", *FAST])
    assert missing.returncode == 2 and "--category 'nope'" in missing.stderr


def test_polite_rate_spaces_requests() -> None:
    throttle = Throttle(rate=20.0)
    start = time.monotonic()
    for _ in range(6):
        throttle()
    assert time.monotonic() - start >= 5 / 20 - 0.01


def test_summary_counts_what_the_fixtures_hold(
    forum: tuple[DiscourseState, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    load = pytest.importorskip("impactreport.load")
    stats = pytest.importorskip("impactreport.stats")
    if not hasattr(load, "load_dataset") or not hasattr(stats, "summarise"):
        pytest.skip("the loader or the statistics are not there yet")
    _, url = forum
    fetch(url, tmp_path)
    want = expected(fixtures_dir)
    overall = stats.summarise(load.load_dataset([tmp_path])).overall
    assert overall["discussions"] == want["threads"]
    assert overall["comments"] == want["comments"]
    assert overall["notes"] == 0
    assert overall["contributors"] == want["contributors"]


def test_a_snapshot_from_before_markdown_is_refetched_whole(
    forum: tuple[DiscourseState, str], tmp_path: Path
) -> None:
    """Posts without ``raw`` (a snapshot of the previous version, options without ``markdown``) are not
    merged into: ``--since auto`` fetches everything once, and every post has its markdown."""
    _, url = forum
    report, first = fetch(url, tmp_path / "now")
    old = {k: v for k, v in first.items() if k != "retrieved"}
    old["options"] = {"category": None}
    old["comments"] = [{**c, "body_md": ""} for c in first["comments"]]
    SnapshotStore(tmp_path / "upgraded").save("discourse", report["project"], old)
    report, again = fetch(url, tmp_path / "upgraded")
    assert report["mode"] == "full" and report["status"] == "stored"
    assert tables(again) == tables(first)
