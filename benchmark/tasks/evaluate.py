"""A task's evaluation: its metrics on a Predictions table, each with a patient-cluster bootstrap CI.

Thin on purpose: the metrics come from ``benchmark.metrics`` and the intervals from
``benchmark.stats``; this module only wires a task's settings into them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.metrics.predictions import prediction_arrays
from benchmark.metrics.registry import EvalInputs, confusion_matrix
from benchmark.stats.bootstrap import bootstrap_metrics
from benchmark.stats.resample import Clusters, draw_resamples


def evaluate_predictions(
    predictions: pd.DataFrame,
    problem: str,
    labels: tuple[str, ...],
    metrics: tuple[str, ...],
    thresholds: list[float],
    bootstrap: dict[str, Any],
    macro_subsets: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """``metrics`` on ``predictions`` with 95% intervals; ``bootstrap`` holds n_resamples, seed and method.

    Resamples whole patients when images share a patient id, so a patient with many images does
    not narrow the interval.
    """
    y_true, y_score = prediction_arrays(predictions, labels)
    inputs = EvalInputs(problem, labels, y_true, y_score, tuple(thresholds), macro_subsets)
    clusters = Clusters.of(predictions["patient_id"].to_numpy())
    settings = {
        "n_resamples": bootstrap["n_resamples"],
        "seed": bootstrap["seed"],
        "unit": clusters.unit,
        "n_units": clusters.n_clusters,
        "method": bootstrap["method"],
        "level": 0.95,
    }
    resamples = draw_resamples(clusters, settings["n_resamples"], settings["seed"])
    intervals = bootstrap_metrics(inputs, metrics, resamples, settings["method"], settings["level"])
    result: dict[str, Any] = {
        "metrics": {k: v.to_dict() for k, v in intervals.items()},
        "bootstrap": settings,
        "thresholds": dict(zip(labels, thresholds, strict=True)),
    }
    if problem != "multilabel":
        matrix, names = confusion_matrix(inputs)
        result["confusion_matrix"] = {"labels": list(names), "matrix": matrix}
    return result
