"""Export files → tables: every Thinklab format and every fetched source into one schema.

``load_dataset`` is the entry point; :mod:`.snapshots` finds files, :mod:`.read` parses one file,
:mod:`.formats` maps the four Thinklab formats onto common columns, :mod:`.resolve` recovers the keys
format B lacks, :mod:`.dataset` assembles the :class:`~impactreport.schema.Dataset` in named steps.
"""

from impactreport.load.dataset import load_dataset
from impactreport.snapshots import Discovery, SnapshotFile, discover, find

__all__ = ["Discovery", "SnapshotFile", "discover", "find", "load_dataset"]
