"""Selective prediction: the risk-coverage curve, its area (AURC) and the excess AURC (E-AURC).

As scored by FD-Shifts (Jaeger et al., "A call to reflect on evaluation practices for failure
detection in image classification", ICLR 2023; Geifman et al. 2019 for E-AURC). Predictions are
ranked by confidence, most confident first; at coverage k/n the first k are accepted and the
risk is their error rate. AURC is the mean risk over the n coverages 1/n ... n/n (the area under
the stepwise curve; lower is better). E-AURC = AURC - the AURC of the optimal ranking (every
correct prediction before every error), exact in the discrete form:
``e/n - (n - e)/n * (H(n) - H(n - e))`` for e errors, H the harmonic numbers.

Confidence and correctness of each prediction:

* multiclass: confidence = highest class probability, correct = the argmax is the true class;
* binary: the prediction is ``score >= t`` (t = the task's threshold, default 0.5) and the
  confidence is the margin to t scaled to [0, 1]: ``(p - t) / (1 - t)`` above, ``(t - p) / t``
  below. At t = 0.5 it ranks exactly as ``max(p, 1 - p)``;
* multilabel: each label as a binary task at its own threshold; AURC and E-AURC are the mean
  over labels (macro), the curve is per label. Images with unknown truth (NaN) are left out, per label.

Ties in confidence: tied predictions are accepted or rejected together, so inside a tie group the
risk at each coverage is its expectation over every order of the group (the errors before the
group plus the group's error rate times the images taken from it). This AURC is the mean over
all tie-breaking orders, independent of row order; without ties it is the plain definition.
(FD-Shifts' original ``rc_curve_stats`` instead keeps one curve point per tie group and
integrates trapezoids, which depends on how ``argsort`` orders ties.)

Confidence intervals resample whole patients (``benchmark.stats.bootstrap``): a resample repeats
a patient's images, which then tie with themselves, so the tie rule above gives each resample's
AURC in closed form with bootstrap weights (``H(c + w) - H(c)`` as a digamma difference).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import digamma

from benchmark.errors import StatisticsError
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.registry import PROBLEMS
from benchmark.stats.bootstrap import clusters_of, prediction_inputs, resampled_intervals
from benchmark.stats.intervals import Interval
from benchmark.stats.resample import draw_resamples

_CHUNK = 128  # resamples per dense (rows, n) weight block


def confidence_correctness(
    y_true: np.ndarray, y_score: np.ndarray, problem: str, thresholds: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct), each (n, m): m = 1 (binary, multiclass) or one column per label
    (multilabel); ``correct`` is 1.0 / 0.0, NaN where the truth is unknown."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.ndim == 1:
        y_true, y_score = y_true[:, None], y_score.reshape(len(y_score), -1)
    if y_true.shape != y_score.shape:
        raise StatisticsError(f"y_true {y_true.shape} and y_score {y_score.shape} must have one shape")
    if problem not in PROBLEMS:
        raise StatisticsError(f"problem must be one of {PROBLEMS}, got {problem!r}")
    if problem == "multiclass":
        known = ~np.isnan(y_true).any(axis=1)
        correct = np.where(known, y_true.argmax(axis=1) == y_score.argmax(axis=1), np.nan)
        return y_score.max(axis=1)[:, None], correct[:, None]
    if problem == "binary" and y_true.shape[1] != 1:
        raise StatisticsError(f"a binary task has one label column, got {y_true.shape[1]}; pass problem='multilabel'")
    t = np.full(y_true.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if t.shape != (y_true.shape[1],) or not ((t > 0) & (t < 1)).all():
        raise StatisticsError(f"thresholds {list(t)} must be one per label, each strictly between 0 and 1")
    positive = y_score >= t
    confidence = np.where(positive, (y_score - t) / (1 - t), (t - y_score) / t)
    correct = np.where(np.isnan(y_true), np.nan, positive == (y_true == 1))
    return confidence, correct


def _group_sums(confidence: np.ndarray, error: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, E), each (B, G): weight and weighted errors of each tie group, most confident group first."""
    order = np.argsort(-confidence, kind="stable")
    sorted_conf = confidence[order]
    starts = np.flatnonzero(np.r_[True, sorted_conf[1:] != sorted_conf[:-1]])
    w = weights[:, order]
    return np.add.reduceat(w, starts, axis=1), np.add.reduceat(w * error[order], starts, axis=1)


def _tie_averaged_aurc(group_weight: np.ndarray, group_errors: np.ndarray) -> np.ndarray:
    """AURC of each row from its tie groups: sum over groups of sum_{j=1..W} (A + j E/W) / (C + j), over N."""
    c = np.cumsum(group_weight, axis=1)
    a_prev = np.cumsum(group_errors, axis=1) - group_errors
    c_prev = c - group_weight
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(group_weight > 0, group_errors / group_weight, 0.0)
        harmonic = digamma(c + 1) - digamma(c_prev + 1)  # H(C) - H(C_prev)
        terms = group_errors + (a_prev - rate * c_prev) * harmonic
        total = c[:, -1] if c.shape[1] else np.zeros(len(c))
        return np.where(total > 0, terms.sum(axis=1) / total, np.nan)


def _optimal_aurc(weight: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """AURC of the optimal ranking: every correct prediction, then every error."""
    return _tie_averaged_aurc(np.stack([weight - errors, errors], axis=1), np.stack([0 * errors, errors], axis=1))


def _column_values(confidence: np.ndarray, correct: np.ndarray, weights: ClusterWeights, excess: bool) -> np.ndarray:
    """AURC (or E-AURC) of one column in every resample of ``weights``: (B,)."""
    known = ~np.isnan(correct)
    selected = weights.select(known)
    conf, error = confidence[known], 1.0 - correct[known]
    out = []
    for start in range(0, selected.n_resamples, _CHUNK):
        dense = selected.dense(slice(start, start + _CHUNK))
        values = _tie_averaged_aurc(*_group_sums(conf, error, dense))
        if excess:
            values = values - _optimal_aurc(dense.sum(axis=1), dense @ error)
        out.append(values)
    return np.concatenate(out) if out else np.zeros(0)


def aurc_values(
    confidence: np.ndarray, correct: np.ndarray, weights: ClusterWeights, excess: bool = False
) -> np.ndarray:
    """AURC (E-AURC with ``excess``) in every resample of ``weights``, averaged over the m columns: (B,)."""
    columns = [_column_values(confidence[:, j], correct[:, j], weights, excess) for j in range(correct.shape[1])]
    stacked = np.stack(columns)
    finite = ~np.isnan(stacked)  # a label with no known truth in a resample is left out of its mean
    count = finite.sum(axis=0)
    return np.where(count > 0, np.where(finite, stacked, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)


def risk_coverage(
    y_true: np.ndarray,
    y_score: np.ndarray,
    problem: str,
    thresholds: Sequence[float] | None = None,
    label: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk): coverage k/n and the tie-averaged risk of the k most confident predictions,
    k = 1..n (n: images with known truth). Multilabel tasks need ``label`` (the column index)."""
    confidence, correct = confidence_correctness(y_true, y_score, problem, thresholds)
    if label is None and correct.shape[1] > 1:
        raise StatisticsError(
            f"the multilabel task has {correct.shape[1]} labels; pass label=<column index> for one label's curve"
        )
    j = 0 if label is None else label
    known = ~np.isnan(correct[:, j])
    conf, error = confidence[known, j], 1.0 - correct[known, j]
    group_weight, group_errors = (g[0] for g in _group_sums(conf, error, np.ones((1, len(conf)))))
    c_prev = np.cumsum(group_weight) - group_weight
    a_prev = np.cumsum(group_errors) - group_errors
    group = np.repeat(np.arange(len(group_weight)), group_weight.astype(int))
    k = np.arange(1, len(conf) + 1)
    risk = (a_prev[group] + (k - c_prev[group]) * group_errors[group] / group_weight[group]) / k
    return k / max(len(conf), 1), risk


def aurc(y_true: np.ndarray, y_score: np.ndarray, problem: str, thresholds: Sequence[float] | None = None) -> float:
    """Area under the risk-coverage curve (mean over labels for multilabel); NaN with no known truth."""
    confidence, correct = confidence_correctness(y_true, y_score, problem, thresholds)
    return float(aurc_values(confidence, correct, ClusterWeights.plain(len(correct)))[0])


def e_aurc(y_true: np.ndarray, y_score: np.ndarray, problem: str, thresholds: Sequence[float] | None = None) -> float:
    """Excess AURC: AURC minus the optimal ranking's AURC (0 for a perfect ranking)."""
    confidence, correct = confidence_correctness(y_true, y_score, problem, thresholds)
    return float(aurc_values(confidence, correct, ClusterWeights.plain(len(correct)), excess=True)[0])


def aurc_ci(
    predictions: pd.DataFrame,
    problem: str | None = None,
    thresholds: Sequence[float] | None = None,
    n_resamples: int = 2000,
    cluster: str | None = "patient_id",
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    level: float = 0.95,
    excess: bool = False,
) -> Interval:
    """AURC (E-AURC with ``excess``) of a Predictions table with its patient-cluster bootstrap CI,
    drawn as ``benchmark.stats.bootstrap_ci`` draws (same resamples for the same seed)."""
    inputs = prediction_inputs(predictions, problem, thresholds)
    confidence, correct = confidence_correctness(inputs.y_true, inputs.y_score, inputs.problem, inputs.thresholds)
    resamples = draw_resamples(clusters_of(predictions, cluster), n_resamples, seed)
    name = "e_aurc" if excess else "aurc"
    values = resampled_intervals(
        lambda w: {name: aurc_values(confidence, correct, w, excess)}, resamples, method, level
    )
    return values[name]
