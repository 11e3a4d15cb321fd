"""Figures carry their scope and provenance: the period in every subtitle and alt text, and in every file
(PNG text chunks, SVG ``<metadata>``, PDF information dictionary) the package version, the period, the
data fingerprint, the parameters that shape the figure and a one-line citation.

Each file format is read back by an independent reader: the PNG's chunks walked by hand (CRC checked,
image data inflated), the SVG parsed as XML, the PDF read by pypdf and, when installed, poppler's
``pdfinfo``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import altair as alt
import polars as pl
import pytest
from pypdf import PdfReader

from impactreport.analyses import AnalysisParams
from impactreport.cli.main import main
from impactreport.figures import FIGURE_NAMES, build_all, save_chart
from impactreport.figures.provenance import (
    NAMESPACE,
    USERMETA,
    Scope,
    data_fingerprint,
    figure_metadata,
    package_version,
    pdf_with_info,
    period_label,
    png_text,
    png_with_text,
    svg_with_metadata,
)
from impactreport.figures.save import from_svg, render
from impactreport.figures.write import figure_key, write_figures
from impactreport.pipeline import Request, Result, run
from impactreport.schema import polars_schema
from impactreport.settings import Period

PERIOD = Period(date(2016, 9, 1), date(2017, 8, 31))
LABEL = "1 Sep 2016 to 31 Aug 2017"
UNICODE = "Nguyễn → “quoted” <script>alert(1)</script> & more"


# ---------------------------------------------------------------- independent readers
def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk (type, data) of a PNG, each CRC checked."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF, kind
        chunks.append((kind, data))
        at += 12 + length
    return chunks


def png_entries(png: bytes) -> dict[str, str]:
    """The text chunks, decoded as the PNG specification says (tEXt Latin-1, iTXt UTF-8)."""
    entries = {}
    for kind, data in png_chunks(png):
        if kind == b"tEXt":
            key, text = data.split(b"\x00", 1)
            entries[key.decode("latin-1")] = text.decode("latin-1")
        elif kind == b"iTXt":
            key, rest = data.split(b"\x00", 1)
            assert rest[:2] == b"\x00\x00"  # not compressed
            _language, _translated, text = rest[2:].split(b"\x00", 2)
            entries[key.decode("latin-1")] = text.decode("utf-8")
    return entries


def png_pixels_intact(png: bytes) -> bool:
    """The image data inflates to exactly height rows of (filter byte + width RGBA pixels)."""
    chunks = png_chunks(png)
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    channels = {6: 4, 2: 3, 0: 1, 4: 2}[colour]
    raw = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    return len(raw) == height * (1 + width * channels * depth // 8)


def svg_entries(svg: str) -> dict[str, str]:
    """The metadata elements of the SVG's own namespace, by local name."""
    root = ET.fromstring(svg.split("<!-- impactreport figure")[0])
    found = {}
    for element in root.iter():
        if element.tag.startswith(f"{{{NAMESPACE}}}"):
            found[element.tag.split("}", 1)[1]] = element.text or ""
    return found


def pdf_entries(path: Path) -> dict[str, str]:
    reader = PdfReader(path)
    assert len(reader.pages) == 1 and reader.pages[0].extract_text() is not None
    return {key.lstrip("/"): str(value) for key, value in (reader.metadata or {}).items()}


def poppler_info(path: Path) -> str | None:
    """``pdfinfo`` of a PDF when poppler is installed (its own parser, strict about xref sections)."""
    if shutil.which("pdfinfo") is None:
        return None
    result = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "Error" not in result.stderr, result.stderr
    return result.stdout


# ---------------------------------------------------------------- the data fingerprint
def snapshots(base: Path, names: dict[str, bytes]) -> pl.DataFrame:
    rows = []
    for name, data in names.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(
            {
                "source": "thinklab", "project": Path(name).stem, "path": str(path), "format": "C",
                "retrieved": datetime(2017, 9, 9, tzinfo=UTC), "sha256": hashlib.sha256(data).hexdigest(),
                "rows": 1,
            }
        )  # fmt: skip
    return pl.DataFrame(rows, schema=polars_schema("snapshots"))


FILES = {"exports/thinklab/b/2017.json": b'{"b": 1}', "exports/thinklab/a/2017.json": b'{"a": 2}'}


def test_data_fingerprint_is_sha256_of_the_sorted_relative_paths_and_digests(tmp_path: Path) -> None:
    frame = snapshots(tmp_path / "one", FILES)
    lines = sorted(f"{name}\t{hashlib.sha256(data).hexdigest()}\n" for name, data in FILES.items())
    expected = "sha256:" + hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    assert data_fingerprint(frame, tmp_path / "one") == expected
    # wherever the data folder lies, in any order, a file listed twice once
    moved = snapshots(tmp_path / "elsewhere" / "two", FILES)
    assert data_fingerprint(pl.concat([moved, moved.reverse()]), [tmp_path / "elsewhere" / "two"]) == expected
    # another file's bytes: another fingerprint
    changed = snapshots(tmp_path / "three", {**FILES, "exports/thinklab/a/2017.json": b'{"a": 3}'})
    assert data_fingerprint(changed, tmp_path / "three") != expected


def test_data_fingerprint_is_the_reports(tmp_path: Path) -> None:
    """The figures' fingerprint is the one the report's cite block and provenance.json give."""
    from impactreport.citation import manifest_of

    first = snapshots(tmp_path / "x", FILES)
    second = snapshots(tmp_path / "y", {"meta.json": b"{}"})
    bases = [tmp_path / "x", tmp_path / "y" / "meta.json"]
    assert (
        data_fingerprint(pl.concat([first, second]), bases) == manifest_of([first, second], bases).fingerprint
    )


def test_period_label_and_scope_line() -> None:
    newest = date(2017, 9, 9)
    assert period_label(PERIOD, newest) == (LABEL, True)
    assert period_label(Period(), newest) == ("all data up to 9 Sep 2017", False)
    assert period_label(None, None) == ("all data", False)
    assert period_label(Period(since=date(2017, 1, 1)), newest) == (
        "since 1 Jan 2017, data up to 9 Sep 2017",
        True,
    )
    assert period_label(Period(until=date(2016, 12, 31)), newest) == ("all data up to 31 Dec 2016", True)
    assert Scope(LABEL, True).line == f"Period: {LABEL}"
    assert Scope("all data up to 9 Sep 2017").line == "All data up to 9 Sep 2017"
    assert Scope().line == ""


# ---------------------------------------------------------------- writing into each format
ENTRIES = {
    "Title": "A chart",
    "Description": f"Alt text naming {UNICODE}.",
    "Software": "impactreport 9.9",
    "Period": LABEL,
    "Citation": f"A chart, impactreport 9.9, {LABEL}, data 0123456789ab",
}


def small_chart() -> alt.Chart:
    data = alt.Data(values=[{"x": "a", "y": 1}, {"x": "b", "y": 2}])
    chart = alt.Chart(data).mark_bar().encode(x="x:N", y="y:Q").properties(title="A chart")
    return chart.properties(usermeta={USERMETA: ENTRIES})


def test_png_text_chunks_right_after_ihdr(tmp_path: Path) -> None:
    (path,) = save_chart(small_chart(), tmp_path, "small", formats=("png",), scale=1)
    png = path.read_bytes()
    kinds = [kind for kind, _ in png_chunks(png)]
    # Latin-1 text as tEXt, the alt text (Vietnamese, arrows, curly quotes) as UTF-8 iTXt
    assert kinds[0] == b"IHDR" and kinds[1 : 1 + len(ENTRIES)] == [
        b"tEXt",
        b"iTXt",
        b"tEXt",
        b"tEXt",
        b"tEXt",
    ]
    assert png_entries(png) == ENTRIES == png_text(png)
    assert png_pixels_intact(png)
    with pytest.raises(ValueError, match="PNG"):
        png_with_text(b"GIF89a", ENTRIES)


def test_svg_metadata_block(tmp_path: Path) -> None:
    (path,) = save_chart(small_chart(), tmp_path, "small", formats=("svg",))
    svg = path.read_text(encoding="utf-8")
    root = ET.fromstring(svg)  # well-formed: the user text is escaped
    assert root.find("{http://www.w3.org/2000/svg}title").text == "A chart"
    assert root.find("{http://www.w3.org/2000/svg}desc").text == ENTRIES["Description"]
    entries = svg_entries(svg)
    assert entries["citation"] == ENTRIES["Citation"] and entries["period"] == LABEL
    assert entries["description"] == ENTRIES["Description"]
    dublin = {e.tag: e.text for e in root.iter() if e.tag.startswith("{http://purl.org/dc/")}
    assert dublin["{http://purl.org/dc/elements/1.1/}coverage"] == LABEL
    assert dublin["{http://purl.org/dc/terms/}bibliographicCitation"] == ENTRIES["Citation"]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    with pytest.raises(ValueError, match="SVG"):
        svg_with_metadata("<html/>", ENTRIES)


def test_pdf_information_dictionary(tmp_path: Path) -> None:
    (path,) = save_chart(small_chart(), tmp_path, "small", formats=("pdf",))
    info = pdf_entries(path)
    assert info["Title"] == "A chart" and info["Subject"] == ENTRIES["Description"]
    assert info["Period"] == LABEL and info["Citation"] == ENTRIES["Citation"]
    assert info["Creator"] == "impactreport 9.9" and LABEL in info["Keywords"]
    # vl-convert's file as it was, then our incremental update
    svg = render(small_chart(), "svg").decode("utf-8")
    # (vl-convert orders a page's font dictionary differently from run to run: compare the structure,
    # the original file whole up to its %%EOF and of the same size, then the update after it)
    data, original = path.read_bytes(), from_svg(svg, "pdf")
    end = data.rstrip()[: -len(b"%%EOF")].rindex(b"%%EOF") + len(b"%%EOF")  # the original's own end
    assert end == len(original) and data[:8] == original[:8]
    assert b"/Prev " in data[end:] and data.rstrip().endswith(b"%%EOF")
    info_text = poppler_info(path)
    assert info_text is None or "Title:           A chart" in info_text


def minimal_pdf_with_xref_stream() -> bytes:
    """A one-page PDF whose cross-reference section is a stream (PDF 1.5), written by hand."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    rows = struct.pack(">BIH", 0, 0, 65535)
    rows += b"".join(struct.pack(">BIH", 1, offset, 0) for offset in offsets)
    rows += struct.pack(">BIH", 1, xref_at, 0)
    out += (
        f"4 0 obj\n<< /Type /XRef /Size 5 /W [1 4 2] /Root 1 0 R /Length {len(rows)} >>\nstream\n".encode()
        + rows
        + b"\nendstream\nendobj\n"
    )
    out += f"startxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf_with_a_cross_reference_stream(tmp_path: Path) -> None:
    path = tmp_path / "stream.pdf"
    original = minimal_pdf_with_xref_stream()
    assert len(PdfReader_of(original, tmp_path / "original.pdf").pages) == 1
    path.write_bytes(pdf_with_info(original, ENTRIES))
    info = pdf_entries(path)
    assert info["Title"] == "A chart" and info["Period"] == LABEL
    poppler_info(path)
    with pytest.raises(ValueError, match="PDF"):
        pdf_with_info(b"not a pdf", ENTRIES)


def PdfReader_of(data: bytes, path: Path) -> PdfReader:
    path.write_bytes(data)
    return PdfReader(path)


# ---------------------------------------------------------------- through the pipeline, on real data
@pytest.fixture(scope="module")
def result(latest_dir: Path) -> Result:
    request = Request(paths=(latest_dir,), projects=("rephetio", "meta"), period=PERIOD)
    return run(request, figures=True)


@pytest.fixture(scope="module")
def written(result: Result, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return write_figures(result, tmp_path_factory.mktemp("figures"), scale=1)


def test_every_figure_states_its_period(result: Result) -> None:
    for name, chart in result.charts.items():
        spec = chart.to_dict()
        assert spec["title"]["subtitle"][0] == f"Period: {LABEL}", name
        assert spec["description"].endswith(f"Period: {LABEL}."), name


@pytest.mark.slow  # every figure drawn in three formats
def test_every_file_carries_the_metadata(
    result: Result, written: dict[str, list[Path]], latest_dir: Path
) -> None:
    from impactreport.citation import manifest_of

    assert set(written) == set(result.charts) and len(written) >= len(FIGURE_NAMES) - 2
    fingerprint = manifest_of([result.dataset.snapshots], [latest_dir]).fingerprint
    assert fingerprint == data_fingerprint(result.dataset.snapshots, latest_dir)
    version = package_version()
    for name, paths in written.items():
        svg, png, pdf = (p for p in paths if p.suffix != ".csv")
        title = result.charts[name].to_dict()["title"]["text"]
        citation = f"{title}, impactreport {version}, {LABEL}, data {fingerprint[7:19]}"
        from_png, from_svg, from_pdf = (
            png_entries(png.read_bytes()),
            svg_entries(svg.read_text()),
            pdf_entries(pdf),
        )
        for entries in (
            from_png,
            {key.replace("-", " ").capitalize(): text for key, text in from_svg.items()},
        ):
            assert entries["Period"] == LABEL, name
            assert entries["Software"] == f"impactreport {version}", name
            assert entries["Citation"] == citation, name
            assert entries["Figure"] == name
        assert from_png["Data fingerprint"] == from_svg["data-fingerprint"] == fingerprint
        assert from_pdf["DataFingerprint"] == fingerprint and from_pdf["Citation"] == citation
        assert from_pdf["Title"] == title and from_pdf["Subject"].endswith(f"Period: {LABEL}.")
        assert png_pixels_intact(png.read_bytes())
    parameters = {name: png_entries(paths[1].read_bytes())["Parameters"] for name, paths in written.items()}
    assert "bandwidth=30 days" in parameters["activity-density"]
    assert "thresholds=500, 4,000 characters" in parameters["contributors"]
    assert "team_size=0" in parameters["contributors"]
    assert "label_threshold=4,000 characters" in parameters["cumulative-contribution"]
    assert parameters["views"] == "none"


def test_metadata_is_part_of_the_cache_key(result: Result, tmp_path: Path) -> None:
    """A figure drawn with the same metadata is not drawn again; other metadata redraws it."""
    out = tmp_path / "figs"
    charts = {"imbalance": result.charts["imbalance"]}
    first = Result(result.request, result.dataset, result.stats, frames=result.frames, charts=charts)
    write_figures(first, out, formats=("svg", "png", "pdf"), scale=1)
    png = out / "imbalance.png"
    before = png.stat().st_mtime_ns
    write_figures(first, out, formats=("svg", "png", "pdf"), scale=1)
    assert png.stat().st_mtime_ns == before
    spec = charts["imbalance"].to_dict()
    other = json.loads(json.dumps(spec))
    other["usermeta"][USERMETA]["Period"] = "another period"
    assert figure_key(spec, ("svg",), 1) != figure_key(other, ("svg",), 1)
    relabelled = charts["imbalance"].properties(usermeta={USERMETA: other["usermeta"][USERMETA]})
    second = Result(result.request, result.dataset, result.stats, frames=result.frames,
                    charts={"imbalance": relabelled})  # fmt: skip
    write_figures(second, out, formats=("svg", "png", "pdf"), scale=1)
    assert png_entries(png.read_bytes())["Period"] == "another period"
    assert pdf_entries(out / "imbalance.pdf")["Period"] == "another period"


def test_figure_metadata_lists_the_figures_parameters() -> None:
    params = AnalysisParams(bandwidth=14, thresholds=(100, 1000), team=["a", "github:b"])
    scope = Scope(LABEL, True, "sha256:" + "ab" * 32, 3, "markdown")
    entries = figure_metadata("user-stream", "T", "D", scope, params)
    assert entries["Parameters"] == (
        "stream_bandwidth=14 days; stream_threshold=1,000 characters; exclude_users=none; "
        "text_basis=markdown; bots=left out"
    )
    assert entries["Citation"] == f"T, impactreport {package_version()}, {LABEL}, data {'ab' * 6}"
    assert "team_size=2" in figure_metadata("contributors", "T", "D", scope, params)["Parameters"]


def test_build_all_without_a_scope_still_has_metadata(result: Result) -> None:
    frames = {name: frame for name, frame in result.frames.items() if name != "scope"}
    charts = build_all(frames, AnalysisParams(), only=["imbalance"])
    meta = charts["imbalance"].to_dict()["usermeta"][USERMETA]
    assert meta["Period"] == "unknown" and meta["Software"].startswith("impactreport ")


@pytest.mark.slow  # draws every figure (vl-convert)
def test_cli_figures_write_the_metadata(
    latest_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figs"
    code = main(["figures", str(latest_dir / "meta.json"), "--out", str(out), "--since", "2016-01-01",
                 "--until", "2016-12-31", "--scale", "1"])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    label = "1 Jan 2016 to 31 Dec 2016"
    assert png_entries((out / "activity-histogram.png").read_bytes())["Period"] == label
    assert svg_entries((out / "activity-histogram.svg").read_text())["period"] == label
    assert pdf_entries(out / "activity-histogram.pdf")["Period"] == label
