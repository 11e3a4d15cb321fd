"""The rich progress display of a fetch: one line per stage, drawn from the fetch's reporter events.

Why in ``cli/``: drawing on a terminal is the command's business; :func:`impactreport.fetch.sync.sync`
only calls the small :class:`~impactreport.fetch.sync.SyncDisplay` protocol this class implements, so
``fetch`` never imports the CLI. :mod:`impactreport.cli.fetch_options` is the one place that uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from impactreport.fetch.http import WaitEvent
from impactreport.fetch.ratelimits import Reporter, clock

from .console import safe_text

__all__ = ["Display", "progress_display"]


@dataclass
class Display:
    """Draws a :class:`Reporter`'s events as a rich progress display: one line per stage.

    ``progress`` None draws nothing (``--quiet``, ``--json``, or stderr not a terminal). Descriptions
    and statuses are plain text (markup off), since they hold project names.
    """

    progress: Progress | None
    task: TaskID | None = None
    overall: TaskID | None = None

    def attach(self, reporter: Reporter) -> None:
        """Point ``reporter``'s callbacks here (in place: the source's HTTP client holds the object)."""
        reporter.stage = self.stage
        reporter.advance = self.advance
        reporter.waiting = self.waiting

    def projects(self, total: int) -> None:
        """A line counting projects, when there are several."""
        if self.progress is not None and total > 1:
            self.overall = self.progress.add_task("all projects", total=total, status="")

    def project_done(self, status: str) -> None:
        if self.progress is None:
            return
        self.close(status)
        if self.overall is not None:
            self.progress.advance(self.overall)

    def stage(self, name: str, total: int | None) -> None:
        if self.progress is None:
            return
        self.close()
        self.task = self.progress.add_task(_plain(name), total=total, status="")

    def advance(self, count: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=count, status="")

    def waiting(self, event: WaitEvent) -> None:
        if self.progress is None or self.task is None:
            return
        status = f"waiting {event.seconds:.0f} s until {clock(event.seconds)} ({_plain(event.reason)})"
        self.progress.update(self.task, status=status)

    def close(self, status: str = "done") -> None:
        """Mark the current stage done (its bar full, whatever total it guessed)."""
        if self.progress is not None and self.task is not None:
            done = next(task.completed for task in self.progress.tasks if task.id == self.task)
            self.progress.update(self.task, total=done or 1, completed=done or 1, status=status)
            self.task = None


def _plain(text: str) -> str:
    return safe_text(text)  # the one rule for text from data


@contextmanager
def progress_display(console: Console, *, enabled: bool) -> Iterator[Display]:
    """The progress display on ``console`` (stderr); nothing unless ``enabled`` and it is a terminal."""
    if not enabled or not console.is_terminal:
        yield Display(None)
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<24}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        shown = Display(progress)
        yield shown
        shown.close()
