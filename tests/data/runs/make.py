"""Recorded runs without training: generated Predictions tables written as run directories
(record.json + predictions.parquet, staged and renamed as benchmark.training.runner.publish_run does)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_auc_score

from benchmark.metrics.predictions import predictions_frame
from benchmark.results.record import (
    RECORD_FILE,
    SCHEMA_VERSION,
    BootstrapSettings,
    ConfusionMatrix,
    Durations,
    GitSection,
    HardwareSection,
    MetricCI,
    ModelInput,
    ModelSection,
    Origin,
    PluginSubmission,
    RunRecord,
    SplitReportSection,
    TaskSection,
    TrainingSection,
    Weights,
)
from benchmark.results.store import PREDICTIONS_FILE, ResultsDir

RECIPE = {"optimizer": "adam", "batch_size": 32, "epochs": 10, "select_on": "val_loss"}


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


def auroc_metrics(predictions: pd.DataFrame, task: dict[str, Any]) -> dict[str, MetricCI]:
    """``auroc`` and, for several labels, ``auroc/<label>`` (one-vs-rest) from scikit-learn, as record metrics
    (no bootstrap: each interval is the point itself)."""
    values = {"auroc": primary_auroc(predictions, task)}
    if len(task["labels"]) > 1:
        for label in task["labels"]:
            values[f"auroc/{label}"] = float(roc_auc_score(predictions[f"true:{label}"], predictions[f"score:{label}"]))
    return {name: MetricCI(value=v, ci_low=v, ci_high=v, n_degenerate=0) for name, v in values.items()}


def confusion(predictions: pd.DataFrame, task: dict[str, Any]) -> ConfusionMatrix | None:
    """The record's confusion matrix of a multiclass task (rows true, columns predicted, top score wins)."""
    if task["problem"] != "multiclass":
        return None
    labels = task["labels"]
    y_true = predictions[[f"true:{label}" for label in labels]].to_numpy().argmax(1)
    y_pred = predictions[[f"score:{label}" for label in labels]].to_numpy().argmax(1)
    matrix = confusion_matrix(y_true, y_pred, labels=range(len(labels))).tolist()
    return ConfusionMatrix(labels=tuple(labels), matrix=tuple(tuple(row) for row in matrix))


def fixture_submission(name: str, task_name: str) -> PluginSubmission:
    """The ``submission`` section of a generated submission's runs (a plugin folder that is not on disk)."""
    return PluginSubmission(
        kind="plugin", name=name, authors=("Fixture Team",), contact="fixture@example.org", paper=None,
        url="https://example.org/fixture", licence="MIT", tasks=(task_name,), extra_training_data=(),
        folder="/nonexistent/submission", metadata_sha256="d" * 64, model_file="model.py", model_sha256="c" * 64,
        entry_point=None, weights=None, source_hash="c" * 64,
    )  # fmt: skip


def fixture_record(
    run_id: str,
    predictions: pd.DataFrame,
    task: dict[str, Any],
    model: str,
    seed: int,
    thresholds: list[float] | None = None,
    overrides: dict[str, Any] | None = None,
    origin: Origin = "baseline",
    created_at: str = "2025-01-01T00:00:00+00:00",
    family: str = "toy",
    image_size: int = 64,
    parameters: int | None = None,
    run_key: str = "fixture",
) -> RunRecord:
    """A complete record of ``predictions`` (what ``write_run`` publishes): the fields the leaderboard
    and ``benchmark cite`` read (model input, recipe, bootstrap settings, versions) as a run has them;
    ``origin="submission"`` records the model as a submission of that name."""
    labels = tuple(task["labels"])
    no_duplicates: tuple[dict[str, Any], ...] = ()
    return RunRecord(
        schema_version=SCHEMA_VERSION,
        run_id=run_id,
        created_at=created_at,
        origin=origin,
        run_key=run_key,
        task=TaskSection(
            name=task["name"],
            version=task["version"],
            hash=task["hash"],
            split_sha256=task["split_sha256"],
            patients={},
            primary_metric=task["primary_metric"],
            problem=task["problem"],
            labels=labels,
            data_root="/nonexistent/data",
            split_report=SplitReportSection(
                counts={"test": len(predictions)},
                removed_cross_split_duplicates=no_duplicates,
                within_split_duplicates=no_duplicates,
                kept_cross_split_duplicates=no_duplicates,
                skipped_unreadable=no_duplicates,
            ),
        ),
        model=ModelSection(
            name=model,
            family=family,
            source_file=None,
            source_hash="c" * 64,
            parameters=parameters or 1000 + len(model),
            input=ModelInput(image_size=image_size, in_chans=1),
        ),
        weights=Weights(init="random init"),
        recipe={"lr": 1e-3, **RECIPE, **(overrides or {})},
        overrides=overrides or {},
        seed=seed,
        n_test=len(predictions),
        metrics=auroc_metrics(predictions, task),
        bootstrap=BootstrapSettings(
            n_resamples=200,
            seed=0,
            unit="patient",
            n_units=int(predictions["patient_id"].nunique()),
            method="percentile",
            level=0.95,
        ),
        thresholds=dict(zip(labels, thresholds or [0.5] * len(labels), strict=True)),
        confusion_matrix=confusion(predictions, task),
        training=TrainingSection(
            history=(),
            best_epoch=RECIPE["epochs"] - 1,
            epochs_run=RECIPE["epochs"],
            stopped_early=False,
            resumed_from_epoch=None,
        ),
        versions={"cxr-benchmark": "0.1.0", "torch": "2.0"},
        git=GitSection(commit="0" * 40, dirty=False),
        hardware=HardwareSection(platform="fixture", python="3.11", cpu="fixture", torch_threads=1, device="cpu"),
        durations_s=Durations(data=0.0, train=0.0, evaluate=0.0, total=0.0),
        submission=fixture_submission(model, task["name"]) if origin == "submission" else None,
    )


def publish_record(results: Path, record: RunRecord, predictions: pd.DataFrame) -> None:
    """Stage the run directory, then rename it into place and index it, as ``publish_run`` does."""
    store = ResultsDir(results)
    staging = store.staging_dir(record.run_id)
    predictions.to_parquet(staging / PREDICTIONS_FILE, index=False)
    record.write(staging / RECORD_FILE)
    store.publish(staging, record)


def write_run(
    results: Path,
    predictions: pd.DataFrame,
    task: dict[str, Any],
    model: str,
    seed: int,
    thresholds: list[float] | None = None,
    overrides: dict[str, Any] | None = None,
    origin: Origin = "baseline",
    created_at: str = "2025-01-01T00:00:00+00:00",
    family: str = "toy",
    image_size: int = 64,
    parameters: int | None = None,
) -> str:
    """A run directory for ``predictions`` with ``fixture_record``'s record; returns its run id."""
    tag = hashlib.sha256(f"{task['hash']}{model}{seed}{overrides}{created_at}".encode()).hexdigest()[:6]
    run_id = f"20250101T000000Z-{task['name']}-{model}-s{seed}-{tag}"
    record = fixture_record(
        run_id, predictions, task, model, seed, thresholds, overrides, origin, created_at, family, image_size,
        parameters, run_key=tag,
    )  # fmt: skip
    publish_record(results, record, predictions)
    return run_id


def make_predictions(
    patient_ids: np.ndarray, y_true: np.ndarray, labels: tuple[str, ...], y_score: np.ndarray
) -> pd.DataFrame:
    return predictions_frame(
        [f"img{i:05d}" for i in range(len(patient_ids))], list(patient_ids), y_true, y_score, labels
    )


@dataclass(frozen=True)
class ToyModel:
    """A model of a generated store: how well it separates the classes and what its record says."""

    name: str
    skill: float
    seeds: tuple[int, ...] = (0, 1, 2)
    family: str = "toy"
    image_size: int = 64
    origin: str = "baseline"
    parameters: int | None = None


def write_task_runs(
    results: Path,
    task: dict[str, Any],
    models: Sequence[ToyModel],
    n_patients: int,
    rng: np.random.Generator,
    max_images: int = 3,
    hour: int = 0,
) -> list[str]:
    """Runs of every model and seed on one generated test set (the same images and truth for all),
    each an hour after the previous one from 2025-01-01 + ``hour``. Returns the run ids."""
    pid = patients(n_patients, rng, max_images)
    labels = tuple(task["labels"])
    y = truth(pid, labels, task["problem"], rng)
    run_ids = []
    for model in models:
        for seed in model.seeds:
            frame = make_predictions(pid, y, labels, scores(y, task["problem"], model.skill, rng))
            created_at = (datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(hours=hour)).isoformat()
            run_ids.append(
                write_run(results, frame, task, model.name, seed, origin=model.origin, created_at=created_at,
                          family=model.family, image_size=model.image_size, parameters=model.parameters)
            )  # fmt: skip
            hour += 1
    return run_ids


def write_saliency_cache(
    results: Path,
    run_id: str,
    rng: np.random.Generator,
    n_images: int = 3,
    methods: tuple[str, ...] = ("gradcam", "occlusion"),
    boxed: bool = True,
    size: int = 16,
) -> dict[str, Any]:
    """A saliency cache for a generated run, in the layout `benchmark saliency` writes: per image a
    map of its true class and (when different) of its predicted class for every method, a blob at a
    random place; with ``boxed``, a box of the true class on each image and the maps scored against
    it (benchmark.saliency.scoring). Returns the index written."""
    from benchmark.saliency.cache import write_cache
    from benchmark.saliency.scoring import score_map, summarise

    record = ResultsDir(results).load_record(run_id)
    classes = list(record.task.labels)
    yy, xx = np.mgrid[0:size, 0:size]
    images, maps, image_entries, entries, trials = [], [], [], [], []
    for j in range(n_images):
        true, predicted = classes[j % len(classes)], classes[(j + 1) % len(classes)]
        x0, y0 = (int(v) for v in rng.integers(0, size // 2, 2))
        box = (float(x0), float(y0), float(x0 + size // 3), float(y0 + size // 3))
        probabilities = rng.dirichlet(np.ones(len(classes)))
        image_entries.append(
            {
                "image_id": f"img{j:05d}",
                "patient_id": f"p{j:04d}",
                "true": [true],
                "predicted": [predicted],
                "probabilities": {c: float(p) for c, p in zip(classes, probabilities, strict=True)},
                "boxes": [{"finding": true, "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]}] if boxed else [],
            }
        )
        images.append(rng.integers(0, 255, (size, size)).astype(np.uint8))
        shown = {true: ["true", "box"] if boxed else ["true"], predicted: ["predicted"]}
        for method in methods:
            for name, reasons in shown.items():
                cx, cy = rng.uniform(0, size, 2)
                saliency = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (size / 4) ** 2).astype(np.float16)
                entry = {"map": len(maps), "image": j, "class": name, "method": method, "reasons": reasons, "peak": 1.0}
                if boxed and name == true:
                    scores = score_map(saliency, [box])
                    entry |= {"hit": scores["hit"], "iou": scores["iou"]}
                    trials.append({"image_id": f"img{j:05d}", "method": method, "finding": name, **scores})
                entries.append(entry)
                maps.append(saliency)
    index = {
        "run_id": run_id,
        "task": {"name": record.task.name, "hash": record.task.hash, "problem": record.task.problem},
        "model": {"name": record.model.name, "family": record.model.family, "target_layer": "features"},
        "classes": classes,
        "methods": list(methods),
        "images": image_entries,
        "entries": entries,
        "boxes_available": boxed,
        "scores": summarise(pd.DataFrame(trials)).to_dict("records") if boxed else None,
    }
    write_cache(results / run_id, index, np.stack(images), np.stack(maps))
    return index
