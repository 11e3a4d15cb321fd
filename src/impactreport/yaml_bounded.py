"""YAML a user types (identities files, ``-P`` values) read with bounded cost: no aliases, bounded depth.

Why: PyYAML expands an alias tree (``&a [*a, *a, …]``) exponentially and recurses once per level of
nesting, so a 100-byte value can cost gigabytes or end in a RecursionError. Nothing a person writes
here needs an alias or 32 levels, so both are refused with one line before anything is built.
"""

from __future__ import annotations

from typing import Any

import yaml

from impactreport.errors import InputError

#: Deeper nesting than any identities file or parameter needs.
MAX_DEPTH = 32
#: Longer than any identities file or parameter a person writes.
MAX_BYTES = 16 << 20


def flow_depth(text: str) -> int:
    """The deepest nesting of flow brackets, counted naively (brackets inside quoted text count too: 32
    unmatched ones in names is no real file)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def compose_bounded(text: str, shown: str, what: str) -> yaml.Node | None:
    """The YAML node tree of ``text``, refusing (one line naming ``shown``) what could cost without bound:
    more than :data:`MAX_BYTES`, nesting deeper than :data:`MAX_DEPTH`, any alias. ``what`` says what
    the text should be ("a list of people")."""
    if len(text) > MAX_BYTES:
        raise InputError(f"{shown}: longer than {MAX_BYTES:,} characters: too long to be {what}")
    if flow_depth(text) > MAX_DEPTH:  # PyYAML's parser slows down with depth long before it fails
        raise InputError(f"{shown}: nested too deeply to be {what}")
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):  # an alias tree expands exponentially
                line = f":{event.start_mark.line + 1}" if event.start_mark is not None else ""
                raise InputError(f"{shown}{line}: YAML aliases (*name) are not allowed here")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError(f"{shown}: nested too deeply to be {what}")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise InputError(f"{shown}: nested too deeply to be {what}") from None


def load_bounded(text: str, shown: str, what: str) -> Any:
    """:func:`compose_bounded`, then the plain Python value (as ``yaml.safe_load`` would give)."""
    node = compose_bounded(text, shown, what)
    if node is None:
        return None
    return yaml.SafeLoader("").construct_document(node)
