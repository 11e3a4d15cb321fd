"""Which snapshot of each project a count is made from: the data as it stood at a moment.

Why: a report for a closed period (an award year) is submitted once and re-rendered next year beside
the new one; its numbers must not move when later snapshots arrive (a comment edited or deleted after
the period, views gained since). So a period is counted as the data stood at its end:

- **the counted snapshot** of a project is the first one retrieved at or after the period's end (the
  first instant after its last day), the newest when none is (the period runs past the data, or is
  open); a comment edited or deleted after that snapshot changes nothing;
- ``as_of`` (``--as-of DATE``) hides every snapshot retrieved after the end of that day, reproducing
  the store as it stood then (a project with no snapshot by then is left out);
- with every snapshot asked for (``--all-snapshots``), the snapshots up to the counted one.

Pure functions over a listing (:class:`~impactreport.snapshots.SnapshotFile`, oldest first per
project): nothing here reads a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from impactreport.snapshots import SnapshotFile


def retrieved_at(file: SnapshotFile) -> datetime | None:
    """When the file was retrieved, as far as the listing knows (the store's file name; an export
    outside the store may carry its own ``retrieved`` time, see :mod:`.snapshots`)."""
    return getattr(file, "retrieved", None) or file.stamp


def by_project(files: Sequence[SnapshotFile]) -> dict[tuple[str, str], list[SnapshotFile]]:
    """The listing grouped per (source, project), keeping its order (oldest first)."""
    grouped: dict[tuple[str, str], list[SnapshotFile]] = {}
    for file in files:
        grouped.setdefault((file.source, file.project), []).append(file)
    return grouped


def visible_at(group: Sequence[SnapshotFile], as_of: datetime | None) -> list[SnapshotFile]:
    """The snapshots retrieved before ``as_of`` (None: every one); a file whose time is unknown (a
    lone export outside the store) is always visible."""
    return [f for f in group if as_of is None or (t := retrieved_at(f)) is None or t < as_of]


@dataclass(frozen=True)
class Counted:
    """The snapshot a project is counted from, and how it relates to the moment asked for."""

    source: str
    project: str
    file: SnapshotFile
    #: every snapshot of the project up to the counted one (oldest first)
    upto: tuple[SnapshotFile, ...]
    #: the project's snapshots visible at ``as_of`` (1: a single export)
    snapshots: int
    #: True when the counted snapshot was retrieved at or after the moment (the period's end)
    after_moment: bool
    #: when it was retrieved (None until known: an export outside the store says so only when read)
    retrieved: datetime | None = None

    def read_at(self, retrieved: datetime | None, moment: datetime | None) -> Counted:
        """The same entry once the file's own ``retrieved`` time is known (after loading it)."""
        if self.retrieved is not None or retrieved is None:
            return self
        after = moment is not None and retrieved >= moment
        return replace(self, retrieved=retrieved, after_moment=after)


def counted_snapshots(
    files: Sequence[SnapshotFile], moment: datetime | None, as_of: datetime | None = None
) -> list[Counted]:
    """Per project, the first snapshot retrieved at or after ``moment`` (None: the newest), among the
    snapshots retrieved before ``as_of`` (None: every one). Files whose time is unknown are kept and
    count as the newest (a single export outside the store)."""
    out: list[Counted] = []
    for (source, project), group in by_project(files).items():
        visible = visible_at(group, as_of)
        if not visible:
            continue
        chosen = len(visible) - 1
        after = False
        if moment is not None:
            for index, file in enumerate(visible):
                time = retrieved_at(file)
                if time is not None and time >= moment:
                    chosen, after = index, True
                    break
        out.append(
            Counted(
                source=source,
                project=project,
                file=visible[chosen],
                upto=tuple(visible[: chosen + 1]),
                snapshots=len(visible),
                after_moment=after,
                retrieved=retrieved_at(visible[chosen]),
            )
        )
    return out


def selected_files(counted: Sequence[Counted], *, all_snapshots: bool = False) -> list[SnapshotFile]:
    """The files to load: the counted snapshot of each project (or every one up to it)."""
    if all_snapshots:
        return [file for entry in counted for file in entry.upto]
    return [entry.file for entry in counted]


def bracket_files(
    files: Sequence[SnapshotFile], periods: Sequence[tuple[date | None, date | None]], as_of: datetime | None
) -> list[SnapshotFile]:
    """The snapshots that bracket each period, per project (oldest first): the last retrieved on or
    before its first day and the last on or before its last day (the newest when open), as
    :func:`impactreport.analyses.views.views_gained` chooses them. Views gained in a period need only
    these, not every snapshot: a summary of a period reads a few files instead of the whole series.
    A file whose retrieval time is unknown (a lone export) is always kept."""
    kept: list[SnapshotFile] = []
    for group in by_project(files).values():
        visible = visible_at(group, as_of)
        chosen: set[int] = set()
        for since, until in periods:
            for day, open_end in ((since, False), (until, True)):
                if day is None and not open_end:
                    continue
                before = [
                    i
                    for i, f in enumerate(visible)
                    if (t := retrieved_at(f)) is None or day is None or t.date() <= day
                ]
                if before:
                    chosen.add(before[-1])
        kept.extend(visible[i] for i in sorted(chosen))
    return kept
