"""``benchmark reproduce``: re-run a recorded run from its record and compare every metric.

The request is rebuilt from the record (task, model or submission, overrides, seed, initial
weights). What no longer matches the record (task hash, model code hash, recipe, weights hash
and training code hash) is listed before anything runs; the caller refuses to run unless forced. A prediction
submission has no model to run: its stored scores are scored again against the task's truth.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field
from pathlib import Path

import torch

from benchmark.data.download import file_digest
from benchmark.errors import ReproductionError
from benchmark.models.registry import MODELS, ModelSpec
from benchmark.models.source import PROJECT_ROOT, SourceRoot, hash_sources, import_closure
from benchmark.results.record import Evaluation, MetricCI, PluginSubmission, PredictionsSubmission, RunRecord
from benchmark.results.store import ResultsDir, predictions_in, val_predictions_in
from benchmark.submission.isolation import PluginRun
from benchmark.submission.metadata import load_submission
from benchmark.tasks import TASKS, Task
from benchmark.training.code import training_code_hash, training_digests
from benchmark.training.runner import RunRequest

IGNORED_RECIPE_FIELDS = ("pretrained_weights", "notes")  # a weights path may move; its sha256 is compared instead


@dataclass
class Plan:
    """What a reproduction will do, and every way its inputs differ from the record."""

    record: RunRecord
    task: Task
    changes: list[str] = field(default_factory=list)
    request: RunRequest | None = None  # a registered model's run, re-run in this process
    plugin: PluginRun | None = None  # a plugin submission's run, re-run in its child process
    run_dir: Path | None = None  # (neither request nor plugin: a prediction submission, re-scored)


def plan(
    results: ResultsDir,
    run_id: str,
    data_root: str | None = None,
    submission_folder: Path | None = None,
    device: torch.device | None = None,
) -> Plan:
    """The reproduction of ``run_id`` and what changed since it ran. Nothing is run or imported here:
    submitted code is compared with the record by its files' hashes."""
    run_dir = results.find(run_id)
    record = results.load_record(run_id)
    task = TASKS.get(record.task.name)
    result = Plan(record, task, run_dir=run_dir)
    if task.task_hash != record.task.hash:
        result.changes.append(
            f"task {task.name}: hash recorded {record.task.hash}, now {task.task_hash} (its task file changed: "
            "split, labels, metrics, threshold or bootstrap)"
        )
    submission = record.submission
    if isinstance(submission, PredictionsSubmission):
        return result
    if submission is not None:
        return _plugin_plan(result, submission, submission_folder, data_root, device, results.root)
    spec = _model(record, result.changes)
    if spec is None:
        return result
    overrides = dict(record.overrides)
    recipe = json.loads(json.dumps(spec.recipe.with_overrides(overrides).to_dict()))  # tuples as JSON lists
    recorded_recipe = record.recipe or {}
    differing = sorted(
        k
        for k in set(recipe) | set(recorded_recipe)
        if k not in IGNORED_RECIPE_FIELDS and recipe.get(k) != recorded_recipe.get(k)
    )
    if differing:
        details = ", ".join(f"{k}: {recorded_recipe.get(k)!r} -> {recipe.get(k)!r}" for k in differing)
        result.changes.append(f"recipe of {spec.name} differs from the record: {details}")
    _check_weights(record, recipe.get("pretrained_weights"), result.changes)
    _check_training_code(record, result.changes)
    result.request = RunRequest(
        task=task,
        model=spec,
        data_root=data_root or record.task.data_root,
        seed=record.seed,
        overrides=overrides,
        results=results.root,
        device=device,
        skip_corrupt=bool(record.task.split_report.skipped_unreadable),
        origin=record.origin,
        extra={"reproduces": record.run_id},
    )
    return result


def _plugin_plan(
    result: Plan,
    submission: PluginSubmission,
    folder: Path | None,
    data_root: str | None,
    device: torch.device | None,
    results_root: Path,
) -> Plan:
    """A plugin's run is re-run as ``benchmark submit`` runs it: in a child process, its scores validated
    and scored here. Its code is compared with the record by file hashes only (nothing is imported): the
    model file, the modules it imports (its source hash, which covers its RECIPE) and the training code."""
    record = result.record
    folder = Path(folder or submission.folder)
    meta = load_submission(folder)  # validates metadata and weights; runs no submitted code
    if meta.model.file is not None:
        current = file_digest(meta.model.file, "sha256")
        if current != submission.model_sha256:
            result.changes.append(
                f"submission {meta.name}: {meta.model.file} has sha256 {current}, the record "
                f"{submission.model_sha256}; the model code changed since the run"
            )
        source_hash = hash_sources(import_closure(meta.model.file, (PROJECT_ROOT, SourceRoot(folder))))
        if source_hash != record.model.source_hash:
            result.changes.append(
                f"submission model {record.model.name}: source hash recorded {record.model.source_hash}, now "
                f"{source_hash} (model.py or a module of its folder it imports changed)"
            )
    _check_training_code(record, result.changes)
    result.plugin = PluginRun(
        folder=folder,
        task=result.task,
        seed=record.seed,
        overrides=dict(record.overrides),
        data_root=data_root or record.task.data_root,
        results=results_root,
        device=str(device) if device else None,
        reproduces=record.run_id,
    )
    return result


def rescore(result: Plan, data_root: str | None = None) -> Evaluation:
    """A prediction submission's stored scores scored again; returns the evaluation (nothing written)."""
    from benchmark.submission.scoring import score, scores_of

    assert result.run_dir is not None
    task, record = result.task, result.record
    data = task.load_data(data_root or record.task.data_root)
    test = scores_of(predictions_in(result.run_dir, record), task)  # checked against the record's sha256
    val_frame = val_predictions_in(result.run_dir, record)
    val = scores_of(val_frame, task) if val_frame is not None else None
    return Evaluation.from_dict(score(task, data, test, val).evaluation, f"the re-scoring of {result.record.run_id}")


def metric_differences(
    recorded: Mapping[str, MetricCI], reproduced: Mapping[str, MetricCI]
) -> list[tuple[str, float, float, float]]:
    """(metric, recorded value, reproduced value, reproduced - recorded) for every metric of either."""
    rows = []
    for name in sorted(set(recorded) | set(reproduced)):
        old = recorded[name].value if name in recorded else math.nan
        new = reproduced[name].value if name in reproduced else math.nan
        rows.append((name, old, new, new - old))
    return rows


def identical(recorded: Mapping[str, MetricCI], reproduced: Mapping[str, MetricCI]) -> bool:
    """Every metric's value, CI bounds and degenerate count equal (NaN equals NaN)."""
    if set(recorded) != set(reproduced):
        return False
    for name, old in recorded.items():
        for a, b in zip(astuple(old), astuple(reproduced[name]), strict=True):
            if not (a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))):
                return False
    return True


def _model(record: RunRecord, changes: list[str]) -> ModelSpec:
    """The registered model of ``record``; a change of its source since the run is added to ``changes``."""
    recorded_hash = record.model.source_hash
    spec = MODELS.get(record.model.name)
    if spec.source_hash != recorded_hash:
        changes.append(
            f"model {spec.name}: source hash recorded {recorded_hash}, now {spec.source_hash} "
            f"({_changed_sources(record.model.sources, spec.source_digests) or spec.source_file})"
        )
    return spec


def _changed_sources(recorded: dict[str, str] | None, current: dict[str, str]) -> str:
    """The files whose content differs, was added or was removed since the run (empty for an older record)."""
    if recorded is None:
        return ""
    changed = sorted(name for name in recorded.keys() | current.keys() if recorded.get(name) != current.get(name))
    return "changed: " + ", ".join(changed)


def _check_training_code(record: RunRecord, changes: list[str]) -> None:
    """The training code (loop, augmentation, losses, schedules) the run was trained by, if it changed since."""
    recorded = record.training.code_hash if record.training else None
    if recorded is None:  # a record from before the training code was hashed: nothing to compare
        return
    current = training_code_hash()
    if current != recorded:
        assert record.training is not None
        changes.append(
            f"training code: hash recorded {recorded}, now {current} "
            f"({_changed_sources(record.training.code, training_digests())})"
        )


def _check_weights(record: RunRecord, weights_path: str | None, changes: list[str]) -> None:
    recorded = record.weights
    if recorded is None or recorded.init != "pretrained":
        if weights_path:
            changes.append(f"the record starts from random init, the rebuilt recipe from {weights_path}")
        return
    if not weights_path or not Path(weights_path).is_file():
        raise ReproductionError(
            f"run {record.run_id} started from weights {recorded.file} (sha256 {recorded.sha256}), "
            "which are not at that path any more; put the same file back (its sha256 is checked)"
        )
    current = file_digest(Path(weights_path), "sha256")
    if current != recorded.sha256:
        changes.append(f"initial weights {weights_path}: sha256 recorded {recorded.sha256}, now {current}")
