"""Paths as the report shows them: relative to the data folders or the project, never a local absolute path.

Why: the report is shared, and a local absolute path (``/home/ann/impact/data/demo``) tells a reader
nothing but where the author keeps their files. A path under a data folder given as ``-P data:…`` is
shown from that folder as typed (``data/exports/demo``, or the folder's own name when it was given as an
absolute path outside the project: ``exports/demo``); any other path under the project root is shown
from the root (``data/identities.yml``), and one elsewhere in the home folder from ``~``. A path outside
all of them (a symbolic link's target in ``/srv``) is left as it is. Used by the report's messages
(:mod:`impactreport.render.notes`) and ``provenance.json`` (:mod:`impactreport.outputs`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path


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
