"""The one look of every chart: fonts, colour-blind-safe palettes, date axes, titles, placeholders.

Projects use Paul Tol's "muted" scheme (designed to stay distinguishable with colour-vision
deficiencies; 9 colours) and then five of Tol's "vibrant" colours, one colour per project in every chart
(:func:`project_colors`); post kinds use Okabe-Ito colours; many users (stacked bands, where neighbours
must differ) cycle Tableau 20, with white separators between bands; the top discussions of the views
chart have their own colours (:data:`SERIES_COLORS`), never a project's. Numbers are written in full
with thousands separators (``127,098``), as the text and the tables write them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import altair as alt
import polars as pl

from impactreport.timefmt import ISO_Z_SECONDS

#: DejaVu Sans first: it has the glyphs of international names (Vietnamese ọ, Greek, Cyrillic) that
#: Liberation Sans lacks, so a name is never drawn half in a fallback serif font. CJK needs Noto Sans CJK
#: (Debian fonts-noto-cjk) installed; without it CJK characters render as boxes.
FONT = "DejaVu Sans, Liberation Sans, Noto Sans CJK JP, Helvetica, Arial, sans-serif"
TEXT = "#222222"
MUTED = "#555555"
WIDTH = 640
HEIGHT = 320

#: Paul Tol "muted" (colour-blind safe), then the colours of Tol's "vibrant" scheme that differ from them
#: (no grey: grey means "others" and "unanswered"). Beyond 14 projects colours repeat.
PROJECT_COLORS = (
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
    "#DDCC77", "#CC6677", "#882255", "#AA4499",
    "#EE7733", "#0077BB", "#EE3377", "#CC3311", "#BBCC33",
)  # fmt: skip
#: Lines that are not projects (the most viewed discussions): Tableau 10, apart from the project colours.
SERIES_COLORS = ("#4E79A7", "#F28E2B", "#E15759", "#59A14F", "#B07AA1", "#9C755F", "#EDC948", "#76B7B2")
#: A total drawn beside other series (not a project: no project colour).
TOTAL_COLOR = "#444444"
#: Okabe-Ito for threads, comments, notes.
KIND_COLORS = {"threads": "#0072B2", "comments": "#E69F00", "notes": "#009E73"}
#: Tableau 20: a long qualitative palette for many users (adjacent bands differ).
USER_COLORS = (
    "#4E79A7", "#A0CBE8", "#F28E2B", "#FFBE7D", "#59A14F", "#8CD17D", "#B6992D", "#F1CE63",
    "#499894", "#86BCB6", "#E15759", "#FF9D9A", "#79706E", "#BAB0AC", "#D37295", "#FABFD2",
    "#B07AA1", "#D4A6C8", "#9D7660", "#D7B5A6",
)  # fmt: skip
OTHERS_COLOR = "#CCCCCC"
#: Sequential blues for contributor levels, highest first (dark, then light enough for black text).
LEVEL_COLORS = ("#08519C", "#9ECAE1", "#C6DBEF", "#DEEBF7")

DATE_FORMAT = "%b %Y"

CONFIG = {
    "font": FONT,
    "background": "white",
    "padding": 8,
    "view": {"stroke": None, "continuousWidth": WIDTH, "continuousHeight": HEIGHT},
    "title": {"fontSize": 16, "subtitleFontSize": 12, "subtitleColor": MUTED, "anchor": "start",
              "color": TEXT, "offset": 10},
    "axis": {"labelFontSize": 12, "titleFontSize": 13, "labelColor": TEXT, "titleColor": TEXT,
             "titleFontWeight": "normal", "gridColor": "#E5E5E5", "domainColor": "#888888",
             "tickColor": "#888888", "labelLimit": 0},
    "legend": {"labelFontSize": 12, "titleFontSize": 12, "titleFontWeight": "normal",
               "labelColor": TEXT, "titleColor": TEXT, "labelLimit": 0, "symbolLimit": 200},
    "header": {"labelFontSize": 13, "titleFontSize": 13},
    "text": {"fontSize": 12, "color": TEXT},
}  # fmt: skip


def apply(
    chart: alt.TopLevelMixin, *, title: str, subtitle: str | list[str] = "", description: str
) -> alt.TopLevelMixin:
    """Title, subtitle and alt text (``description``), then the shared configuration."""
    heading = alt.TitleParams(title, subtitle=subtitle) if subtitle else alt.TitleParams(title)
    config: dict[str, Any] = CONFIG
    return chart.properties(title=heading, description=description).configure(**config)


def scoped(chart: alt.TopLevelMixin, line: str) -> alt.TopLevelMixin:
    """``chart`` with ``line`` (the period it shows: ``Period: 1 Sep 2016 to 31 Aug 2017``) as the first
    line of its subtitle and the last sentence of its alt text."""
    if not line:
        return chart
    text, lines = heading_of(chart)
    description = str(getattr(chart, "description", "")).rstrip()
    return chart.properties(
        title=alt.TitleParams(text, subtitle=[line, *lines]), description=f"{description} {line}."
    )


def heading_of(chart: alt.TopLevelMixin) -> tuple[str, list[str]]:
    """A chart's title and subtitle lines (as :func:`apply` set them)."""
    heading = getattr(chart, "title", "")
    text = getattr(heading, "text", heading)
    subtitle: Any = getattr(heading, "subtitle", alt.Undefined)
    if isinstance(subtitle, str):
        return str(text), [subtitle]
    return str(text), [] if subtitle is alt.Undefined else [str(line) for line in subtitle]


def cycle(colors: tuple[str, ...], count: int) -> list[str]:
    """``count`` colours, repeating the palette when there are more series than colours."""
    return [colors[index % len(colors)] for index in range(count)]


def project_colors(projects: Iterable[tuple[str, str]] | Iterable[str]) -> dict[str, str]:
    """The one project → colour mapping of every chart: the data's projects (``(source, project)`` pairs,
    or bare names), sorted by source and then by name ignoring case, take the palette in that order.

    Why sorted over every project of the data (not only those drawn): a project keeps its colour in every
    chart, in every period of the same data and between renders; a name found in two sources keeps the
    colour of its first. Projects beyond the palette's length repeat its colours from the start.
    """
    pairs = sorted(
        {(("", item) if isinstance(item, str) else (str(item[0] or ""), str(item[1]))) for item in projects},
        key=lambda pair: (pair[0].lower(), pair[1].lower(), pair[1]),
    )
    colors: dict[str, str] = {}
    for _, name in pairs:
        colors.setdefault(name, PROJECT_COLORS[len(colors) % len(PROJECT_COLORS)])
    return colors


def project_scale(shown: Sequence[str], colors: Mapping[str, str] | None = None) -> alt.Scale:
    """The colour scale of a chart drawing the projects ``shown`` (its legend lists exactly them), each in
    its colour of :func:`project_colors` (``colors``; default: the mapping of ``shown`` alone)."""
    mapping = colors if colors is not None else project_colors(shown)
    fallback = project_colors(shown)
    return alt.Scale(domain=list(shown), range=[mapping.get(name, fallback[name]) for name in shown])


def shown_projects(frame: pl.DataFrame, colors: Mapping[str, str], *, value: str | None = None) -> list[str]:
    """The projects a chart of ``frame`` draws (with a non-zero ``value`` when given), in the order of
    ``colors`` (then any others by name): what its legend lists. A project without activity is not drawn,
    so it is not in the legend either."""
    rows = frame if value is None else frame.filter(pl.col(value).fill_null(0).fill_nan(0) != 0)
    present = set(rows["project"].drop_nulls().to_list())
    ordered = [name for name in colors if name in present]
    return ordered + sorted(present - set(ordered), key=str.lower)


def user_scale(users: list[str]) -> alt.Scale:
    """Users in stacking order; the pooled "Other contributors" band is grey."""
    colors = cycle(USER_COLORS, len(users))
    colors = [
        OTHERS_COLOR if user.startswith("Other contributors") else c
        for user, c in zip(users, colors, strict=True)
    ]
    return alt.Scale(domain=users, range=colors)


def first_last(start: pl.Series, end: pl.Series | None = None) -> tuple[datetime, datetime]:
    """The earliest value of ``start`` and the latest of ``end`` (default ``start``), typed as datetimes.

    Why: polars types a Series' min/max as any scalar; charts need dates (callers check for empty frames).
    """
    first, last = start.min(), (start if end is None else end).max()
    if not isinstance(first, date) or not isinstance(last, date):
        raise ValueError("a time axis needs dates")
    return _as_datetime(first), _as_datetime(last)


def _as_datetime(value: date) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def largest(series: pl.Series, default: float = 0.0) -> float:
    """The largest value of a numeric series as a float (``default`` when empty or null)."""
    value = series.max()
    return float(value) if isinstance(value, int | float) else default


def month_step(start: date, end: date, max_ticks: int = 10) -> int:
    """Months between date ticks so at most ``max_ticks`` labels fit (1, 2, 3, 6, 12, 24, …)."""
    months = max(1, (end.year - start.year) * 12 + end.month - start.month)
    for step in (1, 2, 3, 6, 12, 24, 60, 120):
        if months / step <= max_ticks:
            return step
    return math.ceil(months / max_ticks)


def date_axis(start: date, end: date, *, title: str | None = None, max_ticks: int = 10) -> alt.Axis:
    """A time axis with "Jan 2016" labels every 1/2/3/6/12 months."""
    step = month_step(start, end, max_ticks)
    interval = {"interval": "year", "step": step // 12} if step >= 12 else {"interval": "month", "step": step}
    return alt.Axis(format=DATE_FORMAT, tickCount=interval, title=title, labelOverlap=True, labelFlush=False)


def number(value: float) -> str:
    """Thousands separators, no decimals for big numbers."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


#: The d3 format of every count on an axis, a label or a tooltip: ``127,098`` (never ``127k``), as the
#: text and the tables write numbers.
COUNT_FORMAT = ",~f"


def powers_of_ten(low: float, high: float) -> list[int]:
    """Ticks 1, 10, 100, … between ``low`` and ``high`` for a log axis whose labels are full numbers
    (``1,000,000`` does not fit between ``1,000`` and ``2,000``)."""
    ticks = [10**exponent for exponent in range(0, 13)]
    return [tick for tick in ticks if low <= tick <= high] or [ticks[0]]


def placeholder(message: str, *, width: int = WIDTH, height: int = 80) -> alt.Chart:
    """A chart that only says why there is nothing to show (e.g. a single snapshot)."""
    return (
        alt.Chart(alt.Data(values=[{"message": message}]))
        .mark_text(fontSize=14, color=MUTED, align="center")
        .encode(text="message:N")
        .properties(width=width, height=height)
    )


def values(frame, columns: list[str] | None = None, *, digits: int = 6) -> alt.Data:
    """A polars frame as inline Vega-Lite data: dates as ISO strings, floats rounded (smaller specs).

    The rows go in as one JSON string (``format: json``): Vega-Lite parses it like an array of
    objects, but altair validates one string instead of every row, which keeps building a chart of
    tens of thousands of points fast.
    """
    import polars as pl

    frame = frame.select(columns) if columns else frame
    frame = frame.with_columns(
        [pl.col(name).dt.strftime("%Y-%m-%d") for name, dtype in frame.schema.items() if dtype == pl.Date]
        + [
            pl.col(name).dt.strftime(ISO_Z_SECONDS)
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime)
        ]
        # NaN is no number to draw (JSON has none): null
        + [
            pl.col(name).round_sig_figs(digits).fill_nan(None)
            for name, dtype in frame.schema.items()
            if dtype == pl.Float64
        ]
    )
    return alt.Data(values=frame.write_json(), format=alt.DataFormat(type="json"))


def time_x(
    field: str, start: date, end: date, *, title: str | None = None, domain: list | None = None
) -> alt.X:
    """The x channel for dates: a UTC time scale (labels do not shift with the machine's time zone)."""
    scale = alt.Scale(type="utc", domain=domain) if domain else alt.Scale(type="utc")
    return alt.X(f"{field}:T", scale=scale, axis=date_axis(start, end, title=title))
