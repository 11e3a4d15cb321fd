"""Copy-ready files beside the report: every table as CSV, a short summary for funders' web forms, and
the provenance manifest.

Why: a grant report is written in a funder's web form or a word processor, not in our HTML. The numbers
must be pasted from the files the report was made from, not retyped from a PDF. Everything here is
written by :func:`write_outputs` (called by :func:`impactreport.report.prepare_report`) into the
output folder, each file atomically (:func:`impactreport.files.write_atomic`):

- ``tables/projects.csv``, ``tables/comparison.csv`` (``compare_previous``),
  ``tables/award-years.csv`` (``award_start``), ``tables/revisions-people.csv`` (two or more
  snapshots of a project), ``tables/top-discussions.csv``: the report's tables, numbers unformatted.
  A table the report does not show this time is removed, so the folder never holds a stale one.
- ``summary.txt`` and ``summary.md``: at most :data:`MAX_WORDS` words.
- ``provenance.json`` (:func:`impactreport.citation.manifest_json`).

**Spreadsheet formulas.** A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is written with a leading ``'`` (:func:`impactreport.figures.neutralise`): a thread titled
``=HYPERLINK(...)`` opens in a spreadsheet as that text, never as a formula (OWASP "CSV injection").
Number columns are never touched, so ``-3.5`` stays a number. Every CSV the project writes (figures'
data, these tables) goes through that one writer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from impactreport.comparison import COMPARISON_ROWS
from impactreport.files import write_atomic
from impactreport.settings import Period

if TYPE_CHECKING:
    from datetime import date

    from impactreport.report import Report
    from impactreport.report.software import Tools

#: Folder of the CSV tables, under the output folder.
TABLES_DIR = "tables"
#: Every table :func:`table_frames` can write (the others are removed when not written).
TABLE_NAMES = ("projects", "comparison", "award-years", "revisions-people", "top-discussions")
SUMMARY_TXT = "summary.txt"
SUMMARY_MD = "summary.md"
PROVENANCE = "provenance.json"
#: Words a funder's form takes (the summary is cut down to fit, most important first).
MAX_WORDS = 300
#: The figures' PNG scale: 300 dpi at their natural size (1 CSS px = 1/96 in), the largest the PDF
#: prints them (its text is 17 cm wide; a wider figure is printed smaller, so at more dots per inch).
PRINT_DPI = 300
PNG_SCALE = PRINT_DPI / 96


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as CSV, by the project's one writer (:func:`impactreport.figures.csv_bytes`: lists
    joined with ``;``, dates as ISO days, formulas neutralised)."""
    from impactreport.figures import csv_bytes as write

    return write(frame)


def span(period: Period) -> str:
    """``2016-09-01 to 2017-08-31`` (open ends named): how a CSV header names a period."""
    since = period.since.isoformat() if period.since else "start"
    until = period.until.isoformat() if period.until else "end"
    return f"{since} to {until}"


# -- the tables ----------------------------------------------------------------------------------------
PROJECT_COLUMNS = (
    "discussions",
    "comments",
    "notes",
    "contributors",
    "non_team_contributors",
    "words",
    "characters",
    "views",
)


def projects_frame(report: Report) -> pl.DataFrame:
    """The report's project table (Table 1): one row per project grouped by source, a subtotal per
    source when there are several, and the total; ``level`` says which (project, source, all)."""
    stats = report.stats
    rows: list[dict[str, Any]] = []

    def row(level: str, project: str, source: str, values: Any) -> dict[str, Any]:
        return {"level": level, "project": project, "source": source} | {
            key: values[key] for key in PROJECT_COLUMNS
        }

    groups = stats.projects_by_source()
    for source, names in groups:
        rows += [row("project", name, source, stats.projects[name]) for name in names]
        if len(groups) > 1 and source in stats.sources:
            rows.append(row("source", f"Subtotal {source}", source, stats.sources[source]))
    rows.append(row("all", "All projects", "", stats.overall))
    schema: dict[str, Any] = {"level": pl.String, "project": pl.String, "source": pl.String}
    schema |= {key: pl.Int64 for key in PROJECT_COLUMNS}
    return pl.DataFrame(rows, schema=schema, orient="row")


def comparison_frame(report: Report) -> pl.DataFrame | None:
    """This period / previous period / change (percent of the previous number, empty when there is none)."""
    comparison = report.comparison
    if comparison is None:
        return None
    this = f"This period ({span(report.params.period)})"
    before = f"Previous period ({span(comparison.period)})"
    previous = comparison.stats.overall
    return pl.DataFrame(
        {
            "Number": [label for _, label in COMPARISON_ROWS],
            this: [report.stats.overall[key] for key, _ in COMPARISON_ROWS],
            before: [previous[key] for key, _ in COMPARISON_ROWS],
            "Change (%)": [comparison.change.get(key) for key, _ in COMPARISON_ROWS],
        },
        schema={"Number": pl.String, this: pl.Int64, before: pl.Int64, "Change (%)": pl.Float64},
    )


def award_frame(report: Report) -> pl.DataFrame | None:
    """One column per award year and one since the award start, each header naming its days."""
    columns = report.awards
    if not columns:
        return None
    data: dict[str, list[Any]] = {"Number": [label for _, label in COMPARISON_ROWS]}
    schema: dict[str, Any] = {"Number": pl.String}
    for column in columns:
        header = f"{column.label} ({span(column.period)})"
        data[header] = [column.stats.overall[key] for key, _ in COMPARISON_ROWS]
        schema[header] = pl.Int64
    return pl.DataFrame(data, schema=schema)


def revisions_frame(report: Report) -> pl.DataFrame | None:
    """Revisions per person: every person who revised (the report shows the ten with the most), in the
    report's order and columns."""
    history = report.history
    if history is None:
        return None
    people = history.top_people(max(1, history.people.height))
    if people.height == 0:
        return None
    return people.select(
        pl.col("name").alias("Person"),
        pl.col("revisions").alias("Revisions"),
        pl.col("edited_posts").alias("Edited posts"),
        pl.col("written_characters").alias("Written characters"),
        pl.col("final_characters").alias("Final characters"),
        pl.col("extra_percent").round(1).alias("Extra written (%)"),
    )


def top_discussions_frame(report: Report) -> pl.DataFrame | None:
    """The most viewed discussions with their links (the report's "Top discussions" table)."""
    top = report.frames.get("top-discussions")
    if top is None or top.height == 0:
        return None
    return top.select(
        pl.col("title").alias("Discussion"),
        pl.col("project").alias("Project"),
        pl.col("published").dt.date().alias("Opened"),
        pl.col("views").alias("Views"),
        pl.col("link").alias("Link"),
    )


def table_frames(report: Report) -> dict[str, pl.DataFrame]:
    """Each table the report shows this time, by file name (without ``.csv``)."""
    makers: dict[str, Callable[[Report], pl.DataFrame | None]] = {
        "projects": projects_frame,
        "comparison": comparison_frame,
        "award-years": award_frame,
        "revisions-people": revisions_frame,
        "top-discussions": top_discussions_frame,
    }
    frames = {name: make(report) for name, make in makers.items()}
    return {name: frame for name, frame in frames.items() if frame is not None}


# -- the summary for funders' forms ----------------------------------------------------------------------
def words(text: str) -> int:
    """Words as a web form counts them: runs of non-space characters."""
    return len(text.split())


def _count(value: Any) -> str:
    return "unknown" if value is None else f"{value:,}"


def _change(value: float | None) -> str:
    from impactreport.comparison import change_text

    return change_text(value).replace("−", "-")


def summary_parts(report: Report, *, compact: int = 0) -> list[tuple[str, str]]:
    """(heading, paragraph) of the summary, most important first; ``compact`` 1, 2, 3 … shortens the
    comparison and the award years, then leaves out the less needed parts, until it fits."""
    from impactreport.report.sentences import community_sentences

    params = report.params
    period = params.period
    citation = report.citation
    parts: list[tuple[str, str]] = []
    lines = [f"Period: {period.describe() if not period.is_open else 'all the data'}"]
    if params.funder or params.award:
        funding = (citation.funding() if citation else "").removesuffix(".")
        lines.append(funding)
    parts.append(("", f"{params.title}. " + ". ".join(lines) + "."))
    parts.append(("Impact", report.stats.sentence(period=period)))
    keys = COMPARISON_ROWS if compact < 1 else COMPARISON_ROWS[:4]
    if report.comparison is not None:
        previous = report.comparison.stats.overall
        items = []
        for key, label in keys:
            change = report.comparison.change.get(key)
            was = f"previous {_count(previous[key])}" + (f", {_change(change)}" if change is not None else "")
            items.append(f"{label.lower()} {_count(report.stats.overall[key])} ({was})")
        items[0] = items[0][0].upper() + items[0][1:]
        heading = f"Compared with the previous period ({report.comparison.period.describe()})"
        parts.append((heading, "; ".join(items) + "."))
    if report.awards:
        columns = report.awards if compact < 2 else report.awards[-2:]
        award_keys = COMPARISON_ROWS[:4] if compact < 1 else COMPARISON_ROWS[:2]
        items = [
            f"{column.label} ({column.period.describe()}): "
            + ", ".join(f"{_count(column.stats.overall[key])} {label.lower()}" for key, label in award_keys)
            for column in columns
        ]
        parts.append(("Award years", "; ".join(items) + "."))
    first, new = community_sentences(report.stats, period)
    overall = report.stats.overall
    community = f"{_count(overall['contributors'])} people contributed comments or notes. {first} {new}"
    parts.append(("Community", community if compact < 3 else new))
    if citation is not None:
        parts.append(("How to cite", citation.text()))
    if compact >= 4:  # the last resort: the sentence and how to cite
        parts = [parts[0], parts[1], parts[-1]]
    return parts


_MARKUP = re.compile(r"([\\`*_\[\]<>#|~])")


def md_text(text: str) -> str:
    """``text`` as literal markdown, escaping only the characters that could become markup (a title
    ``*draft*`` stays that text): the summary stays readable where a form shows it raw."""
    return _MARKUP.sub(r"\\\1", text)


def summary_texts(report: Report) -> tuple[str, str]:
    """``summary.txt`` and ``summary.md``: the parts of :func:`summary_parts`, the fullest that keeps
    both within :data:`MAX_WORDS` words."""
    text = markdown = ""
    for compact in range(6):
        parts = summary_parts(report, compact=compact)
        text = "\n\n".join(f"{head}: {body}" if head else body for head, body in parts) + "\n"
        title, *rest = parts
        lead = md_text(title[1].removeprefix(report.params.title))
        markdown = f"**{md_text(report.params.title)}**{lead}\n\n"
        markdown += "\n\n".join(f"**{md_text(head)}.** {md_text(body)}" for head, body in rest) + "\n"
        if max(words(text), words(markdown)) <= MAX_WORDS:
            break
    return text, markdown


# -- citation and provenance ---------------------------------------------------------------------------------
def provenance_parameters(report: Report, root: Path) -> dict[str, Any]:
    """The parameters as ``provenance.json`` records them: paths shown from the data folder or the
    project (:mod:`impactreport.report.paths`, never a local absolute path); the data folders actually
    read under ``data_folders`` (the default one included)."""
    from impactreport.report.paths import bases, relative

    params = report.params
    places = bases(params.data, report.data_paths, root)
    values = params.to_mapping()
    values["data"] = [relative(str(path), places) for path in report.data_paths[: len(params.data)]]
    for key in ("team_file", "identities"):
        values[key] = relative(values[key], places) if values[key] else ""
    values["data_folders"] = [relative(str(path), places) for path in report.data_paths]
    return values


def complete(report: Report, *, root: Path, output: Path, prepared: date, tools: Tools) -> Report:
    """The report with its manifest (every snapshot read), citation and ``provenance.json``, after
    writing the copy-ready files into ``output`` (:func:`write_outputs`)."""
    import platform
    from dataclasses import replace

    from impactreport import citation
    from impactreport.settings import day_text

    result = report.result
    full = result.full or result.dataset
    frames = [result.versions.snapshots if result.versions is not None else None, full.snapshots]
    manifest = citation.manifest_of(frames, report.data_paths)
    params = report.params
    last = manifest.last()
    period = params.period
    cite = citation.Citation(
        title=params.title,
        authors=citation.authors_of(params.authors, params.author),
        period=period.describe()
        if not period.is_open or last is None
        else f"all data up to {day_text(last)}",
        prepared_on=prepared,
        package_version=report.versions.get("impactreport", "unknown"),
        fingerprint=manifest.fingerprint,
        license=params.license,
        funder=params.funder,
        award=params.award,
    )
    packages = {
        k: v for k, v in report.versions.items() if k not in ("Python", "renderer", "Quarto", "pandoc")
    }
    software = {
        "impactreport": report.versions.get("impactreport"),
        "python": platform.python_version(),
        "quarto": tools.quarto,
        "pandoc": tools.pandoc,
        "renderer": report.versions.get("renderer"),
        "packages": packages,
    }
    report = replace(report, citation=cite, manifest=manifest)
    provenance = citation.manifest_json(
        manifest,
        citation=cite,
        parameters=provenance_parameters(report, root),
        software=software,
        git=tools.git_commit,
        licenses=report.licenses(),
    )
    report = replace(report, provenance=provenance)
    return replace(report, outputs=write_outputs(report, output))


# -- writing ----------------------------------------------------------------------------------------------
def write_outputs(report: Report, output: Path) -> dict[str, Path]:
    """Write the tables, the summaries and ``provenance.json`` into ``output``; return them by name."""
    written: dict[str, Path] = {}
    folder = output / TABLES_DIR
    frames = table_frames(report)
    for name, frame in frames.items():
        path = folder / f"{name}.csv"
        write_atomic(path, csv_bytes(frame))
        written[f"{TABLES_DIR}/{name}.csv"] = path
    for name in set(TABLE_NAMES) - set(frames):  # not shown this time: no stale copy beside the report
        (folder / f"{name}.csv").unlink(missing_ok=True)
    text, markdown = summary_texts(report)
    for name, content in ((SUMMARY_TXT, text), (SUMMARY_MD, markdown)):
        write_atomic(output / name, content.encode("utf-8"))
        written[name] = output / name
    if report.provenance is not None:
        write_atomic(output / PROVENANCE, report.provenance)
        written[PROVENANCE] = output / PROVENANCE
    return written
