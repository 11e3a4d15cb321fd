"""Analyses: the data behind each figure, as polars frames (pure functions of a Dataset and parameters).

One module per analysis; :mod:`.scope` holds what a run's frames read (:class:`AnalysisScope`: the
period's dataset, the data before the restriction, the period, the views of every snapshot) and
:mod:`.params` their parameters. Which frame belongs to which figure is the figure registry's
(:mod:`impactreport.figures.registry`, whose ``compute_all`` computes them all), one layer up.
"""

from __future__ import annotations

from impactreport.analyses.params import DEFAULT_WEIGHTS, AnalysisParams
from impactreport.analyses.scope import AnalysisScope

__all__ = ["DEFAULT_WEIGHTS", "AnalysisParams", "AnalysisScope"]
