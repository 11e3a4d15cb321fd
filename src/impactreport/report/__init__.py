"""The report in the package: its assembly (:mod:`.assemble`: parameters → request → :class:`Report`,
figures and files written beside it), every sentence it prints about its numbers (:mod:`.sentences`)
and how it shows paths (:mod:`.paths`).

Not to be confused with the project's ``report/`` folder, the Quarto document that calls
:func:`prepare_report`. The names below are imported when first used: the renderer and ``summary``
import :mod:`.paths` and :mod:`.sentences` without the pipeline that :mod:`.assemble` runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from impactreport.report.assemble import (
        Report,
        preflight,
        prepare_report,
        project_root,
        report_request,
        resolve_data,
    )
    from impactreport.report.sentences import (
        community_sentences,
        rerender_sentence,
        revisions_limits,
        revisions_sentence,
    )

_ASSEMBLE = ("Report", "preflight", "prepare_report", "project_root", "report_request", "resolve_data")
_SENTENCES = ("community_sentences", "rerender_sentence", "revisions_limits", "revisions_sentence")
#: Exported name → the module that defines it.
_LAZY = {name: "impactreport.report.assemble" for name in _ASSEMBLE} | {
    name: "impactreport.report.sentences" for name in _SENTENCES
}

__all__ = [
    "Report",
    "community_sentences",
    "preflight",
    "prepare_report",
    "project_root",
    "report_request",
    "rerender_sentence",
    "resolve_data",
    "revisions_limits",
    "revisions_sentence",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'impactreport.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
