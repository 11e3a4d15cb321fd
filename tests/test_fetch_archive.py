"""``impactreport fetch archive``: the public Thinklab archive (git bundle) becomes daily snapshots.

The expected snapshots are derived independently with plain git: for every commit and project the blob
(``git cat-file --batch-check``), then each blob's text without its ``retrieved`` line, hashed; a
snapshot is expected wherever that hash differs from the project's previous version.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from tests import runner

RETRIEVED = re.compile(rb'\n  "retrieved": "([^"]*)",?')


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return runner.cli("fetch", "archive", *args, timeout=600)


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", f"--git-dir={repo}", *args], input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout


def stamp(retrieved: str) -> str:
    """``2017-09-09T23:29:39.378903Z`` → ``2017-09-09T232939Z`` (the store's file name)."""
    return retrieved[:10] + "T" + retrieved[11:19].replace(":", "") + "Z"


def expected_snapshots(bundle: Path, work: Path) -> dict[str, list[str]]:
    """Per project, the stamps of the versions whose content differs from the version before."""
    repo = work / "independent.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(bundle), str(repo)], check=True)
    commits = git(repo, "rev-list", "--reverse", "--topo-order", "HEAD").split()
    names = git(repo, "log", "--name-only", "--format=", "--", "export/json").split()
    projects = sorted({Path(name).stem for name in names if name.endswith(".json")})
    specs = [f"{commit}:export/json/{project}.json" for commit in commits for project in projects]
    checks = git(repo, "cat-file", "--batch-check", stdin="\n".join(specs) + "\n").splitlines()
    blobs: dict[str, list[str]] = defaultdict(list)
    for spec, line in zip(specs, checks, strict=True):
        if not line.endswith("missing"):
            project = spec.rsplit("/", 1)[1].removesuffix(".json")
            if not blobs[project] or blobs[project][-1] != line.split()[0]:
                blobs[project].append(line.split()[0])
    order = [(project, blob) for project in projects for blob in blobs[project]]
    process = subprocess.Popen(
        ["git", f"--git-dir={repo}", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    feeder = threading.Thread(
        target=lambda: (
            process.stdin.write("".join(f"{b}\n" for _, b in order).encode()),
            process.stdin.close(),
        )
    )
    feeder.start()
    expected: dict[str, list[str]] = defaultdict(list)
    previous: dict[str, str] = {}
    for project, _ in order:
        size = int(process.stdout.readline().split()[2])
        text = process.stdout.read(size)
        process.stdout.read(1)
        match = RETRIEVED.search(text)
        digest = hashlib.sha256(text[: match.start()] + text[match.end() :]).hexdigest()
        if previous.get(project) != digest:
            expected[project].append(stamp(match.group(1).decode()))
        previous[project] = digest
    feeder.join()
    process.wait()
    return dict(expected)


@pytest.fixture(scope="module")
def imported(thinklab_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Import the bundle once (CLI, --json), then again; keep both answers and the expected snapshots."""
    bundle = thinklab_dir / "archive.bundle"
    data = tmp_path_factory.mktemp("archive-data")
    first = cli("--from", str(bundle), "--data", str(data), "--json")
    assert first.returncode == 0, first.stderr
    files_after_first = {p: p.read_bytes() for p in (data / "exports").rglob("*.json.gz")}
    manifest_after_first = (data / "exports/manifest.jsonl").read_bytes()
    second = cli("--from", str(bundle), "--data", str(data), "--json")
    assert second.returncode == 0, second.stderr
    expected = expected_snapshots(bundle, tmp_path_factory.mktemp("independent"))
    return {
        "data": data,
        "first": json.loads(first.stdout),
        "second": json.loads(second.stdout),
        "files": files_after_first,
        "manifest": manifest_after_first,
        "expected": expected,
    }


@pytest.mark.slow
def test_one_snapshot_per_distinct_version(imported: dict) -> None:
    data: Path = imported["data"]
    expected: dict[str, list[str]] = imported["expected"]
    assert len(expected) == 10
    assert sum(len(stamps) for stamps in expected.values()) > 1000  # the archive's daily changes
    for project, stamps in expected.items():
        stored = sorted(
            p.name.removesuffix(".json.gz") for p in (data / "exports/thinklab" / project).iterdir()
        )
        assert stored == stamps, project
    counts = {item["project"]: item for item in imported["first"]["projects"]}
    assert imported["first"]["commits"] == 421
    for project, stamps in expected.items():
        assert counts[project]["stored"] == len(stamps)
        assert counts[project]["versions"] == 421
        assert counts[project]["stored"] + counts[project]["unchanged"] == 421
    assert imported["first"]["problems"] == []


@pytest.mark.slow
def test_rerun_stores_nothing(imported: dict) -> None:
    data: Path = imported["data"]
    assert {item["stored"] for item in imported["second"]["projects"]} == {0}
    now = {p: p.read_bytes() for p in (data / "exports").rglob("*.json.gz")}
    assert now == imported["files"]
    assert (data / "exports/manifest.jsonl").read_bytes() == imported["manifest"]


@pytest.mark.slow
def test_manifest_and_newest_snapshots_match_the_originals(imported: dict, latest_dir: Path) -> None:
    data: Path = imported["data"]
    rows = [json.loads(line) for line in imported["manifest"].decode().splitlines()]
    assert len(rows) == sum(len(s) for s in imported["expected"].values())
    assert len({row["file"] for row in rows}) == len(rows)
    for row in rows:
        assert hashlib.sha256(imported["files"][data / row["file"]]).hexdigest() == row["sha256"]
    for path in sorted(latest_dir.glob("*.json")):
        newest = max((data / "exports/thinklab" / path.stem).iterdir())
        text = gzip.decompress(newest.read_bytes())
        # the newest version equals the final export apart from `retrieved` (an unchanged last day keeps
        # the earlier date), and the text is the original's byte for byte (it was canonical already)
        retrieved = RETRIEVED.search(text).group(1)
        original = RETRIEVED.sub(
            lambda m, new=retrieved: m.group(0).replace(m.group(1), new), path.read_bytes(), count=1
        )
        assert text == original, path.stem
    assert not list((data / "exports").rglob(".*.tmp-*"))


@pytest.mark.slow
def test_loader_reads_every_imported_snapshot(imported: dict) -> None:
    load = pytest.importorskip("impactreport.load")
    if not hasattr(load, "load_dataset"):
        pytest.skip("impactreport.load.load_dataset is not built yet")
    data: Path = imported["data"]
    small = ["issnindiadatabase", "LWT_FOR_OPEN_SCIENCE", "EdgeProject"]
    dataset = load.load_dataset([data / "exports/thinklab" / p for p in small], all_snapshots=True)
    snapshots = dataset.snapshots
    assert snapshots.height == sum(len(imported["expected"][p]) for p in small)
    manifest = {row["sha256"] for row in map(json.loads, imported["manifest"].decode().splitlines())}
    assert set(snapshots["sha256"].to_list()) <= manifest
    assert sorted(set(snapshots["project"].to_list())) == sorted(small)


@pytest.mark.slow
def test_folder_of_exports(thinklab_dir: Path, tmp_path: Path) -> None:
    """The 21 kept sets (formats A, B and C): each file a snapshot unless equal to the one before it."""
    folder = thinklab_dir / "snapshots"
    done = cli("--from", str(folder), "--data", str(tmp_path), "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    by_project: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for path in folder.rglob("*.json.gz"):
        payload = json.loads(gzip.decompress(path.read_bytes()))
        retrieved = payload.pop("retrieved")
        by_project[path.name.removesuffix(".json.gz")].append((retrieved, payload))
    for project, versions in by_project.items():
        versions.sort(key=lambda item: item[0])
        expected = [stamp(r) for i, (r, p) in enumerate(versions) if i == 0 or p != versions[i - 1][1]]
        stored = sorted(
            p.name.removesuffix(".json.gz") for p in (tmp_path / "exports/thinklab" / project).iterdir()
        )
        assert stored == expected, project
        oldest = json.loads(
            gzip.decompress((tmp_path / "exports/thinklab" / project / f"{stored[0]}.json.gz").read_bytes())
        )
        assert {k: v for k, v in oldest.items() if k != "retrieved"} == versions[0][1]  # format A, as it was
    again = cli("--from", str(folder), "--data", str(tmp_path), "--json", "--quiet")
    assert {item["stored"] for item in json.loads(again.stdout)["projects"]} == {0}


def test_bad_sources_give_one_line(tmp_path: Path) -> None:
    missing = cli("--from", str(tmp_path / "nope"), "--data", str(tmp_path / "d"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"impactreport: error: {tmp_path / 'nope'}: no such file or folder"
    (tmp_path / "empty").mkdir()
    empty = cli("--from", str(tmp_path / "empty"), "--data", str(tmp_path / "d"))
    assert empty.returncode == 2 and "no export files" in empty.stderr
    (tmp_path / "junk.bundle").write_text("not a bundle")
    junk = cli("--from", str(tmp_path / "junk.bundle"), "--data", str(tmp_path / "d"))
    assert junk.returncode == 2 and "not a git bundle" in junk.stderr
    assert len(junk.stderr.strip().splitlines()) == 1
