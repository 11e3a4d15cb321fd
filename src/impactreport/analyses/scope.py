"""What one run's analyses read: the period's dataset, the data before the restriction, the period, views.

Why one object: the dataset, the unrestricted dataset, its posts (``history``) and the period travelled
together as four arguments through every frame function, and each analysis picked the two it needed;
one frozen scope names them once, says what each is for, and derives what several frames share (the
period a frame is clipped to, the period's views table) once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import polars as pl

from impactreport.schema import Dataset
from impactreport.settings import Period


@dataclass(frozen=True)
class AnalysisScope:
    """The inputs of every figure's frame (:data:`impactreport.figures.registry.FIGURES`).

    ``dataset`` is restricted to ``period`` already (:func:`impactreport.pipeline.restrict`); ``full`` is
    the dataset before that (None: ``dataset``), ``history`` its posts (None: ``full.posts``): first
    contributions and first responses are of all time (:mod:`impactreport.community`), discussion titles
    come from it. ``views_series`` (from :func:`impactreport.history.views.views_series`) holds the views
    of every snapshot; views over time need more than one snapshot date.
    """

    dataset: Dataset
    full: Dataset | None = None
    history: pl.DataFrame | None = None
    period: Period | None = None
    views_series: pl.DataFrame | None = None

    @property
    def unrestricted(self) -> Dataset:
        """The dataset before the period restriction."""
        return self.full if self.full is not None else self.dataset

    @property
    def past(self) -> pl.DataFrame:
        """Every post before the period restriction (first contributions are of all time)."""
        return self.history if self.history is not None else self.unrestricted.posts

    @property
    def clip(self) -> Period | None:
        """The period the frames over time are clipped to (None: no period, or an open one)."""
        return self.period if self.period is not None and not self.period.is_open else None

    @cached_property
    def gained(self) -> pl.DataFrame | None:
        """Views gained in the period where snapshots bracket it (None otherwise)."""
        from .views import views_gained

        return views_gained(self.views_series, self.clip) if self.clip is not None else None

    @cached_property
    def views(self) -> pl.DataFrame:
        """The views table: views gained in the period where snapshots bracket it, else the newest
        snapshot's views of the period's items (``views`` and ``top-discussions`` read it)."""
        from .views import views_table

        gained = self.gained
        return views_table(self.unrestricted if gained is not None else self.dataset, gained)

    @cached_property
    def titles(self) -> pl.DataFrame:
        """Every item's title and link: of all time with a period (a discussion named in views over
        time need not be active in it), the period's views table otherwise."""
        from .views import views_table

        return views_table(self.unrestricted) if self.clip is not None else self.views
