"""Deterministic synthetic Thinklab exports (format C) for the README, the offline report, tests, benchmarks.

- :mod:`.text`: random markdown bodies with their HTML, subjects, DOIs;
- :mod:`.model`: the projects, people, rows and snapshots as arrays and plain dicts;
- :mod:`.writer`: snapshot files (``json.dumps`` layout, gzip with mtime 0);
- :mod:`.build`: the store under a folder, with the demo marker.

Same seed and sizes → byte-identical files.
"""

from __future__ import annotations

from impactreport.demo.build import DemoResult, ProjectSummary, build_demo, marker_text, write_demo
from impactreport.demo.model import DEMO_TEAM, MAX_SNAPSHOTS, MIN_POSTS, PROJECTS

__all__ = [
    "DEMO_TEAM",
    "MAX_SNAPSHOTS",
    "MIN_POSTS",
    "PROJECTS",
    "DemoResult",
    "ProjectSummary",
    "build_demo",
    "marker_text",
    "write_demo",
]
