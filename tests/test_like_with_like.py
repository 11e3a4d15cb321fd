"""Figures and statistics read the same history: a first response after a closed period counts in
neither (the figures' frames used every post of the data, the sentence the posts known by the end)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from impactreport.cli.main import main
from tests import builders
from tests.builders import comment, profile, thread


def _post(comment_id: int, profile_id: int, day: str) -> dict:
    return comment(comment_id, 1, profile_id, f"{day}T12:00:00.000000Z", "words here")


def test_a_response_after_the_period_counts_in_neither(tmp_path: Path, capsys) -> None:
    export = builders.export(
        threads=[thread(1, subject="asked late", published="2017-08-30T12:00:00.000000Z")],
        comments=[_post(1, 1, "2017-08-30"), _post(2, 2, "2017-09-03")],  # the answer: after the end
        profiles=[profile(1, "asker"), profile(2, "helper")],
    )
    path = tmp_path / "project.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    period = ["--since", "2016-09-01", "--until", "2017-08-31"]
    assert main(["summary", str(path), *period, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["overall"]["first_response"]
    assert (stats["answered"], stats["unanswered"]) == (0, 1)
    out = tmp_path / "figures"
    assert main(["figures", str(path), *period, "--out", str(out), "--formats", "svg"]) == 0
    with (out / "first-response.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["subject"], row["answered"]) for row in rows] == [("asked late", "false")]
