"""The analyses' parameters: what every analysis module reads, defined once.

Why a module of its own: each analysis imports :class:`AnalysisParams`, and the package re-exports it;
kept here, no analysis imports the package's ``__init__`` (the figure names are the figure registry's:
:mod:`impactreport.figures.registry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from impactreport import settings
from impactreport.people import Team

DEFAULT_WEIGHTS: Mapping[str, float] = settings.WEIGHTS


@dataclass(frozen=True)
class AnalysisParams:
    """Every knob of the analyses; defaults come from :mod:`impactreport.settings`.

    ``weights`` weigh threads, comments and notes in "weighted activity". ``histogram_bin`` is a polars
    duration (``1mo``, ``3mo``, ``2w``). Bandwidths are the Gaussian kernel's standard deviation in days:
    ``bandwidth`` for weighted posts, ``char_bandwidth`` for characters per day, ``stream_bandwidth``
    (default: ``bandwidth``) for the user streams and ``cumulative_bandwidth`` for the cumulative chart
    (the Rephetio report used 0.03 years ≈ 11 days). ``thresholds`` are characters of comments and
    notes per user; a user counts for a threshold with **more than** that many characters
    (:func:`impactreport.settings.above`); ``stream_threshold`` (default: the highest threshold) selects
    the stream's users; ``label_threshold`` (default: the highest threshold, so the chart names the
    people the text counts above it) selects who is named in the cumulative chart.
    ``exclude_users`` (usernames or names) are left out of the stream chart. ``team`` marks the team in
    the contributors table. ``max_points`` caps the points per series handed to a chart.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    histogram_bin: str = settings.HISTOGRAM_BIN
    bandwidth: float = settings.BANDWIDTH
    char_bandwidth: float = settings.CHAR_BANDWIDTH
    thresholds: tuple[int, ...] = settings.THRESHOLDS
    label_threshold: int | None = None
    stream_threshold: int | None = None
    exclude_users: tuple[str, ...] = ()
    sqrt: bool = True
    team: Team = field(default_factory=Team)
    stream_bandwidth: float | None = None
    cumulative_bandwidth: float = settings.CUMULATIVE_BANDWIDTH
    exclude_bots: bool = True
    top_threads: int = 5
    top_discussions: int = 20
    max_points: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.team, Team):  # a plain list of names is accepted for convenience
            object.__setattr__(self, "team", Team.of(self.team))
        object.__setattr__(self, "thresholds", settings.normal_thresholds(self.thresholds))
        if not self.thresholds or any(t < 0 for t in self.thresholds):
            raise ValueError("thresholds must be one or more non-negative numbers")
        for name in ("bandwidth", "char_bandwidth", "cumulative_bandwidth"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive (days)")
        unknown = set(self.weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown weight kinds {sorted(unknown)}; use threads, comments, notes")

    @property
    def stream_min(self) -> int:
        return self.stream_threshold if self.stream_threshold is not None else max(self.thresholds)

    @property
    def label_min(self) -> int:
        """Who the cumulative chart names: more than this many characters (default: the highest
        threshold)."""
        return self.label_threshold if self.label_threshold is not None else max(self.thresholds)

    @property
    def stream_days(self) -> float:
        return self.stream_bandwidth if self.stream_bandwidth is not None else self.bandwidth

    def weight(self, kind: str) -> float:
        return float(self.weights.get(kind, DEFAULT_WEIGHTS[kind]))
