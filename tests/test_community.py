"""Community health across its metrics: an empty dataset, the JSON shape ``summary`` promises, and the
two community figures built (each metric's own tests: ``tests/test_community_<metric>.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from impactreport import load_dataset, summarise
from impactreport.figures.registry import compute_all
from tests.community_data import export, rules_dataset


def test_empty_dataset_has_no_community_numbers(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(export([])), encoding="utf-8")
    dataset = load_dataset(path)
    stats = summarise(dataset).overall.to_json()
    assert stats["first_response"] == {"answered": 0, "unanswered": 0, "median_hours": None,
                                       "within_24h": 0, "within_7d": 0}  # fmt: skip
    assert stats["absence_factor"] == {"characters": None, "posts": None}
    assert (stats["new_contributors"], stats["returning_contributors"]) == (0, 0)
    frames = compute_all(dataset)
    assert frames["contributors-over-time"].is_empty() and frames["first-response"].is_empty()


def test_json_shape_is_the_contract() -> None:
    from impactreport.stats import KEYS, LevelStats

    assert KEYS[-4:] == ("first_response", "new_contributors", "returning_contributors", "absence_factor")
    shape = LevelStats().to_json()
    assert set(shape["first_response"]) == {
        "answered",
        "unanswered",
        "median_hours",
        "within_24h",
        "within_7d",
    }
    assert set(shape["absence_factor"]) == {"characters", "posts"}


def test_figures_are_built(tmp_path: Path) -> None:
    from impactreport.figures import build_all, csv_bytes
    from impactreport.figures.registry import FIGURE_NAMES

    assert {"first-response", "contributors-over-time"} <= set(FIGURE_NAMES)
    frames = compute_all(rules_dataset(tmp_path))
    charts = build_all(frames)
    for name in ("first-response", "contributors-over-time"):
        spec = charts[name].to_dict()
        assert spec["description"] and "No data" not in spec["description"], name
    monthly = pl.read_csv(csv_bytes(frames["contributors-over-time"]))
    assert monthly.columns == ["month", "new", "returning", "active", "cumulative"]
    assert monthly.height == 1 and monthly.row(0) == ("2020-03-01", 3, 0, 3, 3)
