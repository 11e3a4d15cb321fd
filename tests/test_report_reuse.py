"""The formats of one Quarto render share one prepared report (issue 20: the award-year report in HTML,
PDF and Word under 30 s), and nothing else ever reuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from impactreport.report import prepare_report, reuse

REPO = Path(__file__).resolve().parents[1]
RENDER_ID = "0123456789abcdef0123456789abcdef"

pytestmark = pytest.mark.slow  # every test prepares a whole report: the render's own work


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from impactreport.cli.main import main

    folder = tmp_path_factory.mktemp("demo")
    assert main(["demo", str(folder), "--posts", "80", "--snapshots", "2"]) == 0
    return folder


def test_one_render_prepares_once(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPACTREPORT_CACHE_DIR", str(tmp_path / "home" / "cache"))  # neither exists yet
    monkeypatch.setenv(reuse.RENDER_ID_ENV, RENDER_ID)
    params = {"data": [str(demo)]}
    first = prepare_report(params, root=REPO, output_dir=tmp_path / "out")
    saved = tmp_path / "home" / "cache" / "reports" / f"{RENDER_ID}.pickle"
    assert saved.is_file() and saved.stat().st_mode & 0o777 == 0o600
    for folder in (saved.parent, saved.parent.parent, saved.parent.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder  # every folder it made is private
    again = prepare_report(params, root=REPO, output_dir=tmp_path / "out")
    assert again is not first and again.stats.overall == first.stats.overall
    assert again.figures == first.figures

    key = reuse.key_of(first.params, REPO, tmp_path / "out", first.citation.prepared_on)
    assert reuse.load(key) is not None
    next(iter(first.figures.values())).unlink()  # a file the report names is gone: prepared afresh
    assert reuse.load(key) is None

    other = prepare_report({**params, "thresholds": [100]}, root=REPO, output_dir=tmp_path / "out")
    assert other.params.thresholds == (100,)  # other parameters: prepared afresh, never the saved one

    reuse.discard(RENDER_ID)
    assert not saved.exists()


def test_without_a_render_id_nothing_is_kept(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPACTREPORT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(reuse.RENDER_ID_ENV, raising=False)
    prepare_report({"data": [str(demo)]}, root=REPO, output_dir=tmp_path / "out")
    assert not (tmp_path / "cache" / "reports").exists()
