"""Bootstrap confidence intervals of task metrics, resampling patients when images share a patient."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from benchmark.errors import StatisticsError
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.predictions import prediction_arrays, prediction_labels
from benchmark.metrics.registry import METRICS, PROBLEMS, EvalInputs, compute_metrics
from benchmark.stats.intervals import Interval, bootstrap_interval, check_method
from benchmark.stats.resample import Clusters, Resamples, draw_resamples


def prediction_inputs(
    predictions: pd.DataFrame,
    problem: str | None = None,
    thresholds: Sequence[float] | None = None,
    subsets: dict[str, Sequence[str]] | None = None,
) -> EvalInputs:
    """A Predictions table as metric inputs. ``problem`` may be left out for a single label (binary)."""
    labels = prediction_labels(predictions)
    if not labels:
        raise StatisticsError(
            f"no 'true:<label>' columns in the predictions (columns: {list(predictions.columns)[:8]}...); "
            "pass a Predictions table as benchmark run writes it"
        )
    if problem is None:
        if len(labels) != 1:
            raise StatisticsError(
                f"the predictions have {len(labels)} labels; pass problem='multiclass' or problem='multilabel'"
            )
        problem = "binary"
    if problem not in PROBLEMS:
        raise StatisticsError(f"problem must be one of {PROBLEMS}, got {problem!r}")
    if thresholds is not None and len(thresholds) != len(labels):
        raise StatisticsError(f"{len(thresholds)} thresholds for the labels {list(labels)}; pass one per label")
    y_true, y_score = prediction_arrays(predictions, labels)
    frozen = {k: tuple(v) for k, v in subsets.items()} if subsets else None
    return EvalInputs(problem, labels, y_true, y_score, None if thresholds is None else tuple(thresholds), frozen)


def metric_family(name: str) -> str:
    """The registered metric a value name belongs to: ``auroc/Effusion`` and ``auroc[findings14]`` -> ``auroc``."""
    return name.split("/", 1)[0].split("[", 1)[0]


def metric_label(name: str) -> str | None:
    """The label a per-label value names: ``auroc/Effusion`` -> ``Effusion``; None for averages."""
    return name.split("/", 1)[1] if "/" in name else None


def metric_values(inputs: EvalInputs, name: str, weights: ClusterWeights) -> np.ndarray:
    """One metric value (``auroc``, ``auroc/Effusion``, ``f1``...) in every resample of ``weights``."""
    metric = METRICS.get(metric_family(name))
    if inputs.problem not in metric.problems:
        raise StatisticsError(f"metric {metric.name!r} does not apply to a {inputs.problem} task")
    label = metric_label(name)
    if metric.name == "auroc" and label in inputs.labels:
        # One label's AUROC needs only its own column: skip the other labels.
        k = inputs.labels.index(label)
        inputs = EvalInputs("multilabel", (label,), inputs.y_true[:, [k]], inputs.y_score[:, [k]])
    values = metric.compute(inputs, weights)
    if name not in values:
        raise StatisticsError(f"{name!r} is not a value of metric {metric.name!r}; it gives {sorted(values)}")
    return values[name]


def cluster_strata(inputs: EvalInputs, name: str, clusters: Clusters) -> np.ndarray:
    """Stratum of each cluster for a stratified bootstrap: which classes it holds.

    One label (binary task, or a per-label value such as ``auroc/Effusion``): whether the cluster
    has a positive image. Multiclass: the set of classes among its images.
    """
    label = metric_label(name)
    if inputs.problem == "binary" or label in inputs.labels:
        k = 0 if inputs.problem == "binary" else inputs.labels.index(label)
        positive = np.nan_to_num(inputs.y_true[:, k]) == 1
        return np.bincount(clusters.cluster_of, positive, minlength=clusters.n_clusters) > 0
    if inputs.problem == "multiclass":
        present = np.zeros((clusters.n_clusters, len(inputs.labels)), dtype=bool)
        known = ~np.isnan(inputs.y_true).any(axis=1)
        present[clusters.cluster_of[known], inputs.true_class[known]] = True
        return present @ (1 << np.arange(len(inputs.labels)))
    raise StatisticsError(
        f"stratify needs one label or a multiclass task; {name!r} on a multilabel task mixes labels "
        "(stratify a per-label value such as 'auroc/<label>', or pass stratify=False)"
    )


def bootstrap_metrics(
    inputs: EvalInputs,
    metrics: Sequence[str],
    resamples: Resamples,
    method: str = "percentile",
    level: float = 0.95,
) -> dict[str, Interval]:
    """Every value of the registered ``metrics`` (per label and averaged) with its CI over ``resamples``."""
    return resampled_intervals(lambda w: compute_metrics(inputs, tuple(metrics), w), resamples, method, level)


def resampled_intervals(
    values_of: Callable[[ClusterWeights], dict[str, np.ndarray]],
    resamples: Resamples,
    method: str = "percentile",
    level: float = 0.95,
) -> dict[str, Interval]:
    """CIs of the values ``values_of(weights)`` returns: point estimate, resamples (and jackknife for BCa)."""
    check_method(method)
    clusters = resamples.clusters
    point = values_of(clusters.plain())
    jackknife = values_of(clusters.jackknife()) if method == "bca" else {}
    return {
        name: bootstrap_interval(float(point[name][0]), values, level, method, jackknife.get(name))
        for name, values in values_of(resamples.weights()).items()
    }


def clusters_of(predictions: pd.DataFrame, cluster: str | None) -> Clusters:
    """The resampling unit: the ``cluster`` column (patients) when it groups images, else images."""
    if cluster is None:
        return Clusters.of(None, len(predictions))
    if cluster not in predictions.columns:
        raise StatisticsError(
            f"no column {cluster!r} in the predictions to resample by; pass cluster=None to resample images"
        )
    return Clusters.of(predictions[cluster].to_numpy())


def bootstrap_ci(
    predictions: pd.DataFrame,
    metric: str,
    n_resamples: int = 2000,
    cluster: str | None = "patient_id",
    stratify: bool = False,
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    *,
    problem: str | None = None,
    thresholds: Sequence[float] | None = None,
    subsets: dict[str, Sequence[str]] | None = None,
    level: float = 0.95,
) -> Interval:
    """Bootstrap CI of one metric value on a Predictions table.

    ``metric`` names a value the task reports: ``auroc`` (macro over labels), ``auroc/<label>``,
    ``auroc[<subset>]``, ``accuracy``, ``balanced_accuracy``, ``f1``, ``sensitivity/<label>``...
    Threshold metrics use ``thresholds`` (one per label; default 0.5). Whole patients are
    resampled when the ``cluster`` column groups images, so a patient with many images does not
    narrow the interval (Field & Welsh 2007); ``cluster=None`` resamples images. ``stratify``
    resamples clusters with and without positives separately (one label) or by the classes they
    hold (multiclass). ``method``: ``percentile`` or ``bca``. Resamples where the metric is
    undefined are counted in ``n_degenerate`` and left out of the quantiles.
    """
    inputs = prediction_inputs(predictions, problem, thresholds, subsets)
    clusters = clusters_of(predictions, cluster)
    strata = cluster_strata(inputs, metric, clusters) if stratify else None
    resamples = draw_resamples(clusters, n_resamples, seed, strata)
    return resampled_intervals(lambda w: {metric: metric_values(inputs, metric, w)}, resamples, method, level)[metric]
