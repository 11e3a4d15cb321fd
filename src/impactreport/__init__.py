"""impactreport: reproducible impact reports from open online discussions.

The path from an export file to a report reads as the package's folders:
``load`` (export files → tables) → ``metrics`` (text metrics per post) → ``stats`` (the impact sentence)
→ ``analyses`` (frames behind each figure) → ``figures`` (altair charts, saved as SVG/PNG/PDF)
→ ``report`` (Quarto, or the built-in renderer). ``fetch`` writes the snapshots ``load`` reads.
"""

from __future__ import annotations

__version__ = "0.1.0"

from impactreport.errors import FetchError, InputError
from impactreport.load import load_dataset
from impactreport.schema import Dataset
from impactreport.stats import ImpactStats, summarise

__all__ = [
    "Dataset",
    "FetchError",
    "ImpactStats",
    "InputError",
    "__version__",
    "load_dataset",
    "summarise",
]
