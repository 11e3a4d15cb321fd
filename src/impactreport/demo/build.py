"""``build_demo``: the demo data (:mod:`.model`) written as a snapshot store (:mod:`.writer`), marked as demo.

Layout: ``DIR/exports/thinklab/<project>/<stamp>.json.gz`` (names from :mod:`impactreport.layout`),
and ``DIR/.impactreport-demo``, written first, so that a scan of a parent folder skips the demo tree
(even a half-written one) unless the user points at it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from impactreport.demo.model import Demo, Project, generate
from impactreport.demo.writer import Growing, Member, write_snapshots
from impactreport.layout import DEMO_MARKER, EXPORTS_DIR, stamp_name

#: The source folder the demo's projects are stored under.
SOURCE = "thinklab"


@dataclass(frozen=True)
class ProjectSummary:
    """What was written for one project (counts of its newest snapshot)."""

    project: str
    snapshots: int
    threads: int
    comments: int
    notes: int
    profiles: int
    documents: int


@dataclass(frozen=True)
class DemoResult:
    """Files written (oldest first per project) and per-project counts."""

    directory: Path
    paths: list[Path]
    projects: list[ProjectSummary] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """A plain object for ``--json``."""
        return {
            "directory": str(self.directory),
            "files": [str(path) for path in self.paths],
            "projects": {
                p.project: {
                    "snapshots": p.snapshots,
                    "threads": p.threads,
                    "comments": p.comments,
                    "notes": p.notes,
                    "profiles": p.profiles,
                    "documents": p.documents,
                }
                for p in self.projects
            },
        }


def marker_text(posts: int, seed: int, snapshots: int) -> str:
    """The marker's one line: what the folder is and the command that writes it again."""
    return (
        "Generated demo data (synthetic, not real exports); regenerate with: impactreport demo "
        f"<this folder> --posts {posts} --seed {seed} --snapshots {snapshots}\n"
    )


def _members(demo: Demo, project: Project) -> dict[str, Member]:
    """What each snapshot of ``project`` holds, key by key (the keys of format C)."""
    stamps = project.stamps()
    return {
        "comments": Growing(project.comments.counts(project.retrieved), project.comment_rows),
        "documents": project.documents,
        "notes": Growing(project.notes.counts(project.retrieved), project.note_rows),
        "profiles": lambda k: demo.profiles(project, k),
        "retrieved": stamps.__getitem__,
        "threads": project.threads,
    }


def _summary(project: Project) -> ProjectSummary:
    last = len(project.retrieved) - 1
    return ProjectSummary(
        project=project.name,
        snapshots=len(project.retrieved),
        threads=len(project.threads(last)),
        comments=project.comments.counts(project.retrieved)[last],
        notes=project.notes.counts(project.retrieved)[last],
        profiles=len(project.authors(last)),
        documents=len(project.documents(last)),
    )


def build_demo(
    directory: str | Path,
    *,
    posts: int = 2000,
    seed: int = 7,
    snapshots: int = 6,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Write the demo store under ``directory`` and say what is in it (``progress`` gets each project)."""
    demo = generate(posts, seed, snapshots)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / DEMO_MARKER).write_text(marker_text(posts, seed, snapshots), encoding="utf-8")
    paths: list[Path] = []
    summaries: list[ProjectSummary] = []
    for project in demo.projects:
        folder = root / EXPORTS_DIR / SOURCE / project.name
        folder.mkdir(parents=True, exist_ok=True)
        files = [folder / stamp_name(moment) for moment in project.moments()]
        write_snapshots(files, _members(demo, project))
        paths.extend(files)
        summaries.append(_summary(project))
        if progress is not None:
            progress(project.name)
    return DemoResult(directory=root, paths=paths, projects=summaries)


def write_demo(directory: str | Path, *, posts: int = 2000, seed: int = 7, snapshots: int = 6) -> list[Path]:
    """Write the deterministic demo export set; return the files written (oldest first per project)."""
    return build_demo(directory, posts=posts, seed=seed, snapshots=snapshots).paths
