"""Classification metrics, vectorised over bootstrap resamples.

Every metric takes resample weights (benchmark.metrics.cluster_weights.ClusterWeights: how often each test
image is drawn, stored per patient cluster; a single row of ones is the plain estimate) and
returns one value per resample, so 2,000 bootstrap resamples cost a few matrix products instead
of 2,000 scikit-learn calls. Undefined values (a resample with one class only, no predicted
positives) are NaN. Unknown labels (NaN) are masked: per label for multilabel tasks, the whole
image for binary and multiclass tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmark.metrics.auroc import weighted_auroc
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.registry import Registry

Values = dict[str, np.ndarray]
PROBLEMS = ("binary", "multiclass", "multilabel")


@dataclass(frozen=True)
class EvalInputs:
    """Ground truth and scores of one test split, in the task's label order."""

    problem: str
    labels: tuple[str, ...]
    y_true: np.ndarray  # (n, K) float, NaN = unknown
    y_score: np.ndarray  # (n, K) probabilities
    thresholds: tuple[float, ...] | None = None  # one per label (binary, multilabel); default 0.5
    subsets: dict[str, tuple[str, ...]] | None = None  # named label subsets for extra macro averages

    def threshold(self, k: int) -> float:
        return 0.5 if self.thresholds is None else float(self.thresholds[k])

    @property
    def true_class(self) -> np.ndarray:
        return self.y_true.argmax(axis=1)

    @property
    def predicted_class(self) -> np.ndarray:
        return self.y_score.argmax(axis=1)


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[[EvalInputs, ClusterWeights], Values]
    problems: tuple[str, ...]


def weighted_confusion(
    true: np.ndarray, pred: np.ndarray, k: int, w: ClusterWeights, known: np.ndarray | None = None
) -> np.ndarray:
    """Confusion matrices (B, k, k), rows = true class, columns = predicted class; rows not ``known`` left out."""
    cell = np.eye(k * k)[true * k + pred]
    if known is not None:
        cell *= known[:, None]
    return w.total(cell).reshape(w.n_resamples, k, k)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _confusion(inputs: EvalInputs, w: ClusterWeights) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-resample confusion matrices and the class names of their rows (images with unknown truth left out)."""
    known = ~np.isnan(inputs.y_true).any(axis=1)
    if inputs.problem == "binary":
        true = (inputs.y_true[:, 0] == 1).astype(int)
        pred = (inputs.y_score[:, 0] >= inputs.threshold(0)).astype(int)
        return weighted_confusion(true, pred, 2, w, known), ("negative", inputs.labels[0])
    true = np.where(known, inputs.true_class, 0)
    return weighted_confusion(true, inputs.predicted_class, len(inputs.labels), w, known), inputs.labels


def _multilabel_counts(inputs: EvalInputs, w: ClusterWeights) -> tuple[np.ndarray, ...]:
    """(tp, fp, fn, tn), each (B, K): every label scored at its own threshold, NaN labels masked."""
    known = ~np.isnan(inputs.y_true)
    positive = known & (np.nan_to_num(inputs.y_true) == 1)
    thresholds = np.array([inputs.threshold(k) for k in range(len(inputs.labels))])
    predicted = inputs.y_score >= thresholds
    masks = (positive & predicted, ~positive & predicted, positive & ~predicted, ~positive & ~predicted)
    totals = w.total(np.concatenate([known & mask for mask in masks], axis=1).astype(np.float64))
    return tuple(np.split(totals, 4, axis=1))


def _per_class_rates(inputs: EvalInputs, w: ClusterWeights) -> dict[str, np.ndarray]:
    if inputs.problem == "multilabel":
        tp, fp, fn, tn = _multilabel_counts(inputs, w)
        total = (tp + fp + fn + tn)[:, :1]
    else:
        cm, _ = _confusion(inputs, w)
        total = cm.sum(axis=(1, 2))[:, None]
        tp = np.diagonal(cm, axis1=1, axis2=2)
        actual, predicted = cm.sum(axis=2), cm.sum(axis=1)
        fp, fn = predicted - tp, actual - tp
        tn = total - tp - fp - fn
    predicted, actual = tp + fp, tp + fn
    precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
    return {
        "sensitivity": recall,
        "specificity": _ratio(tn, tn + fp),
        "precision": precision,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": _ratio(tp.sum(axis=1), total[:, 0]),
    }


def _rate_metric(key: str) -> Callable[[EvalInputs, ClusterWeights], Values]:
    def compute(inputs: EvalInputs, w: ClusterWeights) -> Values:
        per_class = _per_class_rates(inputs, w)[key]
        if inputs.problem == "binary":
            return {key: per_class[:, 1]}
        out = {f"{key}/{name}": per_class[:, k] for k, name in enumerate(inputs.labels)}
        out[key] = np.nanmean(per_class, axis=1) if per_class.size else per_class[:, 0]
        return out

    return compute


def _accuracy(inputs: EvalInputs, w: ClusterWeights) -> Values:
    return {"accuracy": _per_class_rates(inputs, w)["accuracy"]}


def _balanced_accuracy(inputs: EvalInputs, w: ClusterWeights) -> Values:
    recall = _per_class_rates(inputs, w)["sensitivity"]
    with np.errstate(invalid="ignore"):
        return {"balanced_accuracy": np.nanmean(recall, axis=1)}


def _auroc(inputs: EvalInputs, w: ClusterWeights) -> Values:
    if inputs.problem == "binary":
        return {"auroc": weighted_auroc(inputs.y_true[:, 0], inputs.y_score[:, 0], w)}
    per_label = np.stack(
        [weighted_auroc(inputs.y_true[:, k], inputs.y_score[:, k], w) for k in range(len(inputs.labels))], axis=1
    )
    out = {f"auroc/{name}": per_label[:, k] for k, name in enumerate(inputs.labels)}
    # Means over labels; a resample where any label is undefined is itself undefined.
    out["auroc"] = per_label.mean(axis=1)
    for subset, names in (inputs.subsets or {}).items():
        columns = [inputs.labels.index(name) for name in names]
        out[f"auroc[{subset}]"] = per_label[:, columns].mean(axis=1)
    return out


METRICS: Registry[Metric] = Registry("metric")
for _metric in (
    Metric("auroc", _auroc, ("binary", "multiclass", "multilabel")),
    Metric("accuracy", _accuracy, ("binary", "multiclass")),
    Metric("balanced_accuracy", _balanced_accuracy, ("binary", "multiclass")),
    *(
        Metric(key, _rate_metric(key), ("binary", "multiclass", "multilabel"))
        for key in ("sensitivity", "specificity", "precision", "f1")
    ),
):
    METRICS.register(_metric.name, _metric)


def compute_metrics(inputs: EvalInputs, names: tuple[str, ...], w: ClusterWeights | np.ndarray) -> Values:
    """All values of the named metrics, one entry per resample of ``w`` (or per row of (B, n) image weights)."""
    if not isinstance(w, ClusterWeights):
        w = ClusterWeights.from_dense(w)
    values: Values = {}
    for name in names:
        values.update(METRICS.get(name).compute(inputs, w))
    return values


def confusion_matrix(inputs: EvalInputs) -> tuple[list[list[int]], tuple[str, ...]]:
    cm, names = _confusion(inputs, ClusterWeights.plain(len(inputs.y_true)))
    return cm[0].astype(int).tolist(), names


__all__ = ["METRICS", "PROBLEMS", "EvalInputs", "Metric", "compute_metrics", "confusion_matrix", "weighted_auroc"]
