"""The leaderboard's Subgroups page on the shipped lung3_64 reference runs (NIH's real metadata joined) and on a
task without subgroup metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from benchmark.reference.board import REFERENCE_ENV, shipped_results
from leaderboard import data
from tests.conftest import REPO

APP = REPO / "leaderboard" / "app.py"


def _page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str) -> AppTest:
    monkeypatch.setenv(data.RESULTS_ENV, str(tmp_path / "results"))
    monkeypatch.setenv(REFERENCE_ENV, str(shipped_results()))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.query_params.update({"task": task})
    at.run()
    at.switch_page("views/subgroups.py")
    at.query_params.update({"task": task})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_lung3_64_page_shows_groups_gaps_and_error_bars(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("CXRBENCH_DATA", str(shared_data))  # NIH's Data_Entry CSV for the join
    at = _page(tmp_path, monkeypatch, "lung3_64")
    gaps, groups = at.dataframe[0].value, at.dataframe[1].value
    assert set(gaps["attribute"]) == {"sex", "age_band", "view_position"}
    assert (gaps["ci_low"] <= gaps["gap"]).all() and (gaps["gap"] <= gaps["ci_high"]).all()
    assert len(gaps["seed_gaps"].iloc[0].split(", ")) == 3  # three seeds
    assert set(groups[groups["attribute"] == "sex"]["group"]) == {"F", "M"}
    assert groups.groupby("attribute")["n_images"].sum().tolist() == [199, 199, 199]
    charts = at.get("plotly_chart")
    assert len(charts) == 3 and '"error_y"' in charts[0].proto.spec


def test_a_task_without_metadata_says_so(tmp_path, monkeypatch):
    at = _page(tmp_path, monkeypatch, "covid3")
    assert any("no subgroup metadata" in info.value for info in at.info)
