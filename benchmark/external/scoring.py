"""An external set's predictions scored with the task's metrics and patient-cluster bootstrap CIs.

Multilabel tasks are scored on the mapped labels only (``evaluate_predictions`` with that label subset).
Binary tasks are scored as on their own test set. Multiclass tasks keep every class in the model's
decision (an image predicted as a class the set lacks is a wrong prediction), while per-class and macro
values cover only the classes present in the set: a class without images has no AUROC or sensitivity,
so the macro averages (auroc, sensitivity, specificity, precision, f1) are over the classes present.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from benchmark.external.data import ExternalData
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.predictions import prediction_arrays
from benchmark.metrics.registry import EvalInputs, compute_metrics, confusion_matrix
from benchmark.stats.bootstrap import resampled_intervals
from benchmark.stats.resample import Clusters, draw_resamples
from benchmark.tasks import Task
from benchmark.tasks.evaluate import evaluate_predictions

MACRO_FAMILIES = ("auroc", "sensitivity", "specificity", "precision", "f1")
MACRO_NOTE = {
    "multilabel": "scored on the mapped labels only; macro averages over them",
    "binary": "scored as the task's own test set",
    "multiclass": "argmax over all of the task's classes; per-class values and macro averages over the classes "
    "present in the set",
}


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _bootstrap(task: Task) -> dict[str, Any]:
    return {"n_resamples": task.n_bootstrap, "seed": task.bootstrap_seed, "method": task.bootstrap_method}


def _present_macro_evaluation(
    predictions: pd.DataFrame, task: Task, present: list[str], thresholds: list[float]
) -> dict[str, Any]:
    """Multiclass metrics with per-class and macro values restricted to the classes ``present``."""
    y_true, y_score = prediction_arrays(predictions, task.labels)
    inputs = EvalInputs(task.problem, task.labels, y_true, y_score, tuple(thresholds))
    absent = [label for label in task.labels if label not in present]

    def values_of(weights: ClusterWeights) -> dict[str, np.ndarray]:
        values = compute_metrics(inputs, task.metrics, weights)
        for family in MACRO_FAMILIES:
            if family in task.metrics:
                per_class = np.stack([values[f"{family}/{label}"] for label in present], axis=1)
                with warnings.catch_warnings():  # a resample without a class: NaN, as the task's own macro
                    warnings.simplefilter("ignore", RuntimeWarning)
                    values[family] = per_class.mean(axis=1) if family == "auroc" else np.nanmean(per_class, axis=1)
                for label in absent:
                    values.pop(f"{family}/{label}", None)
        return values

    clusters = Clusters.of(predictions["patient_id"].to_numpy())
    settings = _bootstrap(task) | {"unit": clusters.unit, "n_units": clusters.n_clusters, "level": 0.95}
    resamples = draw_resamples(clusters, settings["n_resamples"], settings["seed"])
    intervals = resampled_intervals(values_of, resamples, settings["method"], settings["level"])
    matrix, names = confusion_matrix(inputs)
    return {
        "metrics": {k: v.to_dict() for k, v in intervals.items()},
        "bootstrap": settings,
        "confusion_matrix": {"labels": list(names), "matrix": matrix},
    }


def evaluate_external(
    predictions: pd.DataFrame, task: Task, scored_labels: list[str], thresholds: list[float]
) -> dict[str, Any]:
    """``evaluate_predictions``' result on an external set's Predictions table (all of the task's labels)."""
    if task.problem == "multilabel":
        columns = [task.labels.index(label) for label in scored_labels]
        keep = ["image_id", "patient_id", *(f"{p}{label}" for p in ("true:", "score:") for label in scored_labels)]
        return evaluate_predictions(
            predictions[keep],
            task.problem,
            tuple(scored_labels),
            task.metrics,
            [thresholds[k] for k in columns],
            _bootstrap(task),
        )
    if task.problem == "multiclass" and len(scored_labels) < len(task.labels):
        return _present_macro_evaluation(predictions, task, scored_labels, thresholds)
    return evaluate_predictions(predictions, task.problem, task.labels, task.metrics, thresholds, _bootstrap(task))


def score_external(
    data: ExternalData, predictions: pd.DataFrame, task: Task, thresholds: list[float] | None
) -> dict[str, Any]:
    """The external section payload of one set: rows (metric, value, CI), settings, summary."""
    if thresholds is None:
        thresholds = [float(task.threshold)] * len(task.labels)
    spec, mapped = data.spec, data.mapped
    evaluation = evaluate_external(predictions, task, mapped.scored_labels, thresholds)
    n_images, n_patients = len(predictions), int(predictions["patient_id"].nunique())
    rows = [
        {
            "metric": name,
            "value": _number(value["value"]),
            "ci_low": _number(value["ci_low"]),
            "ci_high": _number(value["ci_high"]),
            "n_degenerate": int(value["n_degenerate"]),
            "n_images": n_images,
            "n_patients": n_patients,
        }
        for name, value in evaluation["metrics"].items()
    ]
    primary = next(row for row in rows if row["metric"] == task.primary_metric)
    settings = {
        "spec_hash": spec.spec_hash,
        "description": spec.description,
        "source": {k: v for k, v in spec.source.items() if k != "how_to_get"},
        "official_split": spec.official_split,
        "label_map": spec.label_map,
        "scored_labels": mapped.scored_labels,
        "absent_labels": [label for label in task.labels if label not in mapped.scored_labels],
        "how_scored": MACRO_NOTE[task.problem],
        "n_images": n_images,
        "n_patients": n_patients,
        "class_counts": mapped.class_counts,
        "left_out": mapped.left_out,
        "n_left_out": int(sum(mapped.left_out.values())),
        "unmapped_source_labels": mapped.unmapped_labels,
        "positives": {label: int(np.nansum(predictions[f"true:{label}"].to_numpy())) for label in mapped.scored_labels},
        "thresholds": dict(zip(task.labels, thresholds, strict=True)),
        "bootstrap": evaluation["bootstrap"],
        "data_root": str(data.root.resolve()),
    }
    if "confusion_matrix" in evaluation:
        settings["confusion_matrix"] = evaluation["confusion_matrix"]
    summary = {k: primary[k] for k in ("metric", "value", "ci_low", "ci_high")}
    return {"rows": rows, "settings": settings, "summary": summary}
