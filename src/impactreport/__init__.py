"""impactreport: reproducible impact reports from open online discussions.

The path from an export file to a report reads as the package's folders:
``load`` (export files → tables) → ``metrics`` (text metrics per post) → ``stats`` (the impact sentence)
→ ``analyses`` (frames behind each figure) → ``figures`` (altair charts, saved as SVG/PNG/PDF)
→ ``report`` (Quarto, or the built-in renderer). ``fetch`` writes the snapshots ``load`` reads.

The names below are imported when first used: ``import impactreport`` alone (what every command and
every text-metrics worker process does first) does not import polars.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from impactreport.errors import FetchError, InputError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from impactreport.load import load_dataset
    from impactreport.schema import Dataset
    from impactreport.stats import ImpactStats, summarise

#: Exported name → the module that defines it.
_LAZY = {
    "Dataset": "impactreport.schema",
    "ImpactStats": "impactreport.stats",
    "load_dataset": "impactreport.load",
    "summarise": "impactreport.stats",
}

__all__ = [
    "Dataset",
    "FetchError",
    "ImpactStats",
    "InputError",
    "__version__",
    "load_dataset",
    "summarise",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'impactreport' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
