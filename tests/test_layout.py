"""A layout that holds on real data: one colour per project in every figure, legends and the project table
without projects that had no activity, the cumulative chart naming whom the text counts, one number
format, no NaN, honest axes, and PDF tables that neither hyphenate names nor leave half-empty pages.

What a user saw rendering the award year 2016-09-01..2017-08-31 of the Thinklab archive (issue 20):
"thin-klab" hyphenated, LWT_FOR_OPEN_SCIENCE overlapping Source, nine all-zero project rows, a legend
of ten projects beside one drawn, "127.1K" beside "127,098", "+nan/month", medians left of the axis,
an axis of characters per day from −700 to 700.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typst
from pypdf import PdfReader

from impactreport.analyses import AnalysisParams
from impactreport.analyses.projects import inactive, is_active, no_activity_line
from impactreport.figures import build_all, theme
from impactreport.figures.community import FLOOR_HOURS
from impactreport.figures.save import render
from impactreport.labels import duration
from impactreport.pipeline import Request, Result, run
from impactreport.render.style import TYPST
from impactreport.settings import Period
from impactreport.stats import LevelStats

PERIOD = Period(date(2016, 9, 1), date(2017, 8, 31))


@pytest.fixture(scope="module")
def award_year(latest_dir: Path) -> Result:
    """Every project of the final exports, the award year of the issue: only rephetio was active."""
    return run(Request(paths=(latest_dir,), period=PERIOD), figures=True)


@pytest.fixture(scope="module")
def all_time(latest_dir: Path) -> Result:
    return run(Request(paths=(latest_dir,)), figures=True)


def walk(spec: Any) -> list[dict]:
    """Every object of a Vega-Lite spec."""
    found = []
    if isinstance(spec, dict):
        found.append(spec)
        for value in spec.values():
            found += walk(value)
    elif isinstance(spec, list):
        for value in spec:
            found += walk(value)
    return found


def project_colours(spec: dict) -> list[dict[str, str]]:
    """Each project colour scale of a spec (a ``color`` channel on ``project`` or, in the first-response
    chart, its printable ``label``) as project → colour."""
    scales = []
    for node in walk(spec):
        color = node.get("color") if isinstance(node.get("color"), dict) else None
        if color and color.get("field") in ("project", "label") and "domain" in color.get("scale", {}):
            scale = color["scale"]
            scales.append(dict(zip(scale["domain"], scale["range"], strict=True)))
    return scales


# ---------------------------------------------------------------- colours and legends
def test_one_colour_per_project_in_every_figure(award_year: Result, all_time: Result) -> None:
    seen: dict[str, set[str]] = {}
    for result in (award_year, all_time):
        for chart in result.charts.values():
            for scale in project_colours(chart.to_dict()):
                for project, colour in scale.items():
                    seen.setdefault(project, set()).add(colour)
    assert len(seen) == 10  # every Thinklab project drawn somewhere
    assert all(len(colours) == 1 for colours in seen.values()), seen
    colours = [next(iter(c)) for c in seen.values()]
    assert len(set(colours)) == len(colours)  # and no two projects share one
    expected = theme.project_colors(all_time.frames["projects"].select("source", "project").rows())
    assert {project: next(iter(c)) for project, c in seen.items()} == expected


def test_project_colours_are_stable_and_keyed_by_source_and_name() -> None:
    pairs = [("thinklab", "rephetio"), ("github", "zeta"), ("thinklab", "Alpha"), ("github", "beta")]
    colours = theme.project_colors(pairs)
    assert list(colours) == ["beta", "zeta", "Alpha", "rephetio"]  # by source, then by name ignoring case
    assert colours == theme.project_colors(list(reversed(pairs)))
    assert len(set(colours.values())) == 4
    # a name in two sources keeps one colour; more projects than colours repeat the palette
    assert len(theme.project_colors([("a", "x"), ("b", "x")])) == 1
    many = theme.project_colors([f"p{i:02d}" for i in range(len(theme.PROJECT_COLORS) + 1)])
    assert len(set(many.values())) == len(theme.PROJECT_COLORS)
    assert "#BBBBBB" not in theme.PROJECT_COLORS and "#CCCCCC" not in theme.PROJECT_COLORS  # grey: others


def test_legends_list_only_the_projects_drawn(award_year: Result) -> None:
    """In the award year only rephetio wrote anything: no legend lists the nine others."""
    active = set(award_year.frames["projects"].filter("active")["project"].to_list())
    assert active == {"rephetio"}
    for name, chart in award_year.charts.items():
        for scale in project_colours(chart.to_dict()):
            assert set(scale) <= active, (name, scale)
    imbalance = award_year.charts["imbalance"].to_dict()
    rows = [row for node in walk(imbalance) if isinstance(node.get("values"), str)
            for row in json.loads(node["values"])]  # fmt: skip
    assert rows and {row["project"] for row in rows} == {"rephetio"}
    assert "Left out, without threads, comments or notes: dFoxPoperant" in imbalance["title"]["subtitle"][-1]


def test_views_over_time_lines_are_not_project_colours(all_time: Result) -> None:
    spec = all_time.charts["views-over-time"].to_dict() if "views-over-time" in all_time.charts else None
    if spec is None or "vconcat" not in spec:
        pytest.skip("one snapshot per project: no views over time")
    colours = {value for node in walk(spec) for value in node.get("range", []) if isinstance(value, str)}
    assert not colours & set(theme.PROJECT_COLORS)


# ---------------------------------------------------------------- the project table
def stats(**values: int) -> LevelStats:
    return LevelStats(**values)


def test_projects_without_activity_leave_the_table() -> None:
    projects = {
        "rephetio": stats(discussions=25, comments=152, views=11_601),
        "EdgeProject": stats(views=68),
        "docs-only": stats(documents=1, words=10, characters=60),
        "meta": stats(),
    }
    assert inactive(projects) == ["EdgeProject", "meta"]
    assert is_active(
        {"discussions": 0, "comments": 0, "notes": 1, "documents": 0, "words": 0, "characters": 0}
    )
    line = no_activity_line(inactive(projects), PERIOD, 68)
    assert line == "No activity in the period: EdgeProject, meta. The total row includes their 68 views."
    assert no_activity_line(["meta"], Period()) == "No activity in the data: meta."
    assert no_activity_line(["meta"], PERIOD, 1) == (
        "No activity in the period: meta. The total row includes its 1 view."
    )
    assert no_activity_line([], PERIOD) == ""


@pytest.mark.slow
def test_report_table_has_no_all_zero_rows(latest_dir: Path, tmp_path: Path) -> None:
    """The built-in render of the award year: one project row (rephetio) and the total; the others are
    named in one line under the table."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    from impactreport.cli.main import main

    out = tmp_path / "out"
    code = main(["render", "--engine", "builtin", "--to", "html", "--output-dir", str(out),
                 "-P", f"data:{latest_dir}", "-P", "since:2016-09-01", "-P", "until:2017-08-31"])  # fmt: skip
    assert code == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    table = HTMLParser(html).css_first("#tbl-projects")
    rows = [[cell.text().strip() for cell in row.css("td")] for row in table.css("tbody tr")]
    assert [row[0] for row in rows] == ["rephetio", "All projects"]
    assert all(any(cell not in ("0", "0 (0)", "") for cell in row[2:]) for row in rows)
    text = re.sub(r"\s+", " ", HTMLParser(html).body.text())
    assert "No activity in the period: dFoxPoperant, EdgeProject, HHMI_Bcr_Abl, issnindiadatabase," in text
    # at 400 px in Chromium the table ran off the page (Notes cut): on narrow screens it scrolls in its box
    assert "@media (max-width: 700px)" in html and "overflow-x: auto" in html


# ---------------------------------------------------------------- labels, numbers, NaN
def test_cumulative_names_everyone_above_the_highest_threshold(all_time: Result) -> None:
    frame = all_time.frames["cumulative-contribution"]
    spec = all_time.charts["cumulative-contribution"].to_dict()
    assert "labelled: > 4,000 characters" in " ".join(spec["title"]["subtitle"])
    totals = frame.unique("user").filter(pl.col("users") == 1)
    assert set(totals.filter("labelled")["user"]) == set(totals.filter(pl.col("total") > 4000)["user"])
    contributors = all_time.frames["contributors"]
    assert totals.filter("labelled").height == contributors.filter(pl.col("characters") > 4000).height


NAN = re.compile(r"(?<![A-Za-z])nan(?![A-Za-z])", re.IGNORECASE)


def test_no_nan_in_any_chart_spec(award_year: Result, all_time: Result) -> None:
    # a discussion seen on one snapshot day (no growth) beside one seen on two
    views = pl.DataFrame(
        {
            "series": ["All discussions and documents", "All discussions and documents", "A", "A", "B"],
            "kind": ["total", "total", "discussion", "discussion", "discussion"],
            "order": [0, 0, 1, 1, 2],
            "date": [
                date(2017, 1, 1),
                date(2017, 2, 1),
                date(2017, 1, 1),
                date(2017, 2, 1),
                date(2017, 2, 1),
            ],
            "views": [10, 20, 3, 6, 4],
            "growth_per_month": [9.8, 9.8, 2.9, 2.9, None],
        }
    )
    extra = build_all({"views-over-time": views}, AnalysisParams())
    for charts in (award_year.charts, all_time.charts, extra):
        for name, chart in charts.items():
            text = json.dumps(chart.to_dict(), ensure_ascii=False)
            assert not NAN.search(text), (name, NAN.search(text))
    legend = json.dumps(extra["views-over-time"].to_dict())
    assert "B (seen on one day)" in legend and "A (+3/month)" in legend


K_OR_M = re.compile(r"^-?\d+(\.\d+)?[kKM]$|e[+-]\d")


def test_one_number_format_in_figures(award_year: Result) -> None:
    """Numbers in full with thousands separators, in the specs and in what is drawn."""
    for name, chart in award_year.charts.items():
        spec = chart.to_dict()
        formats = {node["format"] for node in walk(spec) if isinstance(node.get("format"), str)}
        assert not {f for f in formats if "s" in f.replace(",", "")}, (name, formats)  # no SI "~s"
        svg = render(spec, "svg").decode("utf-8")
        texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert not [t for t in texts if K_OR_M.search(t.strip())], (name, texts)
    labels = award_year.frames["cumulative-contribution"].drop_nulls("label")["label"].unique().to_list()
    assert "Daniel Himmelstein 127,098" in labels


def test_time_units_are_one_rule() -> None:
    """Hours below 48 hours, days from 48 hours on: the text's sentence follows the same rule."""
    assert duration(0) == "0.0 hours"
    assert duration(47.9) == "47.9 hours"
    assert duration(89.9) == "3.7 days"
    assert duration(24 * 400) == "400.0 days"


# ---------------------------------------------------------------- axes and legends
def test_zero_hour_medians_are_drawn_on_the_axis() -> None:
    frame = pl.DataFrame(
        {
            "project": ["fast", "fast", "slow"],
            "thread_id": [1, 2, 3],
            "subject": ["a", "b", "c"],
            "opened": [datetime(2020, 1, 1, tzinfo=UTC)] * 3,
            "responded": [datetime(2020, 1, 1, tzinfo=UTC)] * 2 + [datetime(2020, 1, 9, tzinfo=UTC)],
            "hours": [0.0, 0.0, 192.0],
            "answered": [True, True, True],
        }
    )
    chart = build_all({"first-response": frame})["first-response"]
    spec = chart.to_dict()
    medians = [unit for unit in walk(spec) if unit.get("mark", {}) == {"type": "point", "shape": "diamond",
               "filled": True, "size": 90, "color": theme.TEXT}]  # fmt: skip
    assert medians
    x = medians[0]["encoding"]["x"]
    assert x["field"] == "drawn" and x["scale"]["clamp"] is True
    rows = json.loads(medians[0]["data"]["values"])
    assert min(row["drawn"] for row in rows) == pytest.approx(FLOOR_HOURS, rel=1e-5)
    svg = render(spec, "svg").decode("utf-8")
    diamonds = re.findall(r'<path[^>]*transform="translate\(([-\d.]+),[-\d.]+\)"[^>]*d="M-?[\d.]+,0L0,', svg)
    assert diamonds and all(float(x) >= 0 for x in diamonds)  # none left of the axis


def test_stream_axis_has_no_signed_numbers(all_time: Result) -> None:
    spec = all_time.charts["user-stream"].to_dict()
    y = next(
        node["y"] for node in walk(spec) if isinstance(node.get("y"), dict) and node["y"].get("field") == "y0"
    )
    assert y["axis"]["labels"] is False and "grid lines" in y["title"]
    svg = render(spec, "svg").decode("utf-8")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert not [t for t in texts if re.fullmatch(r"[−-]\d[\d,]*", t.strip())]


def test_no_legend_inside_a_plot_with_a_line(all_time: Result) -> None:
    spec = all_time.charts["contributors-over-time"].to_dict()
    legends = [node["legend"] for node in walk(spec) if isinstance(node.get("legend"), dict)]
    assert legends and all(
        legend.get("orient") in (None, "top", "bottom", "left", "right") for legend in legends
    )


# ---------------------------------------------------------------- the PDF's tables (Typst)
def test_typst_tables_neither_hyphenate_nor_leave_half_pages(tmp_path: Path) -> None:
    """A narrow column of names: none is cut (without the style Typst hyphenates "thin\xadklab" and
    "issnin\xaddia\xaddata\xadbase" at this width); a long table continues on the next page, its caption
    with its first rows, instead of leaving the rest of the first page empty."""
    names = ["thinklab", "pathways4life", "issnindiadatabase", "LWT_FOR_OPEN_SCIENCE"]
    narrow = ", ".join(f"[{name}], [{index}]" for index, name in enumerate(names[:3] * 3))
    long = ", ".join(f"[{name}], [{name}], [{index:,}]" for index, name in enumerate(names * 30))
    source = f"""#set page(paper: "a4", margin: 2cm)
#set par(justify: true)
#set text(lang: "en")
#show figure.where(kind: table): set figure.caption(position: top)
{TYPST}
#figure(table(columns: (9%, 5%), {narrow}), kind: table)
#lorem(480)
#figure(table(columns: (25%, 25%, 10%), {long}), caption: [Projects], kind: table)
"""
    (tmp_path / "t.typ").write_text(source, encoding="utf-8")
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(typst.compile(str(tmp_path / "t.typ")))
    pages = [page.extract_text() for page in PdfReader(pdf).pages]
    text = "\n".join(pages)
    assert "\xad" not in text and "-\n" not in text  # no hyphenation (soft hyphens mark it)
    assert text.count("thinklab") == 3 + 60 and text.count("issnindiadatabase") == 3 + 60
    # the long table starts on the first page, below the text, with its caption, and goes on
    assert "Projects" in pages[0] and pages[0].rstrip().endswith(tuple(f"{i:,}" for i in range(120)))
    assert len(pages) >= 3
