"""Baselines of nothing: what a predictor that never looks at an image scores on a task's test truth.

Two predictors, scored with the task's own metric functions (``benchmark.metrics.registry``) so each
number is what a model emitting those scores would get:

* ``class prior``: every image gets the same scores, the class frequencies. AUROC is 0.5 (all ties),
  the thresholded or arg-max prediction is the majority class, AUPRC equals the prevalence.
* ``all negative`` (multilabel tasks): every label scored 0 on every image; its label-wise accuracy
  is 1 - prevalence per label (NIH: about 0.948).

Which prior: run records hold per-split image counts but no per-label training counts, so the
frequencies are those of the test truth. For AUROC and AUPRC the choice does not matter (a constant
score gives 0.5 and the test prevalence whatever the constant); only accuracy could differ, and only
when the training and test sets disagree on the majority class. Thresholds are the default 0.5: a
predictor of nothing has no validation set to tune them on.

No confidence intervals: the AUROC and AUPRC of a constant score are exact (0.5, the prevalence),
and the accuracy's interval would only restate the prevalence's sampling error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.registry import METRICS, EvalInputs, compute_metrics

TRIVIAL_LABEL = "trivial (no model)"
TRIVIAL_COLUMNS = [
    "predictor",  # class prior | all negative
    "scores",  # what every image is scored with
    "metric",  # the standings' metric
    "value",  # that metric's value for the predictor
    "auroc",
    "accuracy",  # binary, multiclass: accuracy; multilabel: label-wise accuracy, mean over labels
    "auprc",  # binary, multilabel (mean over labels); NaN for multiclass
    "prevalence",  # beside AUPRC: the positive rate (mean over labels for multilabel)
    "ranked",  # always False
]


def class_frequencies(problem: str, y_true: np.ndarray) -> np.ndarray:
    """(K,) frequency of each label among the images whose truth is known (NaN when none is)."""
    known = ~np.isnan(y_true)
    if problem != "multilabel":
        known = np.repeat(known.all(axis=1, keepdims=True), y_true.shape[1], axis=1)
    positives = np.where(known, np.nan_to_num(y_true), 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return positives / known.sum(axis=0)


def label_accuracy(y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5) -> float:
    """Multilabel accuracy: per label the share of known truths the thresholded score gets right, mean over labels."""
    known = ~np.isnan(y_true)
    right = known & ((y_score >= threshold) == (np.nan_to_num(y_true) == 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.nanmean(right.sum(axis=0) / known.sum(axis=0)))


def mean_average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """scikit-learn's average precision per label on its known truths, mean over labels (NaN: no positive)."""
    values = []
    for k in range(y_true.shape[1]):
        known = ~np.isnan(y_true[:, k])
        truth = y_true[known, k] == 1
        values.append(float(average_precision_score(truth, y_score[known, k])) if truth.any() else np.nan)
    return float(np.mean(values))


def _row(
    predictor: str, scores: str, problem: str, labels: tuple[str, ...], y_true: np.ndarray, y_score: np.ndarray,
    metric: str, subsets: dict[str, tuple[str, ...]] | None,
) -> dict[str, object]:  # fmt: skip
    inputs = EvalInputs(problem, labels, y_true, y_score, subsets=subsets)
    names = tuple(name for name in METRICS.names() if problem in METRICS.get(name).problems)
    with warnings.catch_warnings():  # precision of a predictor that predicts no positive: NaN, as intended
        warnings.simplefilter("ignore", RuntimeWarning)
        computed = compute_metrics(inputs, names, ClusterWeights.plain(len(y_true)))
    values = {k: float(v[0]) for k, v in computed.items()}
    accuracy = label_accuracy(y_true, y_score) if problem == "multilabel" else values["accuracy"]
    with_prevalence = problem != "multiclass"
    return {
        "predictor": predictor,
        "scores": scores,
        "metric": metric,
        "value": accuracy if metric == "accuracy" else values.get(metric, np.nan),
        "auroc": values["auroc"],
        "accuracy": accuracy,
        "auprc": mean_average_precision(y_true, y_score) if with_prevalence else np.nan,
        "prevalence": float(np.nanmean(class_frequencies(problem, y_true))) if with_prevalence else np.nan,
        "ranked": False,
    }


def trivial_table(
    problem: str,
    labels: tuple[str, ...],
    y_true: np.ndarray,
    metric: str = "auroc",
    subsets: dict[str, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """The trivial predictors of a test truth (n, K; NaN = unknown) as TRIVIAL_COLUMNS rows, never ranked."""
    y_true = np.asarray(y_true, dtype=np.float64)
    prior = np.nan_to_num(class_frequencies(problem, y_true))
    rows = [
        _row("class prior", "the test-set class frequencies, the same for every image", problem, labels, y_true,
             np.tile(prior, (len(y_true), 1)), metric, subsets)
    ]  # fmt: skip
    if problem == "multilabel":
        rows.append(
            _row("all negative", "0 for every label of every image", problem, labels, y_true,
                 np.zeros_like(y_true), metric, subsets)
        )  # fmt: skip
    return pd.DataFrame(rows, columns=TRIVIAL_COLUMNS)


__all__ = ["TRIVIAL_COLUMNS", "TRIVIAL_LABEL", "class_frequencies", "label_accuracy", "trivial_table"]
