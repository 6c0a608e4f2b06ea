"""ROC curves on an FPR grid with patient-cluster bootstrap bands, against scikit-learn's roc_curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from benchmark.errors import StatisticsError
from benchmark.stats import Clusters, draw_resamples, roc_band, roc_curve_band
from tests.fixtures.runs.make import make_predictions, patients, scores, truth


def _polyline_top(fpr: np.ndarray, tpr: np.ndarray, x: float) -> float:
    """The highest point of the polyline through (fpr, tpr) at ``x``: a plain loop over its segments."""
    candidates = [t for f, t in zip(fpr, tpr, strict=True) if f == x]
    for i in range(len(fpr) - 1):
        if fpr[i] < x < fpr[i + 1]:
            candidates.append(tpr[i] + (tpr[i + 1] - tpr[i]) * (x - fpr[i]) / (fpr[i + 1] - fpr[i]))
    return max(candidates)


def _sklearn_on_grid(y, score, grid, sample_weight=None) -> np.ndarray:
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False, sample_weight=sample_weight)
    return np.array([_polyline_top(fpr, tpr, g) for g in grid])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    pid = patients(80, rng, max_images=4)
    y = truth(pid, ("effusion",), "binary", rng)
    score = np.round(scores(y, "binary", 0.9, rng), 1)  # coarse scores: many ties, vertical and diagonal steps
    return pid, y[:, 0], score[:, 0]


def test_point_curve_is_scikit_learns_roc_read_at_the_grid(data):
    pid, y, score = data
    sk_fpr, _, _ = roc_curve(y, score, drop_intermediate=False)
    grid = np.unique(np.r_[np.linspace(0, 1, 37), sk_fpr])  # every vertex FPR (the top of each step) and between
    table, degenerate = roc_band(y, score, Clusters.of(pid), n_resamples=20, grid=grid)
    np.testing.assert_allclose(table["tpr"], _sklearn_on_grid(y, score, grid), atol=1e-12)
    assert table["fpr"].tolist() == grid.tolist() and degenerate == 0
    assert table["tpr"].iloc[0] >= 0 and table["tpr"].iloc[-1] == 1.0


def test_band_is_the_percentile_interval_of_the_resampled_curves(data):
    pid, y, score = data
    grid = np.linspace(0, 1, 21)
    clusters = Clusters.of(pid)
    assert clusters.unit == "patient"
    table, _ = roc_band(y, score, clusters, n_resamples=60, seed=4, grid=grid)
    # The same resamples replayed as image weights into scikit-learn.
    counts = draw_resamples(clusters, 60, 4).weights().counts
    curves = np.array([_sklearn_on_grid(y, score, grid, sample_weight=row[clusters.cluster_of]) for row in counts])
    low, high = np.quantile(curves, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(table["tpr_low"], low, atol=1e-12)
    np.testing.assert_allclose(table["tpr_high"], high, atol=1e-12)
    assert (table["tpr_low"] <= table["tpr"] + 1e-12).all() and (table["tpr"] <= table["tpr_high"] + 1e-12).all()


def test_predictions_table_one_label_of_a_multiclass_task():
    rng = np.random.default_rng(2)
    labels = ("covid", "normal", "viral")
    pid = patients(60, rng)
    y = truth(pid, labels, "multiclass", rng)
    frame = make_predictions(pid, y, labels, scores(y, "multiclass", 1.0, rng))
    table = roc_curve_band(frame, "normal", n_resamples=30)
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(table["tpr"], _sklearn_on_grid(y[:, 1], frame["score:normal"], grid), atol=1e-12)
    with pytest.raises(StatisticsError, match="name the label"):
        roc_curve_band(frame)
    with pytest.raises(StatisticsError, match="no label 'pneumonia'"):
        roc_curve_band(frame, "pneumonia")
    one_class = frame.assign(**{"true:normal": 0.0})
    with pytest.raises(StatisticsError, match="one class only"):
        roc_curve_band(one_class, "normal")
