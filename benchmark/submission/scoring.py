"""Score a prediction submission like any run: truth from the task's pinned split, the task's own
evaluation and bootstrap, thresholds (where the task tunes them) from validation predictions only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmark.data.dataset import TaskData
from benchmark.data.download import file_digest
from benchmark.errors import PredictionFileError
from benchmark.metrics.thresholds import choose_thresholds
from benchmark.recipe import Recipe
from benchmark.results.store import SCHEMA_VERSION
from benchmark.submission.predictions import read_predictions
from benchmark.tasks import Task
from benchmark.training.inference import SCORE_PREFIX, prediction_arrays, predictions_frame
from benchmark.training.runner import RunArtifacts, environment_section, new_run_id, run_key, task_section


@dataclass(frozen=True)
class PredictionSubmission:
    name: str
    task: Task
    predictions: Path
    val_predictions: Path | None = None
    seed: int = 0  # which training seed produced the predictions (ranked entries need three)
    data_root: str | None = None

    @property
    def model_name(self) -> str:
        return f"submission:{self.name}"


@dataclass(frozen=True)
class Scored:
    predictions: pd.DataFrame
    val_predictions: pd.DataFrame | None
    evaluation: dict[str, Any]
    threshold_source: str


def score_submission(submission: PredictionSubmission) -> RunArtifacts:
    """Validate the files against the pinned split and score them; nothing is written."""
    started = time.perf_counter()
    task = submission.task
    if task.tunes_threshold and submission.val_predictions is None:
        raise PredictionFileError(
            f"task {task.name} chooses its operating threshold on validation predictions ({task.threshold}), and the "
            "test set never chooses anything: pass --val-predictions FILE with scores for every val image "
            f"(`benchmark submit --template --task {task.name} --split val --out FILE` writes one to fill)"
        )
    data = task.load_data(submission.data_root)
    test_scores = read_predictions(submission.predictions, task, data.frame, "test")
    val_scores = (
        read_predictions(submission.val_predictions, task, data.frame, "val") if submission.val_predictions else None
    )
    data_seconds = time.perf_counter() - started
    scored = score(task, data, test_scores, val_scores)
    created = datetime.now(timezone.utc)
    sha = file_digest(submission.predictions, "sha256")
    val_sha = file_digest(submission.val_predictions, "sha256") if submission.val_predictions else None
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_id": new_run_id(created, task.name, submission.model_name, submission.seed),
        "created_at": created.isoformat(),
        "origin": "submission",
        "run_key": run_key(task.task_hash, sha, {}, submission.seed),
        "task": task_section(task, data),
        "model": {
            "name": submission.model_name,
            "family": "predictions",
            "source_file": None,
            "source_hash": None,
            "parameters": None,
            "input": None,
        },
        "weights": None,
        "recipe": None,
        "overrides": {},
        "seed": submission.seed,
        "n_test": len(scored.predictions),
        **scored.evaluation,
        "training": None,
        "submission": {
            "kind": "predictions",
            "name": submission.name,
            "file": str(submission.predictions.resolve()),
            "sha256": sha,
            "val_file": str(submission.val_predictions.resolve()) if submission.val_predictions else None,
            "val_sha256": val_sha,
            "thresholds_from": scored.threshold_source,
        },
        **environment_section(torch.device("cpu")),
        "durations_s": {
            "data": round(data_seconds, 3),
            "evaluate": round(time.perf_counter() - started - data_seconds, 3),
            "total": round(time.perf_counter() - started, 3),
        },
    }
    return RunArtifacts(record, scored.predictions, scored.val_predictions)


def score(task: Task, data: TaskData, test_scores: pd.DataFrame, val_scores: pd.DataFrame | None) -> Scored:
    """Predictions tables (truth from ``data``, scores indexed by image id) and the task's evaluation."""
    predictions = data.with_metadata(_with_truth(task, data, "test", test_scores))
    val_predictions = _with_truth(task, data, "val", val_scores) if val_scores is not None else None
    thresholds = None
    source = f"the task's fixed threshold {task.threshold}"
    if task.tunes_threshold:
        assert val_predictions is not None
        y_val, score_val = prediction_arrays(val_predictions, task.labels)
        target = Recipe().target_sensitivity
        thresholds = choose_thresholds(str(task.threshold), y_val, score_val, target)
        source = f"validation predictions ({task.threshold}" + (
            f", target {target})" if task.threshold == "target_sensitivity" else ")"
        )
    return Scored(predictions, val_predictions, task.evaluate(predictions, thresholds), source)


def scores_of(predictions: pd.DataFrame, task: Task) -> pd.DataFrame:
    """The score columns of a Predictions table, indexed by image id, named by label."""
    columns = {SCORE_PREFIX + label: label for label in task.labels}
    return predictions.set_index("image_id")[list(columns)].rename(columns=columns)


def _with_truth(task: Task, data: TaskData, split: str, scores: pd.DataFrame) -> pd.DataFrame:
    rows = data.frame[data.frame["split"] == split]
    ids = rows["image_id"].astype(str).tolist()
    return predictions_frame(
        ids,
        rows["patient_id"].astype(str).tolist(),
        rows[list(task.labels)].to_numpy(dtype=float),
        scores.loc[ids, list(task.labels)].to_numpy(dtype=float),
        task.labels,
    )
