"""Shared test fixtures: where the real data lives, and skips with a reason when it does not.

``../shared`` (next to the repository) holds the real Thinklab exports, the recorded API payloads and the
offline Quarto installer. A user's clone has none of it: tests that need it skip and say why.
Set ``IMPACTREPORT_SHARED`` to use another location.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMPACTREPORT_SHARED", REPO.parent / "shared"))
THINKLAB = SHARED / "thinklab"
FIXTURES = SHARED / "fixtures"

#: The offline Quarto installer and where it installs (gitignored).
INSTALLER = SHARED / "tools" / "quarto" / "install.sh"
PREFIX = REPO / ".quarto-dist"


@pytest.fixture(scope="session", autouse=True)
def _history_cache_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every cache (the history caches of every snapshot folder read) goes to a temporary folder, never
    to the user's ~/.cache (set in os.environ so that subprocesses inherit it)."""
    os.environ.setdefault("IMPACTREPORT_CACHE_DIR", str(tmp_path_factory.mktemp("cache-home")))


Listing = dict[str, tuple[int, int, int]]


def tree_listing(root: Path) -> Listing:
    """Every entry below ``root`` (links not followed): relative path -> (mode, size, mtime_ns).

    What a read-only use of a folder must leave exactly as it was: one ``os.walk`` and one ``lstat`` per
    entry (the real data is a few hundred files).
    """
    listing: Listing = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            listing[os.path.relpath(path, root)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return listing


def listing_changes(before: Listing, after: Listing) -> list[str]:
    """What differs between two listings, one line per path (added, removed, changed)."""
    lines = [f"added {path}" for path in sorted(after.keys() - before.keys())]
    lines += [f"removed {path}" for path in sorted(before.keys() - after.keys())]
    lines += [
        f"changed {path}: {before[path]} -> {after[path]}"
        for path in sorted(before.keys() & after.keys())
        if before[path] != after[path]
    ]
    return lines


@pytest.fixture(scope="session", autouse=True)
def _shared_stays_untouched() -> Iterator[None]:
    """The test suite never writes into ../shared: its listing (paths, sizes, times) at the end of the
    session must be the one at its start."""
    if not SHARED.is_dir():
        yield
        return
    before = tree_listing(SHARED)
    yield
    changes = listing_changes(before, tree_listing(SHARED))
    if changes:
        pytest.fail(f"the test suite wrote into {SHARED}: " + "; ".join(changes[:20]), pytrace=False)


NO_SHARED = f"needs the real Thinklab exports in {THINKLAB} (../shared is not part of a user's clone)"


@pytest.fixture(scope="session")
def thinklab_dir() -> Path:
    """Root of the real Thinklab exports (latest/, snapshots/, formats/, archive.bundle)."""
    if not (THINKLAB / "latest").is_dir():
        pytest.skip(NO_SHARED)
    return THINKLAB


def _importer_key(bundle: Path) -> str:
    """What an imported archive depends on: the bundle (size, time) and the code that imports it."""
    digest = hashlib.sha256(f"{bundle.stat().st_size}:{bundle.stat().st_mtime_ns}".encode())
    source = Path(__file__).resolve().parents[1] / "src" / "impactreport"
    for path in sorted([*source.glob("fetch/*.py"), *source.glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def archive(thinklab_dir: Path) -> tuple[Path, Path]:
    """The archive imported with ``fetch archive`` (data folder), and a plain git clone of the bundle.

    Imported once per test run, not once per pytest session: CI runs the fast and the slow lane as two
    sessions, and the import takes about a minute. The result is kept in the temporary folder under a
    key of the bundle and the importer's code (``impactreport-tests/archive-<key>``), made under a
    temporary name and renamed when complete; tests only read it."""
    bundle = thinklab_dir / "archive.bundle"
    if not bundle.exists():
        pytest.skip(f"needs {bundle}")
    base = Path(tempfile.gettempdir()) / "impactreport-tests" / f"archive-{_importer_key(bundle)}"
    if not (base / "complete").exists():
        base.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".archive-", dir=base.parent))
        command = Path(sys.executable).parent / "impactreport"
        subprocess.run(
            [
                str(command),
                "fetch",
                "archive",
                "--from",
                str(bundle),
                "--data",
                str(building / "data"),
                "--quiet",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(["git", "clone", "-q", str(bundle), str(building / "clone")], check=True)
        (building / "complete").write_text("", encoding="utf-8")
        try:
            os.rename(building, base)
        except OSError:  # another run finished first: use its copy
            shutil.rmtree(building, ignore_errors=True)
    return base / "data", base / "clone"


@pytest.fixture(scope="session")
def latest_dir(thinklab_dir: Path) -> Path:
    """The final export of every project (format C)."""
    return thinklab_dir / "latest"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Recorded GitHub and Discourse payloads."""
    if not FIXTURES.is_dir():
        pytest.skip(
            f"needs the recorded API payloads in {FIXTURES} (../shared is not part of a user's clone)"
        )
    return FIXTURES


@pytest.fixture(scope="session")
def quarto_binary() -> Path:
    """Quarto from PATH / $QUARTO_PATH, else installed offline from ../shared; skip when impossible."""
    from impactreport.render.quarto import find_quarto

    found = find_quarto()
    if found is not None:
        return found
    if (PREFIX / "bin" / "quarto").is_file():
        return PREFIX / "bin" / "quarto"
    if not INSTALLER.is_file():
        pytest.skip(f"no quarto on PATH or $QUARTO_PATH, and no offline installer at {INSTALLER}")
    result = subprocess.run(
        ["bash", str(INSTALLER), str(PREFIX)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"offline Quarto install failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return PREFIX / "bin" / "quarto"


@pytest.fixture
def unwritable_folder() -> Path:
    """A folder no one may create, root included: a name under ``/sys`` (EPERM); skips where ``/sys``
    is missing or accepts it."""
    target = Path("/sys/impactreport-test-folder")
    if not Path("/sys").is_dir():
        pytest.skip("no /sys on this system")
    try:
        target.mkdir()
    except OSError:
        return target
    target.rmdir()
    pytest.skip("/sys accepts new folders here")


@pytest.fixture(scope="module")
def raws(latest_dir: Path) -> dict[str, dict]:
    """The final export of every project as raw JSON: the independent route's input (community tests)."""
    from tests.community_data import raw_exports

    return raw_exports(latest_dir)


@pytest.fixture(scope="module")
def dataset(latest_dir: Path):
    """The final exports loaded by the package: the route under test (community tests)."""
    from impactreport import load_dataset

    return load_dataset(latest_dir)
