"""The report's warnings and notes: paths shown relative to the data or the project, and handed to the CLI.

Why relative: the report is shared; the rule is :mod:`impactreport.report.paths` (:func:`bases`,
:func:`relative`, re-exported here).

Why a file: the report's code runs in a kernel (ours or Quarto's), so what it warns about would never
reach the terminal of ``impactreport render``. :func:`impactreport.render.render` names a file in
``$IMPACTREPORT_MESSAGES``; the report's code appends each message to it as a JSON line
(:func:`record`), and the CLI prints them, once each, after the render (:func:`read`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impactreport.report.paths import bases, relative

#: Environment variable naming the file the report's code appends its messages to.
MESSAGES_ENV = "IMPACTREPORT_MESSAGES"
KINDS = ("warning", "note")

__all__ = [
    "KINDS",
    "MESSAGES_ENV",
    "Message",
    "award_messages",
    "bases",
    "read",
    "record",
    "relative",
    "report_messages",
]


@dataclass(frozen=True)
class Message:
    """A warning (something limits the numbers) or a note (how to read a number), as the report shows it."""

    kind: str
    text: str


def report_messages(report: Any, root: Path | None = None) -> list[Message]:
    """The warnings and notes a :class:`impactreport.report.Report` carries, paths made relative;
    ``root`` defaults to the project root the report was prepared for."""
    places = _places(report, root)
    messages = [Message("warning", relative(text, places)) for text in report.stats.warnings]
    messages += [Message("note", relative(text, places)) for text in report.notes]
    return messages


def award_messages(report: Any, root: Path | None = None) -> list[Message]:
    """The notes of the award-year columns (``Year 1: the period runs to …``), paths made relative: the
    report prints them under its award table, :func:`record` hands them to the terminal too."""
    places = _places(report, root)
    return [
        Message("note", relative(f"{column.label}: {note}", places))
        for column in getattr(report, "awards", ())
        for note in column.notes
    ]


def _places(report: Any, root: Path | None) -> list[tuple[str, str]]:
    from impactreport.report import project_root

    return bases(report.params.data, report.data_paths, root or project_root())


def record(messages: Iterable[Message]) -> None:
    """Append ``messages`` to the file ``$IMPACTREPORT_MESSAGES`` names (nothing when it is unset)."""
    target = os.environ.get(MESSAGES_ENV)
    if not target:
        return
    lines = "".join(json.dumps({"kind": m.kind, "text": m.text}, ensure_ascii=False) + "\n" for m in messages)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(lines)


def read(path: Path) -> list[Message]:
    """The messages :func:`record` wrote to ``path``, each once (the report runs once per format under
    Quarto), in order; a missing file or a damaged line gives nothing for it."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found: dict[Message, None] = {}
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("kind") in KINDS and isinstance(data.get("text"), str):
            found.setdefault(Message(data["kind"], data["text"]))
    return list(found)
