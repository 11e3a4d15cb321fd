"""Figures: every chart renders to SVG and PNG (and PDF) with the expected series and labels.

Charts are rendered once per module (real data: rephetio, and all projects for the views series);
the checks read the Vega-Lite spec and the rendered SVG text.
"""

from __future__ import annotations

import json
import re
from html import unescape
from itertools import pairwise
from pathlib import Path

import altair as alt
import polars as pl
import pytest
from pypdf import PdfReader

from impactreport.analyses import AnalysisParams
from impactreport.cli.main import main
from impactreport.figures import FIGURE_NAMES, build_all, compute_all, save_chart
from impactreport.figures.cumulative import LINE_PX, label_frame, spread
from impactreport.figures.save import render
from impactreport.history.edits import analyse
from impactreport.history.versions import Versions, build_projects
from impactreport.history.views import views_series
from impactreport.load import find, load_dataset
from impactreport.pipeline import edit_frames
from impactreport.schema import Dataset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def svg_texts(svg: str) -> list[str]:
    """Every text element's content in a rendered SVG."""
    return [unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def layers(spec: dict) -> list[dict]:
    """All unit specs (layers, concat members) of a Vega-Lite spec."""
    found = []
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            found += layers(child)
    if "mark" in spec:
        found.append(spec)
    return found


def data_of(unit: dict, spec: dict) -> list[dict]:
    data = unit.get("data") or spec.get("data") or {}
    if "name" in data:
        return spec["datasets"][data["name"]]
    values = data.get("values", [])
    return json.loads(values) if isinstance(values, str) else values


@pytest.fixture(scope="module")
def rephetio(latest_dir: Path) -> Dataset:
    return load_dataset([latest_dir / "rephetio.json"])


@pytest.fixture(scope="module")
def versions(thinklab_dir: Path) -> Versions:
    """The versioned tables of rephetio's 21 snapshots (read here: no cache written into ../shared)."""
    folder = thinklab_dir / "snapshots"
    files = [f for f in find([folder], all_snapshots=True).files if f.project == "rephetio"]
    return build_projects(sorted(files, key=lambda f: f.order), [folder])


@pytest.fixture(scope="module")
def series(versions: Versions) -> pl.DataFrame:
    return views_series(versions)


@pytest.fixture(scope="module")
def frames(rephetio: Dataset, series: pl.DataFrame, versions: Versions) -> dict[str, pl.DataFrame]:
    return compute_all(rephetio, AnalysisParams(), views_series=series) | edit_frames(analyse(versions))


@pytest.fixture(scope="module")
def charts(frames: dict[str, pl.DataFrame]) -> dict[str, alt.TopLevelMixin]:
    return build_all(frames, AnalysisParams())


@pytest.fixture(scope="module")
def written(rephetio: Dataset, frames: dict, charts: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from impactreport.figures.write import write_figures
    from impactreport.pipeline import Request, Result
    from impactreport.stats import summarise

    out = tmp_path_factory.mktemp("figures")
    result = Result(Request(paths=()), rephetio, summarise(rephetio), frames=frames, charts=charts)
    return write_figures(result, out, formats=("svg", "png"), scale=1)


@pytest.mark.slow  # the written fixture draws every figure (vl-convert)
def test_every_figure_is_written_with_its_csv(written: dict[str, list[Path]]) -> None:
    assert list(written) == list(FIGURE_NAMES)
    for name, paths in written.items():
        assert [p.name for p in paths] == [f"{name}.svg", f"{name}.png", f"{name}.csv"]
        svg = paths[0].read_text(encoding="utf-8")
        assert svg.startswith("<svg") and "</svg>" in svg
        png = paths[1].read_bytes()
        assert png.startswith(PNG_MAGIC) and len(png) > 5_000
        assert pl.read_csv(paths[2]).height > 0
        leftovers = [p for p in paths[0].parent.iterdir() if p.name.startswith(".")]
        assert leftovers == []


def test_every_chart_has_a_description(charts: dict[str, alt.TopLevelMixin]) -> None:
    for name, chart in charts.items():
        spec = chart.to_dict()
        assert len(spec["description"]) > 80, name
        assert spec["config"]["font"].startswith("DejaVu Sans")
        assert spec["title"]["text"], name


def svg_of(written: dict[str, list[Path]], name: str) -> str:
    return written[name][0].read_text(encoding="utf-8")


@pytest.mark.slow  # the written fixture draws every figure (vl-convert)
def test_cumulative_chart_labels(written: dict, frames: dict, charts: dict) -> None:
    frame = frames["cumulative-contribution"]
    last = frame.filter(pl.col("date") == pl.col("date").max())
    # the label threshold defaults to the highest threshold (4,000): the people the text counts above it
    expected = last.filter(pl.col("total") > 4000).sort("total", descending=True)["label"].to_list()
    texts = svg_texts(svg_of(written, "cumulative-contribution"))
    assert [t for t in texts if t in expected] and set(expected) <= set(texts)
    assert "Daniel Himmelstein 575,115" in texts  # numbers in full, as the text writes them
    assert "Allison McCoy 4,144" in texts
    spec = charts["cumulative-contribution"].to_dict()
    bands = layers(spec)[0]
    assert len(bands["encoding"]["color"]["scale"]["domain"]) == frame["user"].n_unique() == 48
    # every band's series ends at the user's total (√ of it), stacked without gaps
    assert (last["cumulative"] - last["total"]).abs().max() < 1e-6 * last["total"].max()


def label_boxes(svg: str, labels: set[str]) -> list[tuple[float, float]]:
    """(x, y) of each label's text element in the SVG (vl-convert writes a translate per text)."""
    boxes = []
    for attrs, text in re.findall(r"<text([^>]*)>([^<]*)</text>", svg):
        if unescape(text) in labels:
            move = re.search(r"translate\(([-\d.]+),\s*([-\d.]+)\)", attrs)
            assert move, attrs
            boxes.append((float(move.group(1)), float(move.group(2))))
    return boxes


@pytest.mark.slow  # the written fixture draws every figure (vl-convert)
def test_cumulative_labels_do_not_overlap(written: dict, frames: dict) -> None:
    labels = set(frames["cumulative-contribution"].drop_nulls("label")["label"].unique().to_list())
    boxes = label_boxes(svg_of(written, "cumulative-contribution"), labels)
    assert len(boxes) == len(labels) == 15  # the Rephetio report's 14 (> 4,500) and Allison McCoy (4,144)
    ys = sorted(y for _, y in boxes)
    assert min(b - a for a, b in pairwise(ys)) >= 12 - 0.5  # font size 12 px
    assert len({round(x) for x, _ in boxes}) == 1  # one column at the right edge


def test_label_spreading() -> None:
    positions = spread([0.0, 0.1, 0.2, 5.0, 9.95], gap=1.0, low=0.0, high=10.0)
    assert all(b - a >= 1.0 - 1e-9 for a, b in pairwise(positions))
    assert positions[0] >= 0.0 and positions[-1] <= 10.0
    assert positions[3] == 5.0  # a label with room stays at its band
    crowded = spread([5.0] * 30, gap=1.0, low=0.0, high=10.0)
    assert crowded[0] >= 0 and crowded[-1] <= 10 and crowded == sorted(crowded)


def test_label_frame_spreads_thin_bands(frames: dict) -> None:
    labels = label_frame(frames["cumulative-contribution"]).sort("position")
    top = frames["cumulative-contribution"]["y1"].max()
    gaps = labels["position"].diff().drop_nulls()
    assert gaps.min() >= top * LINE_PX / 440 - 1e-9
    assert label_frame(frames["cumulative-contribution"], 440, max_labels=3)["total"].min() > 20_000


@pytest.mark.slow  # the written fixture draws every figure (vl-convert)
def test_stream_chart_series(written: dict, frames: dict, charts: dict) -> None:
    frame = frames["user-stream"]
    users = frame.unique("user").sort("order")["user"].to_list()
    spec = charts["user-stream"].to_dict()
    assert layers(spec)[0]["encoding"]["color"]["scale"]["domain"] == users
    texts = svg_texts(svg_of(written, "user-stream"))
    assert all(user in texts for user in users)  # every band in the legend
    values = [row["y0"] for row in data_of(layers(spec)[0], spec)] + [
        row["y1"] for row in data_of(layers(spec)[0], spec)
    ]
    assert min(values) == pytest.approx(-max(values), rel=1e-3)


@pytest.mark.slow  # the written fixture draws every figure (vl-convert)
def test_imbalance_and_histogram_series(written: dict, charts: dict) -> None:
    texts = svg_texts(svg_of(written, "imbalance"))
    assert {"threads", "comments", "notes", "rephetio"} <= set(texts)
    spec = charts["imbalance"].to_dict()
    assert len(layers(spec)) == 3
    assert "rephetio" in svg_texts(svg_of(written, "activity-histogram"))


def test_density_charts_have_one_series_per_project(charts: dict, frames: dict) -> None:
    for name in ("activity-density", "characters-density"):
        spec = charts[name].to_dict()
        rows = data_of(layers(spec)[0], spec)
        assert {row["project"] for row in rows} == {"rephetio"}
        assert len(rows) == frames[name].height <= 1000


@pytest.mark.slow  # the written fixture draws every figure (vl-convert)
def test_contributors_chart(written: dict, frames: dict) -> None:
    texts = svg_texts(svg_of(written, "contributors"))
    named = frames["contributors"].filter(pl.col("characters") >= 500)["user"].to_list()
    assert set(named) <= set(texts)
    below = frames["contributors"].filter(pl.col("characters") < 500)["user"].to_list()
    assert not set(below) & set(texts)


@pytest.mark.slow  # the written fixture draws every figure (vl-convert)
def test_views_charts(written: dict, frames: dict) -> None:
    texts = svg_texts(svg_of(written, "views"))
    assert frames["views"]["title"][0] in texts
    over = svg_texts(svg_of(written, "views-over-time"))
    legends = [t for t in over if t.endswith("/month)")]
    assert len(legends) == 1 + 5  # total in the panel title, five threads in the legend
    assert any(t.startswith("All discussions and documents (+") for t in legends)


def test_views_over_time_placeholder_with_one_snapshot(rephetio: Dataset) -> None:
    frames = compute_all(rephetio, AnalysisParams())
    chart = build_all(frames)["views-over-time"]
    svg = render(chart, "svg").decode()
    assert any("two or more snapshots" in t for t in svg_texts(svg))


def test_save_chart_writes_pdf(charts: dict, tmp_path: Path) -> None:
    paths = save_chart(charts["imbalance"], tmp_path / "out", "imbalance", formats=("pdf", "png"), scale=1)
    assert [p.name for p in paths] == ["imbalance.pdf", "imbalance.png"]
    reader = PdfReader(paths[0])
    assert "rephetio" in reader.pages[0].extract_text()
    with pytest.raises(ValueError, match="jpeg"):
        save_chart(charts["imbalance"], tmp_path, "x", formats=("jpeg",))


@pytest.mark.slow  # draws every figure (vl-convert)
def test_cli_writes_figures(latest_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "figs"
    code = main(["figures", str(latest_dir / "meta.json"), "--out", str(out), "--formats", "svg", "--json",
                 "--bandwidth", "20", "--thresholds", "100,1000", "--exclude-user", "jspauld"])  # fmt: skip
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert sorted(payload["figures"]) == sorted(set(FIGURE_NAMES) - {"edits"})  # one snapshot: no edits
    for files in payload["figures"].values():
        assert all(Path(f).exists() for f in files) and len(files) == 2
    assert pl.read_csv(out / "activity-density.csv")["bandwidth"].unique().to_list() == [20.0]
    assert "Jesse Spaulding" not in pl.read_csv(out / "user-stream.csv")["user"].to_list()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--formats", "svg,gif"], "--formats"),
        (["--bandwidth", "0"], "--bandwidth"),
        (["--thresholds", "a,b"], "--thresholds"),
        (["--histogram-bin", "banana"], "--histogram-bin"),
    ],
)
def test_cli_bad_options(latest_dir: Path, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    code = main(["figures", str(latest_dir / "meta.json"), "--out", str(tmp_path), *args])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not any(tmp_path.iterdir())
