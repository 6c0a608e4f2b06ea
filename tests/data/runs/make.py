"""Recorded runs without training: generated Predictions tables written as run directories
(record.json + predictions.parquet, staged and renamed as benchmark.runner.publish_run does)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmark.predictions import predictions_frame
from benchmark.store import PREDICTIONS_FILE, RECORD_FILE, SCHEMA_VERSION, ResultsDir, write_json


def patients(n_patients: int, rng: np.random.Generator, max_images: int = 6) -> np.ndarray:
    """A patient id per image, 1 to ``max_images`` images per patient (uneven, as in NIH)."""
    sizes = rng.integers(1, max_images + 1, n_patients)
    return np.repeat([f"p{i:04d}" for i in range(n_patients)], sizes)


def truth(patient_ids: np.ndarray, labels: tuple[str, ...], problem: str, rng: np.random.Generator) -> np.ndarray:
    """(n, K) 0/1 truth; a patient's images share a tendency (so clustering matters)."""
    _, cluster = np.unique(patient_ids, return_inverse=True)
    n, k = len(patient_ids), len(labels)
    if problem == "multiclass":
        return np.eye(k)[(rng.integers(0, k, cluster.max() + 1)[cluster] + (rng.random(n) < 0.2)) % k]
    risk = rng.random((cluster.max() + 1, k))[cluster]
    return (rng.random((n, k)) < 0.15 + 0.5 * risk).astype(float)


def scores(y_true: np.ndarray, problem: str, skill: float, rng: np.random.Generator) -> np.ndarray:
    """Scores that separate the classes by ``skill`` (0 = chance), as probabilities."""
    logits = skill * (2 * y_true - 1) + rng.normal(size=y_true.shape)
    if problem == "multiclass":
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)
    return 1 / (1 + np.exp(-logits))


def toy_task(
    problem: str = "binary", labels: tuple[str, ...] = ("pneumonia",), task_hash: str = "a" * 64, name: str = "toy"
) -> dict:
    return {"name": name, "version": 1, "hash": task_hash, "split_sha256": "b" * 64, "problem": problem,
            "labels": list(labels), "primary_metric": "auroc"}  # fmt: skip


def primary_auroc(predictions: pd.DataFrame, task: dict[str, Any]) -> float:
    """The task's AUROC from scikit-learn (macro over labels / one-vs-rest), as a record would hold it."""
    labels = task["labels"]
    y_true = predictions[[f"true:{label}" for label in labels]].to_numpy()
    y_score = predictions[[f"score:{label}" for label in labels]].to_numpy()
    if task["problem"] == "multiclass":
        return float(roc_auc_score(y_true.argmax(1), y_score, multi_class="ovr"))
    return float(np.mean([roc_auc_score(y_true[:, k], y_score[:, k]) for k in range(len(labels))]))


def write_run(
    results: Path,
    predictions: pd.DataFrame,
    task: dict[str, Any],
    model: str,
    seed: int,
    thresholds: list[float] | None = None,
    overrides: dict[str, Any] | None = None,
    origin: str = "baseline",
    created_at: str = "2025-01-01T00:00:00+00:00",
) -> str:
    """A run directory for ``predictions``; returns its run id."""
    tag = hashlib.sha256(f"{task['hash']}{model}{seed}{overrides}{created_at}".encode()).hexdigest()[:6]
    run_id = f"20250101T000000Z-{task['name']}-{model}-s{seed}-{tag}"
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "created_at": created_at,
        "origin": origin,
        "run_key": tag,
        "task": task,
        "model": {"name": model, "family": "toy", "parameters": 1000 + len(model), "source_hash": "c" * 64},
        "recipe": {"lr": 1e-3, **(overrides or {})},
        "overrides": overrides or {},
        "seed": seed,
        "n_test": len(predictions),
        "metrics": {"auroc": {"value": primary_auroc(predictions, task), "ci_low": None, "ci_high": None}},
        "thresholds": dict(zip(task["labels"], thresholds or [0.5] * len(task["labels"]), strict=True)),
    }
    store = ResultsDir(results)
    staging = store.staging_dir(run_id)
    predictions.to_parquet(staging / PREDICTIONS_FILE, index=False)
    write_json(staging / RECORD_FILE, record)
    store.publish(staging, record)
    return run_id


def make_predictions(
    patient_ids: np.ndarray, y_true: np.ndarray, labels: tuple[str, ...], y_score: np.ndarray
) -> pd.DataFrame:
    return predictions_frame(
        [f"img{i:05d}" for i in range(len(patient_ids))], list(patient_ids), y_true, y_score, labels
    )
