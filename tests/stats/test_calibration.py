"""Calibration against scikit-learn and a hand-worked ECE; subgroup metrics against pandas and scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from benchmark.errors import StatisticsError
from benchmark.metrics.predictions import predictions_frame
from benchmark.stats import (
    bootstrap_ci,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    reliability_curve,
    subgroup_metrics,
)
from benchmark.stats.subgroups import age_band
from tests.fixtures.runs.make import patients, scores, truth


def _binary(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    prob = rng.random(n)
    return (rng.random(n) < prob**1.5).astype(float), prob


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_curve_equals_sklearn_calibration_curve(strategy):
    y, prob = _binary()
    curve = reliability_curve(y, prob, n_bins=10, strategy=strategy)
    fraction, mean = calibration_curve(y, prob, n_bins=10, strategy=strategy)
    filled = curve[curve["count"] > 0]
    np.testing.assert_allclose(filled["fraction_positive"], fraction, atol=1e-15)
    np.testing.assert_allclose(filled["mean_predicted"], mean, atol=1e-15)
    assert curve["count"].sum() == len(y)


def test_expected_calibration_error_by_hand():
    # bin [0, 0.5]: mean predicted 0.15, fraction positive 0.5; bin (0.5, 1]: 0.85 and 1.0.
    # ECE = 2/4 * 0.35 + 2/4 * 0.15 = 0.25
    y, prob = np.array([0, 1, 1, 1.0]), np.array([0.1, 0.2, 0.8, 0.9])
    assert expected_calibration_error(y, prob, n_bins=2) == pytest.approx(0.25, abs=1e-15)
    assert expected_calibration_error(np.array([0, 1.0]), np.array([0.0, 1.0]), n_bins=15) == 0.0


def test_brier_score_equals_sklearn_binary_and_multiclass():
    y, prob = _binary(seed=1)
    assert brier_score(y, prob) == pytest.approx(brier_score_loss(y, prob), abs=1e-15)
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(300, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    true = rng.integers(0, 3, 300)
    assert brier_score(np.eye(3)[true], probs) == pytest.approx(brier_score_loss(true, probs), abs=1e-15)


def test_calibration_summary_per_label_with_nan_and_top_label_for_multiclass():
    rng = np.random.default_rng(3)
    y = (rng.random((400, 2)) < 0.3).astype(float)
    prob = np.clip(0.4 * y + 0.6 * rng.random((400, 2)), 0, 1)
    y[rng.random((400, 2)) < 0.1] = np.nan
    ids = [str(i) for i in range(400)]
    summary = calibration_summary(predictions_frame(ids, ids, y, prob, ("a", "b")), "multilabel")
    for k, row in summary.iterrows():
        known = ~np.isnan(y[:, k])
        assert row["n"] == known.sum()
        assert row["brier"] == pytest.approx(brier_score_loss(y[known, k], prob[known, k]), abs=1e-15)
    true = rng.integers(0, 3, 400)
    logits = rng.normal(size=(400, 3)) + np.eye(3)[true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    multiclass = calibration_summary(predictions_frame(ids, ids, np.eye(3)[true], probs, ("x", "y", "z")), "multiclass")
    correct = (probs.argmax(axis=1) == true).astype(float)
    assert multiclass["label"].tolist() == ["top-label"]
    assert multiclass["ece"].iloc[0] == pytest.approx(expected_calibration_error(correct, probs.max(axis=1)))
    with pytest.raises(StatisticsError, match="logits"):
        brier_score(np.array([0, 1.0]), np.array([-2.0, 3.0]))


def _with_metadata(seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = patients(120, rng)
    y = truth(pid, ("x",), "binary", rng)
    frame = predictions_frame([f"i{i}" for i in range(len(pid))], list(pid), y, scores(y, "binary", 1.0, rng), ("x",))
    _, cluster = np.unique(pid, return_inverse=True)
    frame["sex"] = np.array(["M", "F"])[rng.integers(0, 2, cluster.max() + 1)][cluster]
    frame["age"] = rng.integers(5, 95, len(frame)).astype(float)
    frame.loc[3, "age"] = np.nan
    frame["view_position"] = np.array(["PA", "AP"])[rng.integers(0, 2, len(frame))]
    return frame


def test_subgroup_metrics_per_sex_age_band_and_view():
    frame = _with_metadata()
    table = subgroup_metrics(frame, "auroc", n_resamples=100)
    assert set(table["attribute"]) == {"sex", "age_band", "view_position"}
    bands = {"<18": (0, 18), "18-39": (18, 40), "40-59": (40, 60), "60-79": (60, 80), "80+": (80, 200)}
    for row in table.itertuples():
        if row.attribute == "age_band":
            low, high = bands[row.group]
            rows = frame[(frame["age"] >= low) & (frame["age"] < high)]
        else:
            rows = frame[frame[row.attribute] == row.group]
        assert (row.n_images, row.n_patients) == (len(rows), rows["patient_id"].nunique())
        assert row.value == pytest.approx(roc_auc_score(rows["true:x"], rows["score:x"]), abs=1e-12)
        subset = bootstrap_ci(rows, "auroc", n_resamples=100)
        assert (row.ci_low, row.ci_high) == (subset.ci_low, subset.ci_high)
    assert table[table["attribute"] == "age_band"]["n_images"].sum() == len(frame) - 1  # one age unknown


def test_age_band_edges_and_missing_metadata():
    ages = pd.Series([0, 17, 17.9, 18, 39, 40, 79, 80, 101, np.nan])
    assert age_band(ages).tolist()[:-1] == ["<18", "<18", "<18", "18-39", "18-39", "40-59", "60-79", "80+", "80+"]
    assert pd.isna(age_band(ages).iloc[-1])
    frame = _with_metadata().drop(columns=["sex", "age", "view_position"])
    with pytest.raises(StatisticsError, match="with_metadata"):
        subgroup_metrics(frame, "auroc", n_resamples=10)
