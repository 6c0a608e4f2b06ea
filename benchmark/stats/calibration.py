"""Calibration: reliability-curve data, expected calibration error and Brier score.

Binning follows scikit-learn's ``calibration_curve``: ``uniform`` cuts [0, 1] into equal widths,
``quantile`` into equal counts; a probability on an inner edge falls in the lower bin. The ECE is
``sum_b n_b / n * |fraction positive_b - mean predicted_b|`` (Naeini et al. 2015; Guo et al.
2017, who use 15 bins). Multiclass tasks are scored on the top label: confidence = highest
probability, outcome = whether that class is the true one (Guo et al. 2017).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.errors import StatisticsError
from benchmark.stats.bootstrap import prediction_inputs

STRATEGIES = ("uniform", "quantile")


def _binary_inputs(y_true: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, prob = np.asarray(y_true, dtype=np.float64), np.asarray(prob, dtype=np.float64)
    if y.shape != prob.shape or y.ndim != 1:
        raise StatisticsError(f"y_true {y.shape} and prob {prob.shape} must be 1-D and of one length")
    known = ~np.isnan(y)
    y, prob = y[known], prob[known]
    if not np.isin(y, (0.0, 1.0)).all():
        raise StatisticsError("y_true must be 0/1 (NaN = unknown)")
    if len(prob) and (prob.min() < 0 or prob.max() > 1):
        raise StatisticsError("probabilities must lie in [0, 1]; calibrate probabilities, not logits")
    return y, prob


def reliability_curve(
    y_true: np.ndarray, prob: np.ndarray, n_bins: int = 15, strategy: str = "uniform"
) -> pd.DataFrame:
    """One row per bin: ``lower``, ``upper`` (edges), ``count``, ``mean_predicted``, ``fraction_positive``
    (NaN for empty bins). NaN labels are left out."""
    y, prob = _binary_inputs(y_true, prob)
    if strategy not in STRATEGIES:
        raise StatisticsError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "quantile":
        edges = np.percentile(prob, np.linspace(0, 100, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], prob)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(bins, prob, minlength=n_bins) / count
        fraction_positive = np.bincount(bins, y, minlength=n_bins) / count
    return pd.DataFrame(
        {
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count,
            "mean_predicted": mean_predicted,
            "fraction_positive": fraction_positive,
        }
    )


def expected_calibration_error(
    y_true: np.ndarray, prob: np.ndarray, n_bins: int = 15, strategy: str = "uniform"
) -> float:
    """Expected calibration error of probabilities ``prob`` for 0/1 outcomes ``y_true``."""
    curve = reliability_curve(y_true, prob, n_bins, strategy)
    filled = curve[curve["count"] > 0]
    gaps = (filled["fraction_positive"] - filled["mean_predicted"]).abs()
    return float((filled["count"] * gaps).sum() / filled["count"].sum()) if len(filled) else float("nan")


def brier_score(y_true: np.ndarray, prob: np.ndarray) -> float:
    """Mean squared difference between probability and outcome.

    1-D: one binary label, ``mean (p - y)^2``. 2-D (n, K) one-hot truth: the multiclass score of
    Brier (1950), ``mean sum_k (p_k - y_k)^2`` (range [0, 2]). NaN labels leave the image out.
    """
    y, prob = np.asarray(y_true, dtype=np.float64), np.asarray(prob, dtype=np.float64)
    if y.ndim == 1:
        y, prob = _binary_inputs(y, prob)
        return float(np.mean((prob - y) ** 2))
    known = ~np.isnan(y).any(axis=1)
    return float(np.mean(np.sum((prob[known] - y[known]) ** 2, axis=1)))


def calibration_summary(
    predictions: pd.DataFrame, problem: str | None = None, n_bins: int = 15, strategy: str = "uniform"
) -> pd.DataFrame:
    """ECE and Brier score of a Predictions table: one row per label (binary, multilabel) or one
    ``top-label`` row plus the multiclass Brier score (multiclass). Columns: ``label``, ``n``, ``ece``, ``brier``."""
    inputs = prediction_inputs(predictions, problem)
    rows = []
    if inputs.problem == "multiclass":
        known = ~np.isnan(inputs.y_true).any(axis=1)
        correct = (inputs.predicted_class == inputs.true_class)[known].astype(float)
        confidence = inputs.y_score[known].max(axis=1)
        ece = expected_calibration_error(correct, confidence, n_bins, strategy)
        rows.append(
            {
                "label": "top-label",
                "n": int(known.sum()),
                "ece": ece,
                "brier": brier_score(inputs.y_true, inputs.y_score),
            }
        )
    else:
        for k, label in enumerate(inputs.labels):
            y, prob = inputs.y_true[:, k], inputs.y_score[:, k]
            ece = expected_calibration_error(y, prob, n_bins, strategy)
            rows.append({"label": label, "n": int((~np.isnan(y)).sum()), "ece": ece, "brier": brier_score(y, prob)})
    return pd.DataFrame(rows, columns=["label", "n", "ece", "brier"])
