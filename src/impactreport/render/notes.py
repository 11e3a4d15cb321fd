"""The report's warnings and notes: paths shown relative to the data or the project, and handed to the CLI.

Why relative: the report is shared, and a local absolute path (``/home/ann/impact/data/demo``) tells a
reader nothing but where the author keeps their files. A path under a data folder given as ``-P data:…``
is shown from that folder as typed (``data/exports/demo``, or the folder's own name when it was given as
an absolute path outside the project: ``exports/demo``); any other path under the project root is shown
from the root (``data/identities.yml``), and one elsewhere in the home folder from ``~``. A path outside
all of them (a symbolic link's target in ``/srv``) is left as it is.

Why a file: the report's code runs in a kernel (ours or Quarto's), so what it warns about would never
reach the terminal of ``impactreport render``. :func:`impactreport.render.render` names a file in
``$IMPACTREPORT_MESSAGES``; the report's code appends each message to it as a JSON line
(:func:`record`), and the CLI prints them, once each, after the render (:func:`read`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Environment variable naming the file the report's code appends its messages to.
MESSAGES_ENV = "IMPACTREPORT_MESSAGES"
KINDS = ("warning", "note")


@dataclass(frozen=True)
class Message:
    """A warning (something limits the numbers) or a note (how to read a number), as the report shows it."""

    kind: str
    text: str


def _variants(path: Path) -> list[str]:
    """The absolute spellings of ``path`` a message may hold: as built, normalised, and resolved."""
    found = [str(path), os.path.normpath(path)]
    with contextlib.suppress(OSError, RuntimeError):
        found.append(str(path.resolve()))
    return [text for text in dict.fromkeys(found) if os.path.isabs(text)]


def bases(data: Sequence[str], data_paths: Sequence[Path], root: Path) -> list[tuple[str, str]]:
    """(absolute path, how to show it) for each data path given and the project root, longest first.

    ``data`` are the paths as typed (``-P data:…``, empty for the default), ``data_paths`` the same
    made absolute (relative ones are taken from ``root``).
    """
    shown: dict[str, str] = {}
    for typed, path in zip(data, data_paths, strict=False):
        if Path(typed).is_absolute():
            try:
                label = Path(os.path.normpath(path)).relative_to(os.path.normpath(root)).as_posix()
            except ValueError:
                label = Path(os.path.normpath(path)).name or typed
        else:
            label = Path(typed).as_posix()
        for variant in _variants(path):
            shown.setdefault(variant, label)
    for variant in _variants(root):
        shown.setdefault(variant, ".")
    home = Path.home()
    if len(home.parts) > 1:  # elsewhere in the home folder: ~/… (names no user)
        for variant in _variants(home):
            shown.setdefault(variant, "~")
    return sorted(shown.items(), key=lambda item: len(item[0]), reverse=True)


def relative(text: str, places: Sequence[tuple[str, str]]) -> str:
    """``text`` with every path under one of ``places`` (from :func:`bases`) written from it."""
    usable = [(base.rstrip("/\\") or base, label) for base, label in places if base]
    if not usable:
        return text
    labels = dict(usable)
    # a base counts where a path starts (not inside a longer name) and ends at a separator or the end of
    # the name: /tmp/x/data matches /tmp/x/data/demo, "/tmp/x/data:" and "in /tmp/x/data.", never
    # /tmp/x/data2 or /tmp/x/data.json
    pattern = re.compile(
        r"(?<![\w.~/\\-])("
        + "|".join(re.escape(base) for base, _ in usable)
        + r")(?:([/\\])(?=[^\s/\\])|(?!\.?[\w~-]))"
    )

    def replace(match: re.Match[str]) -> str:
        label = labels[match.group(1)]
        if match.group(2) is None:
            return label
        return "" if label == "." else f"{label}/"

    return pattern.sub(replace, text)


def report_messages(report: Any, root: Path | None = None) -> list[Message]:
    """The warnings and notes a :class:`impactreport.pipeline.Report` carries, paths made relative;
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
    from impactreport.pipeline import project_root

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
