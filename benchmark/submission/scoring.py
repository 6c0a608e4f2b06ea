"""Score a prediction submission like any run: truth from the task's pinned split, the task's own
evaluation and bootstrap, thresholds (where the task tunes them) from validation predictions only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmark.data.dataset import TaskData
from benchmark.data.download import file_digest
from benchmark.errors import PredictionFileError
from benchmark.results.record import Durations, ModelSection, PredictionsSubmission
from benchmark.submission.metadata import check_name
from benchmark.submission.predictions import read_predictions
from benchmark.tasks import Task
from benchmark.training.inference import SCORE_PREFIX, prediction_arrays, predictions_frame
from benchmark.training.runner import RunArtifacts, build_record, run_key


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
    check_name(submission.name, "--name")
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
    sha = file_digest(submission.predictions, "sha256")
    val_file = submission.val_predictions
    record = build_record(
        task=task,
        data=data,
        model=ModelSection(
            name=submission.model_name,
            family="predictions",
            source_file=None,
            source_hash=None,
            parameters=None,
            input=None,
        ),
        seed=submission.seed,
        key=run_key(task.task_hash, sha, {}, submission.seed),
        evaluation=scored.evaluation,
        n_test=len(scored.predictions),
        device=torch.device("cpu"),
        durations=Durations(
            data=round(data_seconds, 3),
            evaluate=round(time.perf_counter() - started - data_seconds, 3),
            total=round(time.perf_counter() - started, 3),
        ),
        origin="submission",
        sections={
            "submission": PredictionsSubmission(
                kind="predictions",
                name=submission.name,
                file=str(submission.predictions.resolve()),
                sha256=sha,
                val_file=str(val_file.resolve()) if val_file else None,
                val_sha256=file_digest(val_file, "sha256") if val_file else None,
                thresholds_from=scored.threshold_source,
            )
        },
    )
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
        thresholds = task.tune_thresholds(y_val, score_val)
        source = f"validation predictions ({task.threshold_rule})"
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
