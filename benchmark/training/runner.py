"""``benchmark run``: task -> data -> model -> fit -> predictions -> metrics -> run record.

``execute_run`` trains and evaluates in memory; ``publish_run`` writes the run directory. Kept
apart so that distributed workers execute and only the driver writes to the results store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from benchmark.data.dataset import TaskData
from benchmark.data.download import file_digest
from benchmark.data.prepared import PreparedSplit
from benchmark.errors import InvalidRunError
from benchmark.models.io import default_device, num_outputs
from benchmark.models.registry import MODELS, ModelInputs, ModelSpec
from benchmark.recipe import Recipe, check_seed
from benchmark.results.provenance import git_commit, hardware, package_versions
from benchmark.results.record import (
    RECORD_FILE,
    SCHEMA_VERSION,
    Durations,
    Evaluation,
    GitSection,
    HardwareSection,
    ModelInput,
    ModelSection,
    Origin,
    RunRecord,
    TaskSection,
    TrainingSection,
    Weights,
)
from benchmark.results.run_sections import RunContext, run_time_sections
from benchmark.results.store import (
    CHECKPOINT_FILE,
    DEFAULT_RESULTS,
    PREDICTIONS_FILE,
    RESUME_FILE,
    VAL_PREDICTIONS_FILE,
    ResultsDir,
    discard,
)
from benchmark.tasks import TASKS, Task
from benchmark.training.code import training_code_hash, training_digests
from benchmark.training.inference import predict, prediction_arrays
from benchmark.training.loop import BatchHook, EpochHook, FitOptions, FitResult, fit

log = logging.getLogger(__name__)


@dataclass
class RunRequest:
    """One (task, model, seed). ``task`` and ``model`` are registry names or the objects themselves."""

    task: str | Task
    model: str | ModelSpec
    data_root: str | None = None
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    results: Path = DEFAULT_RESULTS
    resume: bool = False
    device: torch.device | None = None
    on_batch: BatchHook | None = None
    on_epoch: EpochHook | None = None
    skip_corrupt: bool = False
    origin: Origin = "baseline"
    # Record sections the caller adds (benchmark.results.record.CALLER_SECTIONS: submission, tuning...)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunArtifacts:
    """A finished run held in memory: what ``publish_run`` writes as a run directory. A prediction
    submission has no validation predictions (unless it brought them), no weights and no work dir."""

    record: RunRecord  # without ``files`` until published
    predictions: pd.DataFrame
    val_predictions: pd.DataFrame | None = None
    state_dict: dict[str, torch.Tensor] | None = None
    work_dir: Path | None = None


def weights_record(path: str | None) -> Weights:
    """What the model started from: never left implicit."""
    if not path:
        return Weights(init="random init")
    return Weights(init="pretrained", file=str(Path(path).resolve()), sha256=file_digest(Path(path), "sha256"))


def run_key(task_hash: str, model_hash: str, recipe: dict[str, Any], seed: int, training: str | None = None) -> str:
    """Identity of a run's inputs: the same key means the same training, so it can resume. ``training``
    is the training code's hash (``benchmark.training.code``) of a trained run; None for a scored file."""
    parts: list[Any] = [task_hash, model_hash, recipe, seed]
    if training is not None:  # a predictions file's key, and keys from before the training code was hashed
        parts.append(training)
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def trained_run_key(task: Task, spec: ModelSpec, recipe: Recipe, seed: int) -> str:
    """The run key of training ``spec`` by ``recipe`` on ``task`` with this checkout's training code."""
    return run_key(task.task_hash, spec.source_hash, recipe.to_dict(), seed, training_code_hash())


@dataclass
class TrainedRun:
    """A request trained and not yet evaluated: what ``execute_run`` evaluates."""

    task: Task
    spec: ModelSpec
    recipe: Recipe
    device: torch.device
    size: int
    data: TaskData
    val: PreparedSplit
    model: nn.Module
    key: str
    work_dir: Path
    fitted: FitResult
    data_seconds: float


def resolve(request: RunRequest) -> tuple[Task, ModelSpec, Recipe]:
    """The request's task, model and recipe (overrides applied and checked, the seed checked); reads no data."""
    task = TASKS.get(request.task) if isinstance(request.task, str) else request.task
    spec = MODELS.get(request.model) if isinstance(request.model, str) else request.model
    check_seed(request.seed)
    return task, spec, spec.recipe.with_overrides(request.overrides)


def run_name(task: Task, spec: ModelSpec, seed: int) -> str:
    """How an error names a run before it has a run id."""
    return f"the run of task {task.name}, model {spec.name}, seed {seed}"


def request_key(request: RunRequest) -> str:
    """The run key ``execute_run`` gives this request's record, known before anything trains."""
    task, spec, recipe = resolve(request)
    return trained_run_key(task, spec, recipe, request.seed)


def run_benchmark(request: RunRequest) -> Path:
    """Train and evaluate one (task, model, seed); returns the published run directory."""
    artifacts = execute_run(request)
    final = publish_run(artifacts, Path(request.results))
    if artifacts.work_dir is not None:
        discard(artifacts.work_dir)
    return final


def new_run_id(created: datetime, task_name: str, model_name: str, seed: int) -> str:
    """Sortable by time, readable, unique; only characters safe in a folder name."""
    model = re.sub(r"[^A-Za-z0-9._-]", "-", model_name)
    return f"{created:%Y%m%dT%H%M%SZ}-{task_name}-{model}-s{seed}-{uuid.uuid4().hex[:6]}"


def task_section(task: Task, data: TaskData) -> TaskSection:
    """The record's ``task``: what the result is a result on."""
    section = {
        "name": task.name,
        "version": task.version,
        "hash": task.task_hash,
        "split_sha256": data.split_hash,
        "patients": data.patient_counts(),
        "primary_metric": task.primary_metric,
        "problem": task.problem,
        "labels": list(task.labels),
        "data_root": str(data.root.resolve()),
        "split_report": data.report.to_dict(),
    }
    return TaskSection.from_dict(section, f"task {task.name}")


def build_record(
    *,
    task: Task,
    data: TaskData,
    model: ModelSection,
    seed: int,
    key: str,
    evaluation: dict[str, Any],
    n_test: int,
    device: torch.device,
    durations: Durations,
    origin: Origin,
    weights: Weights | None = None,
    recipe: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    training: TrainingSection | None = None,
    sections: Mapping[str, Any] | None = None,
) -> RunRecord:
    """The one place a run record is made (a trained run and a scored predictions file alike): the
    task and ``evaluation`` (``Task.evaluate``), the model, package versions, code commit and
    hardware (what a result depends on besides its inputs), and the caller's ``sections``."""
    created = datetime.now(timezone.utc)
    scored = Evaluation.from_dict(evaluation, f"the evaluation of task {task.name}")
    record = RunRecord(
        schema_version=SCHEMA_VERSION,
        run_id=new_run_id(created, task.name, model.name, seed),
        created_at=created.isoformat(),
        origin=origin,
        run_key=key,
        task=task_section(task, data),
        model=model,
        weights=weights,
        recipe=recipe,
        overrides=overrides or {},
        seed=seed,
        n_test=n_test,
        metrics=scored.metrics,
        bootstrap=scored.bootstrap,
        thresholds=scored.thresholds,
        confusion_matrix=scored.confusion_matrix,
        training=training,
        versions=package_versions(),
        git=GitSection.from_dict(git_commit(), "the git commit"),
        hardware=HardwareSection.from_dict(hardware(device), "the hardware description"),
        durations_s=durations,
    )
    return record.with_sections(sections or {})


def train_run(request: RunRequest) -> TrainedRun:
    """Load the training and validation splits, build the model and fit it (checkpoints only).

    Everything of a run but its evaluation: a tuning trial stops here, so the test split is
    never scored while hyperparameters are chosen.
    """
    started = time.perf_counter()
    task, spec, recipe = resolve(request)
    device = request.device or default_device()
    size = recipe.image_size or task.native_image_size

    data = task.load_data(request.data_root)
    train, val = (data.prepare(s, size, request.skip_corrupt) for s in ("train", "val"))
    data_seconds = time.perf_counter() - started
    if len(train) == 0:
        skipped = " once --skip-corrupt left out the images that cannot be read" if request.skip_corrupt else ""
        raise InvalidRunError(
            f"{run_name(task, spec, request.seed)} has no image to train on (its train split is empty{skipped}), "
            f"so it would record an untrained model; nothing was written. Check the data under {data.root} with "
            f"`benchmark data check {task.name}`"
        )

    inputs = ModelInputs(num_outputs(recipe, task.problem, len(task.labels)), recipe.in_chans, size)
    with torch.random.fork_rng():
        torch.manual_seed(request.seed)
        model = spec.build(inputs, recipe)

    results = ResultsDir(Path(request.results))
    key = trained_run_key(task, spec, recipe, request.seed)
    work = results.work_dir(key)
    if not request.resume:
        discard(work)
    if spec.pretrain is not None and not (request.resume and (work / RESUME_FILE).exists()):
        spec.pretrain(model, train, recipe, device, request.seed)
    options = FitOptions(work / RESUME_FILE, request.seed, device, request.resume, request.on_batch, request.on_epoch)
    fitted = fit(model, recipe, task.problem, train, val, options)
    if not fitted.history:  # e.g. a checkpoint that holds no epoch: no optimizer step was taken
        raise InvalidRunError(
            f"{run_name(task, spec, request.seed)} trained no epoch (recipe epochs={recipe.epochs}), so it would "
            "record an untrained model; nothing was written. Run it again without --resume"
        )
    return TrainedRun(task, spec, recipe, device, size, data, val, model, key, work, fitted, data_seconds)


def execute_run(request: RunRequest) -> RunArtifacts:
    """Train and evaluate one (task, model, seed) without writing a record (checkpoints only)."""
    started = time.perf_counter()
    trained = train_run(request)
    task, spec, recipe, device, model = trained.task, trained.spec, trained.recipe, trained.device, trained.model
    data, val, fitted = trained.data, trained.val, trained.fitted
    test = data.prepare("test", trained.size, request.skip_corrupt)

    eval_started = time.perf_counter()
    val_predictions = predict(model, val, recipe, task.problem, task.labels, device)
    predictions = data.with_metadata(predict(model, test, recipe, task.problem, task.labels, device))
    check_finite_scores(trained, request.seed, {"validation": val_predictions, "test": predictions})
    thresholds = None
    if task.tunes_threshold:
        y_val, score_val = prediction_arrays(val_predictions, task.labels)
        thresholds = task.tune_thresholds(y_val, score_val)
    evaluation = task.evaluate(predictions, thresholds)
    context = RunContext(task, data, model, recipe, device, trained.size, predictions, thresholds, request.skip_corrupt)
    scored_after = run_time_sections(context)
    eval_seconds = time.perf_counter() - eval_started

    record = build_record(
        task=task,
        data=data,
        model=ModelSection(
            name=spec.name,
            family=spec.family,
            source_file=spec.source_file.name,
            source_hash=spec.source_hash,
            sources=spec.source_digests,
            parameters=sum(p.numel() for p in model.parameters()),
            input=ModelInput(image_size=trained.size, in_chans=recipe.in_chans),
        ),
        seed=request.seed,
        key=trained.key,
        evaluation=evaluation,
        n_test=len(predictions),
        device=device,
        durations=Durations(
            data=round(trained.data_seconds, 3),
            train=round(fitted.seconds, 3),
            evaluate=round(eval_seconds, 3),
            total=round(time.perf_counter() - started, 3),
        ),
        origin=request.origin,
        weights=weights_record(recipe.pretrained_weights),
        recipe=recipe.to_dict(),
        overrides=request.overrides,
        training=TrainingSection(
            history=tuple(fitted.history),
            best_epoch=fitted.best_epoch,
            epochs_run=len(fitted.history),
            stopped_early=fitted.stopped_early,
            resumed_from_epoch=fitted.resumed_from_epoch,
            code_hash=training_code_hash(),
            code=training_digests(),
        ),
        sections={**scored_after, **request.extra},
    )
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return RunArtifacts(record, predictions, val_predictions, state, trained.work_dir)


def check_finite_scores(trained: TrainedRun, seed: int, splits: Mapping[str, pd.DataFrame]) -> None:
    """Refuse a run whose scores on any of ``splits`` are not all finite (a model that diverged or
    computes NaN): its metrics would treat NaN scores as numbers and look like a result. Nothing is
    written; the run's checkpoint stays in its work folder for diagnosis."""
    counts = []
    for split, frame in splits.items():
        _, scores = prediction_arrays(frame, trained.task.labels)
        bad = int((~np.isfinite(scores)).any(axis=1).sum())
        if bad:
            counts.append(f"{bad} of {len(scores)} {split} images")
    if not counts:
        return
    checkpoint = trained.work_dir / RESUME_FILE
    kept = (
        f"its checkpoint stays at {checkpoint} for diagnosis (the same command without --resume replaces it)"
        if checkpoint.exists()
        else "no checkpoint of it was written on this process"
    )
    raise InvalidRunError(
        f"{run_name(trained.task, trained.spec, seed)} is not recorded: its model gave NaN or infinite scores "
        f"for {', '.join(counts)}, and metrics of such scores mean nothing. Nothing was written; {kept}. Try a lower "
        f"lr (this run: {trained.recipe.lr:g}) or check that the model's forward pass gives finite outputs"
    )


def publish_run(artifacts: RunArtifacts, results_root: Path) -> Path:
    """Write a run directory atomically (staged under a temporary name, then renamed into place) and
    list it in the results index. Only the files the run has are written; ``files`` names them."""
    results = ResultsDir(results_root)
    staging = results.staging_dir(artifacts.record.run_id)
    try:
        artifacts.predictions.to_parquet(staging / PREDICTIONS_FILE, index=False)
        if artifacts.val_predictions is not None:
            artifacts.val_predictions.to_parquet(staging / VAL_PREDICTIONS_FILE, index=False)
        if artifacts.state_dict is not None:
            torch.save(artifacts.state_dict, staging / CHECKPOINT_FILE)
        files = {path.name: file_digest(path, "sha256") for path in sorted(staging.iterdir())}
        record = dataclasses.replace(artifacts.record, files=files)
        record.write(staging / RECORD_FILE)
        final = results.publish(staging, record)
    except BaseException:
        discard(staging)
        raise
    log.info("run %s written to %s", record.run_id, final)
    return final
