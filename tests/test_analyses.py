"""Analyses: smoothing against a direct kernel sum, mass conservation, and counts derived from raw JSON.

Expected values on real data are computed here by an independent route: the raw export JSON read
with the standard library and body text collected here node by node (a walk over selectolax's text
nodes), not through the loader or the metrics module.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from impactreport.analyses import (
    AnalysisParams,
    activity,
    contributors,
    cumulative,
    imbalance,
    streams,
    views,
)
from impactreport.analyses.smoothing import Grid, bin_linear, gaussian_kernel, smooth
from impactreport.figures.registry import FIGURE_NAMES, compute_all
from impactreport.history.views import load_views
from impactreport.load import load_dataset
from impactreport.schema import TABLES, Dataset, empty, polars_schema

DAY_US = 86_400_000_000


# ---------------------------------------------------------------- independent reading of the raw JSON


def raw(latest: Path, project: str) -> dict:
    return json.loads((latest / f"{project}.json").read_text(encoding="utf-8"))


def visible_length(html: str) -> int:
    """Characters of the visible text: every text node outside script/style, concatenated; layout
    whitespace between elements (a whitespace-only node holding a line break) counts as one line break."""
    if not html:
        return 0
    tree = LexborHTMLParser(html)
    total = 0
    for node in tree.root.traverse(include_text=True):
        if node.tag == "-text" and node.parent is not None and node.parent.tag not in ("script", "style"):
            text = node.text_content or ""
            total += 1 if re.fullmatch(r"[ \t\n]*\n[ \t\n]*", text) else len(text)
    return total


def day_number(stamp: str) -> float:
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (when - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() / 86_400


def direct_density(
    days: np.ndarray, weights: np.ndarray, grid_days: np.ndarray, bandwidth: float
) -> np.ndarray:
    """Σ w·φ((t − tᵢ)/h)/h at each grid day: the definition, evaluated point by point."""
    z = (grid_days[:, None] - days[None, :]) / bandwidth
    return (np.exp(-0.5 * z**2) * weights[None, :]).sum(axis=1) / (bandwidth * math.sqrt(2 * math.pi))


@pytest.fixture(scope="module")
def rephetio_raw(latest_dir: Path) -> dict:
    return raw(latest_dir, "rephetio")


@pytest.fixture(scope="module")
def rephetio(latest_dir: Path) -> Dataset:
    return load_dataset([latest_dir / "rephetio.json"])


@pytest.fixture(scope="module")
def everything(latest_dir: Path) -> Dataset:
    return load_dataset([latest_dir])


DAILY = AnalysisParams(max_points=100_000)


# ---------------------------------------------------------------- smoothing


def test_activity_density_matches_direct_kernel_sum(rephetio: Dataset, rephetio_raw: dict) -> None:
    frame = activity.activity_density(rephetio, DAILY)
    events = [(t["published"], 3.0) for t in rephetio_raw["threads"]]
    events += [(c["published"], 2.0) for c in rephetio_raw["comments"]]
    events += [(n["added"], 1.0) for n in rephetio_raw["notes"]]
    days = np.array([day_number(when) for when, _ in events])
    weights = np.array([w for _, w in events])
    grid_days = frame["date"].cast(pl.Int32).to_numpy().astype(float)
    expected = direct_density(days, weights, grid_days, 30.0)
    got = frame["per_day"].to_numpy()
    assert np.abs(got - expected).max() <= 0.01 * expected.max()
    # mass: the curve sums to the total weight (899 posts: 86×3 + 622×2 + 191×1)
    assert weights.sum() == 86 * 3 + 622 * 2 + 191 * 1
    assert got.sum() == pytest.approx(weights.sum(), rel=0.01)


def test_characters_density_matches_direct_kernel_sum(rephetio: Dataset, rephetio_raw: dict) -> None:
    frame = activity.characters_density(rephetio, DAILY)
    rows = [(c["published"], visible_length(c["body_html"])) for c in rephetio_raw["comments"]]
    rows += [(n["added"], visible_length(n["body_html"])) for n in rephetio_raw["notes"]]
    days = np.array([day_number(when) for when, _ in rows])
    weights = np.array([float(n) for _, n in rows])
    grid_days = frame["date"].cast(pl.Int32).to_numpy().astype(float)
    expected = direct_density(days, weights, grid_days, 7.0)
    got = frame["per_day"].to_numpy()
    assert np.abs(got - expected).max() <= 0.01 * expected.max()
    assert got.sum() == pytest.approx(weights.sum(), rel=0.01)
    # the grid covers the data plus 4 bandwidths on each side
    assert grid_days.min() <= days.min() - 28 and grid_days.max() >= days.max() + 28


def test_smoothing_cost_does_not_depend_on_posts_times_days() -> None:
    """A million posts over ten years: binned, so well under a second even on a busy machine."""
    import time

    rng = np.random.default_rng(7)
    days = rng.uniform(16000, 19650, 1_000_000)
    grid = Grid(15800, 4000)  # data ± 4 bandwidths (120 days) and a margin
    start = time.perf_counter()
    curve = smooth(days, np.ones(days.size), grid, 30.0)
    assert time.perf_counter() - start < 2.0
    assert curve.sum() == pytest.approx(1_000_000, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 400), st.floats(0.1, 1000)), min_size=1, max_size=50),
    st.floats(0.5, 60),
)
def test_mass_is_conserved_on_a_padded_grid(points: list[tuple[float, float]], bandwidth: float) -> None:
    days = np.array([p for p, _ in points]) + 10_000
    weights = np.array([w for _, w in points])
    pad = math.ceil(4 * bandwidth) + 1
    grid = Grid(10_000 - pad, 401 + 2 * pad)
    assert bin_linear(days, weights, grid).sum() == pytest.approx(weights.sum(), rel=1e-9)
    assert smooth(days, weights, grid, bandwidth).sum() == pytest.approx(weights.sum(), rel=0.01)


def test_kernel_is_normalised_and_symmetric() -> None:
    kernel = gaussian_kernel(7.0)
    assert kernel.sum() == pytest.approx(1.0)
    assert np.allclose(kernel, kernel[::-1])
    assert kernel.size == 2 * 28 + 1


# ---------------------------------------------------------------- counts against the raw JSON


def test_imbalance_counts_match_raw_json(everything: Dataset, latest_dir: Path) -> None:
    frame = imbalance.imbalance(everything, AnalysisParams(weights={"threads": 5, "comments": 2, "notes": 1}))
    for path in sorted(latest_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        got = {r["kind"]: r for r in frame.filter(pl.col("project") == path.stem).to_dicts()}
        assert got["threads"]["count"] == len(data["threads"])
        assert got["comments"]["count"] == len(data["comments"])
        assert got["notes"]["count"] == len(data["notes"])
        expected = 5 * len(data["threads"]) + 2 * len(data["comments"]) + len(data["notes"])
        assert got["threads"]["project_weighted"] == expected
    assert frame["project"][0] == "rephetio"  # most weighted activity first
    assert frame.height == 10 * 3


def independent_user_totals(latest_dir: Path) -> dict[int, int]:
    totals: dict[int, int] = {}
    for path in sorted(latest_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for post in data["comments"] + data["notes"]:
            totals[post["profile_id"]] = totals.get(post["profile_id"], 0) + visible_length(post["body_html"])
    return totals


def test_contributor_thresholds_match_raw_json(everything: Dataset, latest_dir: Path) -> None:
    totals = independent_user_totals(latest_dir)
    frame = contributors.contributors(everything, AnalysisParams(thresholds=(500, 4000, 10_000)))
    got = dict(zip(frame["profile_id"].to_list(), frame["characters"].to_list(), strict=True))
    assert got == totals
    for threshold in (500, 4000, 10_000):
        expected = sum(1 for n in totals.values() if n > threshold)  # the one rule: more than
        assert int(frame[f"above_{threshold}"].sum()) == expected
        assert contributors.threshold_counts(frame, (threshold,))[threshold] == expected
    assert frame["characters"].is_sorted(descending=True)
    assert frame["level"][0] == "> 10,000 characters"
    # one person per profile id across projects (14 ids appear in several projects)
    assert frame["profile_id"].n_unique() == frame.height == len(totals)


def test_contributor_posts_and_dates(rephetio: Dataset, rephetio_raw: dict) -> None:
    frame = contributors.contributors(rephetio, AnalysisParams(team=("dhimmel",)))
    top = frame.row(0, named=True)
    mine = [c for c in rephetio_raw["comments"] if c["profile_id"] == top["profile_id"]]
    notes = [n for n in rephetio_raw["notes"] if n["profile_id"] == top["profile_id"]]
    assert top["username"] == "dhimmel" and top["team"] is True
    assert (top["comments"], top["notes"]) == (len(mine), len(notes))
    first = min([c["published"] for c in mine] + [n["added"] for n in notes])
    assert top["first"] == datetime.fromisoformat(first.replace("Z", "+00:00"))
    assert frame.filter(pl.col("team"))["username"].to_list() == ["dhimmel"]


# ---------------------------------------------------------------- streams and cumulative


def test_streamgraph_is_symmetric_around_zero(everything: Dataset) -> None:
    frame = streams.user_streams(everything, AnalysisParams())
    per_day = frame.group_by("date").agg(
        low=pl.col("y0").min(), high=pl.col("y1").max(), total=pl.col("value").sum()
    )
    assert np.allclose(per_day["low"], -per_day["high"], atol=1e-9)
    assert np.allclose(per_day["high"] - per_day["low"], per_day["total"], atol=1e-9)
    totals = independent_user_totals(everything_path(everything))
    users = frame.filter(pl.col("user") != streams.OTHERS)
    assert users["user"].n_unique() == sum(1 for n in totals.values() if n > 4000)
    # ordered by first contribution, the earliest at the bottom
    firsts = users.unique("user").sort("order")["first"]
    assert firsts.is_sorted()


def everything_path(dataset: Dataset) -> Path:
    return Path(dataset.snapshots["path"][0]).parent


def test_stream_excludes_named_users(everything: Dataset) -> None:
    frame = streams.user_streams(everything, AnalysisParams(exclude_users=("dhimmel", "Jesse Spaulding")))
    assert "Daniel Himmelstein" not in frame["user"].to_list()
    assert "Jesse Spaulding" not in frame["user"].to_list()
    assert "Pouya Khankhanian" in frame["user"].to_list()


def test_cumulative_ends_at_each_users_total(rephetio: Dataset, rephetio_raw: dict) -> None:
    frame = cumulative.cumulative_contribution(rephetio, AnalysisParams())
    expected: dict[str, int] = {}
    names = {  # one first_name has a trailing space: names are the trimmed parts joined
        p["profile_id"]: " ".join(x.strip() for x in (p["first_name"], p["last_name"]) if x.strip())
        for p in rephetio_raw["profiles"]
    }
    for post in rephetio_raw["comments"] + rephetio_raw["notes"]:
        name = names[post["profile_id"]]
        expected[name] = expected.get(name, 0) + visible_length(post["body_html"])
    last = frame.filter(pl.col("date") == pl.col("date").max())
    ends = dict(zip(last["user"].to_list(), last["cumulative"].to_list(), strict=True))
    assert set(ends) == set(expected)
    for user, total in expected.items():
        assert ends[user] == pytest.approx(total, rel=1e-6)
    # √ transform and stacking by first contribution
    assert np.allclose(last["height"], np.sqrt(last["cumulative"]))
    assert last.sort("order")["first"].is_sorted()
    assert np.allclose(last.sort("order")["y0"][1:], last.sort("order")["y1"][:-1])
    # monotone: a cumulative series never decreases
    assert frame.sort("user", "date").select((pl.col("cumulative").diff().over("user") >= -1e-6).all()).item()
    labelled = last.filter("labelled").sort("total", descending=True)
    # named: more than the highest threshold (4,000), as the text counts them; totals in full
    assert labelled["user"].to_list() == sorted(
        (u for u, t in expected.items() if t > 4000), key=lambda u: -expected[u]
    )
    top = expected["Daniel Himmelstein"]
    assert labelled["label"][0] == f"Daniel Himmelstein {top:,}"


def test_cumulative_without_sqrt(rephetio: Dataset) -> None:
    frame = cumulative.cumulative_contribution(rephetio, AnalysisParams(sqrt=False))
    assert np.allclose(frame["height"], frame["cumulative"])


def test_format_total() -> None:
    """Totals in full with thousands separators, as the text and the tables write them (no "512.3K")."""
    assert cumulative.format_total(512_345) == "512,345"
    assert cumulative.format_total(4_500) == "4,500"
    assert cumulative.format_total(1_234_567) == "1,234,567"


def test_label_threshold_defaults_to_the_highest_threshold(rephetio: Dataset) -> None:
    """The cumulative chart names everyone the text counts above the highest threshold."""
    assert AnalysisParams().label_min == max(AnalysisParams().thresholds) == 4000
    assert AnalysisParams(thresholds=(100, 3000)).label_min == 3000
    assert AnalysisParams(thresholds=(100, 3000), label_threshold=5000).label_min == 5000
    frame = cumulative.cumulative_contribution(rephetio, AnalysisParams(thresholds=(500, 3000)))
    totals = frame.unique("user").filter(pl.col("user") != streams.OTHERS)
    assert (
        totals.filter("labelled")["user"].sort().to_list()
        == totals.filter(pl.col("total") > 3000)["user"].sort().to_list()
    )


# ---------------------------------------------------------------- views


def test_views_table_matches_raw_json(everything: Dataset, latest_dir: Path) -> None:
    frame = views.views_table(everything)
    expected = []
    for path in sorted(latest_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        expected += [("discussion", t["thread_id"], t["views"]) for t in data["threads"]]
        expected += [("document", d["document_id"], d["views"]) for d in data["documents"]]
    assert frame.height == len(expected) == 171 + 12
    assert sorted(frame.select("kind", "id", "views").iter_rows()) == sorted(expected)
    top = views.top_discussions(frame, AnalysisParams(top_discussions=3))
    best = max((e for e in expected if e[0] == "discussion"), key=lambda e: e[2])
    assert top["id"][0] == best[1] and top.height == 3
    # thinklab.com is gone: a Thinklab discussion links to its DOI, 10.15363/thinklab.d<thread id>
    assert top["link"][0] == f"https://doi.org/10.15363/thinklab.d{best[1]}"
    assert (
        frame.filter(pl.col("kind") == "discussion")["link"]
        .str.starts_with("https://doi.org/10.15363/thinklab.d")
        .all()
    )
    assert frame.filter(pl.col("title") == "").is_empty()


def test_load_views_reads_every_format(thinklab_dir: Path) -> None:
    series = load_views([thinklab_dir / "snapshots"])
    days = series["retrieved"].dt.date().unique()
    assert days.len() == 20  # 21 sets; format A (2016-04-09) has no views
    assert series["id"].null_count() == 0  # format B ids recovered from urls and other snapshots
    # newest set equals the raw latest/ exports exactly
    newest = series.filter(pl.col("retrieved").dt.date() == days.max())
    expected = 0
    for path in sorted((thinklab_dir / "latest").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        expected += sum(t["views"] for t in data["threads"]) + sum(d["views"] for d in data["documents"])
    assert newest["views"].sum() == expected
    # format B (2016-04-19): thread ids from /discussion/<slug>/<id> agree with the url
    early = series.filter(
        (pl.col("retrieved").dt.date() == pl.date(2016, 4, 19)) & (pl.col("kind") == "thread")
    )
    from_url = early["url"].str.extract(r"/discussion/[^/]*/(\d+)$").cast(pl.Int64)
    assert (from_url.is_null() | (from_url == early["id"])).all()
    assert early.height == 151


def test_load_views_skips_format_a(thinklab_dir: Path) -> None:
    assert load_views([thinklab_dir / "formats" / "2016-04-08-django-serializer-meta.json.gz"]).is_empty()
    rows = load_views([thinklab_dir / "formats" / "2016-05-09-rest-bare-id-meta.json.gz"])
    assert rows.height and rows.filter(pl.col("kind") == "thread")["id"].null_count() == 0


def test_views_over_time(everything: Dataset, thinklab_dir: Path) -> None:
    series = load_views([thinklab_dir / "snapshots"])
    frame = views.views_over_time(series, views.views_table(everything), AnalysisParams(top_threads=3))
    total = frame.filter(pl.col("kind") == "total").sort("date")
    assert total.height == 20 and total["views"].is_sorted()
    first, last = total.row(0, named=True), total.row(-1, named=True)
    months = (last["date"] - first["date"]).days / (365.25 / 12)
    assert total["growth_per_month"][0] == pytest.approx((last["views"] - first["views"]) / months)
    assert frame.filter(pl.col("kind") == "discussion")["series"].n_unique() == 3
    assert views.views_over_time(None, views.views_table(everything), AnalysisParams()).is_empty()
    one = series.filter(pl.col("retrieved").dt.date() == pl.date(2017, 9, 9))
    assert views.views_over_time(one, views.views_table(everything), AnalysisParams()).is_empty()


def test_a_series_seen_on_one_day_has_no_growth() -> None:
    """Growth per month of a discussion seen on one snapshot day only is null, never NaN (0 / 0 months):
    its legend read "+nan/month"."""
    day = [datetime(2017, 1, 1, tzinfo=UTC), datetime(2017, 2, 1, tzinfo=UTC)]
    series = pl.DataFrame(
        {
            "source": ["thinklab"] * 3,
            "project": ["p"] * 3,
            "kind": ["thread"] * 3,
            "id": [1, 1, 2],
            "url": ["/discussion/a/1", "/discussion/a/1", "/discussion/b/2"],
            "views": [10, 40, 5],
            "retrieved": [day[0], day[1], day[1]],
        }
    )
    frame = views.views_over_time(series, None, AnalysisParams())
    growth = dict(frame.unique("series").select("series", "growth_per_month").iter_rows())
    assert growth["b"] is None  # seen on 1 Feb only
    assert growth["a"] == pytest.approx(30 / (31 / (365.25 / 12)))
    assert frame["growth_per_month"].is_nan().sum() == 0


# ---------------------------------------------------------------- a small dataset built by hand


def hand_dataset() -> Dataset:
    """Two projects, three people, exact numbers chosen so every total is known."""

    def when(day: int) -> datetime:
        return datetime(2020, 1, 1, tzinfo=UTC).replace(day=day)

    posts = pl.DataFrame(
        {
            "source": ["thinklab"] * 5,
            "project": ["a", "a", "a", "b", "b"],
            "kind": ["comment", "note", "comment", "comment", "comment"],
            "post_id": [1, 2, 3, 4, 5],
            "thread_id": [10, 10, 10, 20, 20],
            "profile_id": [1, 2, 1, 3, 9],
            "person": ["thinklab:1", "thinklab:2", "thinklab:1", "thinklab:3", "thinklab:9"],
            "username": ["ann", "bob", "ann", "cy", "robot"],
            "name": ["Ann A", "Bob B", "Ann A", "", "Robot"],
            "is_bot": [False, False, False, False, True],
            "published": [when(1), when(2), when(5), when(3), when(4)],
            "views": [None] * 5,
            "characters": [3000, 600, 2000, 100, 99999],
            "words": [500, 100, 300, 20, 1],
            "dois": [[]] * 5,
        },
        schema=polars_schema("posts"),
    )
    threads = pl.DataFrame(
        {
            "source": ["thinklab"] * 2, "project": ["a", "b"], "thread_id": [10, 20], "profile_id": [1, 3], "document_id": [None, None],
            "subject": ["Hello", ""], "published": [when(1), when(3)], "doi": [None, None],
            "url": ["/discussion/hello/10", "/discussion/x/20"], "views": [50, 7],
        },
        schema=polars_schema("threads"),
    )  # fmt: skip
    return Dataset(
        profiles=empty("profiles"), documents=empty("documents"), threads=threads, comments=empty("comments"),
        notes=empty("notes"), posts=posts, snapshots=empty("snapshots"),
    )  # fmt: skip


def test_hand_dataset_exact_values() -> None:
    data = hand_dataset()
    frames = compute_all(
        data, AnalysisParams(thresholds=(500, 4000), label_threshold=1000, stream_threshold=500)
    )
    assert set(FIGURE_NAMES) - {"edits"} <= set(frames)  # edits: from the snapshot series, not here
    people = frames["contributors"]
    assert people.select("user", "characters", "posts").rows() == [
        ("Ann A", 5000, 2),
        ("Bob B", 600, 1),
        ("cy", 100, 1),
    ]
    assert people["level"].to_list() == ["> 4,000 characters", "> 500 characters", "≤ 500 characters"]
    counts = {(r["project"], r["kind"]): r["count"] for r in frames["imbalance"].to_dicts()}
    assert counts == {("a", "threads"): 1, ("a", "comments"): 2, ("a", "notes"): 1,
                      ("b", "threads"): 1, ("b", "comments"): 1, ("b", "notes"): 0}  # fmt: skip
    histogram = frames["activity-histogram"]
    assert histogram.filter(pl.col("project") == "a")["weighted"].to_list() == [3 + 2 * 2 + 1]
    assert frames["activity-density"]["per_day"].sum() == pytest.approx(8 + 5, rel=1e-9)
    labels = frames["cumulative-contribution"].drop_nulls("label").unique("user").sort("order")["label"]
    assert labels.to_list() == ["Ann A 5,000"]
    stream_users = frames["user-stream"].unique("user").sort("order")["user"].to_list()
    assert stream_users == ["Ann A", "Bob B", streams.OTHERS]
    assert frames["views"]["title"].to_list() == ["Hello", "Untitled discussion 20"]
    assert frames["views-over-time"].is_empty()


def test_project_activity_lists_every_project_with_its_activity() -> None:
    """Every project of the data, sorted by source and name, with its activity in the (restricted)
    dataset; a project without any is not active (it leaves the legends and the project table)."""
    from impactreport.analyses.projects import project_activity

    data = hand_dataset()
    snapshots = pl.DataFrame(
        {"source": ["thinklab"] * 3, "project": ["a", "b", "Quiet"], "path": ["a.json", "b.json", "q.json"],
         "format": ["C"] * 3, "retrieved": [datetime(2020, 2, 1, tzinfo=UTC)] * 3, "sha256": ["0", "1", "2"],
         "rows": [1, 1, 0]},
        schema=polars_schema("snapshots"),
    )  # fmt: skip
    data = Dataset(**{**{name: getattr(data, name) for name in TABLES}, "snapshots": snapshots})
    frame = project_activity(data, AnalysisParams())
    assert frame.rows() == [
        ("thinklab", "a", 1, 2, 1, 0, True),
        ("thinklab", "b", 1, 1, 0, 0, True),  # the bot's comment is left out, as in every figure
        ("thinklab", "Quiet", 0, 0, 0, 0, False),
    ]
    assert compute_all(data)["projects"].equals(frame)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="bandwidth"):
        AnalysisParams(bandwidth=0)
    with pytest.raises(ValueError, match="weight"):
        AnalysisParams(weights={"likes": 1})
    with pytest.raises(ValueError, match="thresholds"):
        AnalysisParams(thresholds=())


def test_people_with_one_name_stay_apart() -> None:
    data = hand_dataset()
    posts = data.posts.with_columns(
        name=pl.when(pl.col("username") == "bob").then(pl.lit("Ann A")).otherwise("name")
    )
    data = Dataset(**{**data.__dict__, "posts": posts})
    people = contributors.contributors(data, AnalysisParams())
    assert people["user"].to_list()[:2] == ["Ann A (ann)", "Ann A (bob)"]
    bands = streams.user_streams(data, AnalysisParams(stream_threshold=500))
    assert bands.unique("user").sort("order")["user"].to_list() == [
        "Ann A (ann)",
        "Ann A (bob)",
        streams.OTHERS,
    ]


def test_load_views_reads_compact_json_too(latest_dir: Path, tmp_path: Path) -> None:
    """Not only the pretty-printed Thinklab files: a compact (one-line) export gives the same rows."""
    import gzip

    data = raw(latest_dir, "meta")
    store = tmp_path / "exports" / "thinklab" / "meta"
    store.mkdir(parents=True)
    (store / "2017-09-09T232941Z.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
    (store / "2017-09-10T232941Z.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    series = load_views([tmp_path])
    assert series["retrieved"].n_unique() == 1  # both files carry the same `retrieved`
    expected = sorted([("thread", t["thread_id"], t["views"]) for t in data["threads"]] * 2)
    expected += [("document", d["document_id"], d["views"]) for d in data["documents"]] * 2
    assert sorted(series.select("kind", "id", "views").iter_rows()) == sorted(expected)
