"""History from the snapshot series: versioned tables (:mod:`.versions`), their Parquet cache
(:mod:`.cache`) and what they say happened — revisions, re-renders, deletions (:mod:`.revisions`)."""

from impactreport.history.cache import load_versions
from impactreport.history.revisions import HISTORY_KEYS, summarise
from impactreport.history.versions import Versions

__all__ = ["HISTORY_KEYS", "Versions", "load_versions", "summarise"]
