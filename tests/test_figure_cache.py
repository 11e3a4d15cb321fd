"""Figures drawn once are copied from the user's cache folder into a new output folder, byte for byte,
instead of drawn again (issue 20: the award-year report in HTML, PDF and Word under 30 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from impactreport.figures import write
from impactreport.pipeline import Request, run

pytestmark = pytest.mark.slow  # every test draws every figure (vl-convert)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    from impactreport.cli.main import main

    folder = tmp_path_factory.mktemp("demo")
    assert main(["demo", str(folder), "--posts", "80", "--snapshots", "1"]) == 0
    return run(Request(paths=(folder,)), figures=True)


def test_a_new_output_folder_takes_the_cached_figures(
    result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPACTREPORT_CACHE_DIR", str(tmp_path / "cache"))
    first = write.write_figures(result, tmp_path / "one", formats=("svg", "png"), skip_empty=True)
    cached = sorted((tmp_path / "cache" / "figures").iterdir())
    assert len(cached) == len(first) and all(oct(p.stat().st_mode & 0o777) == "0o700" for p in cached)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("drawn again although the cache holds it")

    monkeypatch.setattr(write, "save_chart", refuse)
    second = write.write_figures(result, tmp_path / "two", formats=("svg", "png"), skip_empty=True)
    for name, paths in first.items():
        for path, again in zip(paths, second[name], strict=True):
            assert path.read_bytes() == again.read_bytes(), path.name


def test_a_cached_svg_without_its_key_is_drawn_again(
    result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPACTREPORT_CACHE_DIR", str(tmp_path / "cache"))
    write.write_figures(result, tmp_path / "one", formats=("svg",), skip_empty=True)
    for svg in (tmp_path / "cache" / "figures").glob("*/figure.svg"):
        svg.write_bytes(b"<svg>edited</svg>")
    drawn: list[str] = []
    real = write.save_chart

    def counting(chart, out, name, **options):
        drawn.append(name)
        return real(chart, out, name, **options)

    monkeypatch.setattr(write, "save_chart", counting)
    again = write.write_figures(result, tmp_path / "two", formats=("svg",), skip_empty=True)
    assert sorted(drawn) == sorted(again)
    assert all(b"edited" not in paths[0].read_bytes() for paths in again.values())
