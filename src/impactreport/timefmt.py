"""How the project spells a day and a moment: ``1 Sep 2016`` in prose, ISO 8601 with ``Z`` in files.

Why a module of its own, at the bottom and without polars: the sentences, figures and report name days
one way, and every file, JSON object and API query spells a time one way; the fetchers write times too
and import nothing heavy, so the one definition lives where they can import it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def day_text(day: date | datetime) -> str:
    """``1 Sep 2016``: how every sentence, note, title and alt text names a day (charts' tooltips spell
    it with :data:`DAY_FORMAT_D3`)."""
    return f"{day.day} {day:%b %Y}"


#: :func:`day_text` as a d3 time format, for Vega-Lite tooltips (``%-d``: the day without a leading 0).
DAY_FORMAT_D3 = "%-d %b %Y"


def iso_z(moment: datetime, timespec: str = "auto") -> str:
    """``2017-09-09T23:29:47.925703Z``: a moment in UTC as ISO 8601 with ``Z``.

    ``timespec`` (as :meth:`datetime.isoformat`): ``"auto"``, microseconds only when not zero
    (``summary --json``, provenance, revisions); ``"microseconds"``, always (the format-C exports, as
    Thinklab's retrieving script wrote them); ``"seconds"`` (the GitHub and GitLab APIs' ``since``).
    A naive moment is taken as UTC.
    """
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


#: :func:`iso_z` to the second as a strftime pattern, for a whole column at once (polars'
#: ``dt.strftime``: the times a chart's data carries).
ISO_Z_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
