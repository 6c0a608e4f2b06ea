"""The run page of an nih14 run shows its AUROC against Google's 2019 expert labels beside the text-mined
labels (after `benchmark evaluate-expert`), and says how to get them when the run has none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.metrics.predictions import predictions_frame
from benchmark.stats.expert_labels import EXPERT_MAPPING, GOOGLE_LABELS_FILE, score_expert
from benchmark.tasks import TASKS
from tests.fixtures.runs.make import toy_task, write_run
from tests.leaderboard.test_app import app, captions, frame

LABELS = TASKS.get("nih14").labels


@pytest.fixture(scope="module")
def nih_results(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, pd.DataFrame]:
    """(results, scored run id, unscored run id, predictions) of two nih14 runs over Google's test images."""
    google = pd.read_csv(shared_data / "nih14" / GOOGLE_LABELS_FILE)
    test = google[google["Set Id"] == "test"]
    rng = np.random.default_rng(2)
    n = len(test)
    y_true = rng.integers(0, 2, size=(n, len(LABELS))).astype(float)
    predictions = predictions_frame(
        list(test["Image Index"]), list(test["Patient ID"].astype(str)), y_true, rng.uniform(size=y_true.shape), LABELS
    )
    results = tmp_path_factory.mktemp("nih_results")
    task = toy_task("multilabel", LABELS, name="nih14")
    scored = write_run(results, predictions, task, "toy", 0)
    unscored = write_run(results, predictions.assign(**{"score:Mass": 0.5}), task, "toy", 1)
    argv = ["evaluate-expert", scored, "--data-root", str(shared_data), "--results", str(results)]
    assert main([*argv, "--n-resamples", "20"]) == 0
    return results, scored, unscored, predictions


def test_run_page_shows_expert_beside_text_mined_auroc(nih_results, shared_data, monkeypatch):
    results, scored, _, predictions = nih_results
    at = app(results, monkeypatch, "views/run.py", run=scored)
    assert not at.error, [e.value for e in at.error]
    assert any(s.value == "Expert labels (Google 2019)" for s in at.subheader)
    shown = frame(at, 1).set_index("finding")
    expected = score_expert(predictions, shared_data / "nih14" / GOOGLE_LABELS_FILE, n_resamples=20).table
    assert list(shown.index) == list(EXPERT_MAPPING)
    for row in expected.to_dict("records"):
        assert shown.loc[row["finding"], "AUROC expert"] == pytest.approx(row["auroc"])
        assert shown.loc[row["finding"], "AUROC text-mined"] == pytest.approx(row["text_auroc"])
        assert shown.loc[row["finding"], "expert positives"] == row["n_positive"]
    assert "1962 test images of 860 patients" in captions(at) and "benchmark evaluate-expert" in captions(at)


def test_run_page_says_how_to_score_an_unscored_run(nih_results, monkeypatch):
    results, _, unscored, _ = nih_results
    at = app(results, monkeypatch, "views/run.py", run=unscored)
    assert not at.error
    assert f"benchmark evaluate-expert {unscored}" in captions(at)
    assert len(at.dataframe) == 1  # the metrics only
