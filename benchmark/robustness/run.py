"""``benchmark robustness RUN_ID``: a run's test metrics under graded corruptions, cached beside the run.

The model is rebuilt from the record and loaded with the run's ``best_model.pt`` (its sha256 checked
against the record's ``files``), as ``benchmark saliency`` does. The test images come from the prepared
cache at the model's input size, as uint8, exactly as training's inference reads them; each corruption
is applied to them there (``benchmark.robustness.corruptions``), and the corrupted split goes through
the same inference (``benchmark.training.inference.predict``: the recipe's normalisation, then the
model). Every (corruption, severity) is scored with the task's primary metric, and accuracy where the
task has it, each with the task's patient-cluster bootstrap CI (same resamples for every condition);
severity 0 is the clean test set, whose values are the run's recorded ones.

The result is a derived file, ``<run_dir>/derived/robustness/<name>.json`` (``benchmark.results.derived``),
whose ``inputs`` hold the weights' sha256 and every setting: a second call with the same settings reads
it back, anything else recomputes it. The run's record is never touched; the shipped reference board's
runs are read-only and refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.data.download import file_digest
from benchmark.errors import ConfigError, ReadOnlyStoreError, RunNotFoundError
from benchmark.reference.board import reference_roots, shipped_results
from benchmark.results.derived import read_derived, write_derived
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import CHECKPOINT_FILE, DEFAULT_RESULTS, ResultsDir
from benchmark.robustness.corruptions import (
    CORRUPTIONS,
    CORRUPTIONS_VERSION,
    SEVERITIES,
    check_corruptions,
    levels_table,
)
from benchmark.robustness.scoring import CLEAN, metric_rows, summary, with_drops
from benchmark.tasks import Task
from benchmark.tasks.registry import task_of_run

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

KIND = "robustness"
RESULT_PREFIX = "corruptions"


class ReferenceRunError(ReadOnlyStoreError):
    """A run of the shipped reference board (read-only, without weights): it gets no derived results."""


class NoWeightsError(RunNotFoundError):
    """A run without a model to corrupt the inputs of: no best_model.pt, or a prediction submission."""


@dataclass(frozen=True)
class RobustnessRequest:
    run_id: str
    results: Path = DEFAULT_RESULTS
    data_root: str | None = None  # default: the data root the run recorded
    corruptions: tuple[str, ...] = tuple(CORRUPTIONS)
    severities: tuple[int, ...] = SEVERITIES
    seed: int = 0  # of the random corruptions (noise, rotation sign)
    n_resamples: int | None = None  # bootstrap resamples (default: the task's)
    force: bool = False
    task: Task | None = None  # default: the registered task the record names (its hash must match)
    device: torch.device | None = None


@dataclass(frozen=True)
class RobustnessResult:
    path: Path  # the derived file
    payload: dict[str, Any]  # as read back: inputs, created_at, result
    reused: bool  # read from the cache, not computed


def _read_only_roots() -> list[Path]:
    return [root.resolve() for root in (shipped_results(), *reference_roots())]


def find_writable_run(results: Path, run_id: str) -> Path:
    """The run's folder under ``results``; a run of the shipped (or any configured) reference board is refused."""
    root = Path(results).resolve()
    read_only = _read_only_roots()
    fix = (
        "copy the run folder, with its best_model.pt, into your results folder, or re-run it (`benchmark reproduce "
        "RUN_ID --results DIR`), and run `benchmark robustness` on that copy"
    )
    if any(root == r or r in root.parents for r in read_only):
        raise ReferenceRunError(f"{results} is the reference board's folder, which is read-only: {fix}")
    try:
        return ResultsDir(root).find(run_id)
    except RunNotFoundError:
        for reference in read_only:
            if not reference.is_dir():
                continue
            try:
                found = ResultsDir(reference, read_only=True).find(run_id)
            except RunNotFoundError:
                continue
            raise ReferenceRunError(
                f"run {found.name} is a run of the reference board in {reference}, which is read-only and gets no "
                f"derived results (its runs ship without weights): {fix}"
            ) from None
        raise


def canonical(request: RobustnessRequest) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The requested corruptions (in the table's order) and severities (ascending), checked, deduplicated."""
    check_corruptions(list(request.corruptions), list(request.severities))
    names = tuple(n for n in CORRUPTIONS if n in request.corruptions)
    return names, tuple(sorted(set(request.severities)))


def result_name(names: tuple[str, ...], severities: tuple[int, ...], seed: int) -> str:
    """``corruptions-s<seed>`` for every corruption at every severity, else with a digest of the choice."""
    if names == tuple(CORRUPTIONS) and severities == SEVERITIES:
        return f"{RESULT_PREFIX}-s{seed}"
    digest = hashlib.sha256(json.dumps([names, severities]).encode()).hexdigest()[:8]
    return f"{RESULT_PREFIX}-s{seed}-{digest}"


def scored_metrics(task: Task) -> tuple[str, ...]:
    """The primary metric, and accuracy where the task reports it."""
    extra = ("accuracy",) if "accuracy" in task.metrics and task.primary_metric != "accuracy" else ()
    return (task.primary_metric, *extra)


def _thresholds(record: RunRecord, task: Task) -> list[float]:
    recorded = record.thresholds_list(task.labels)
    if recorded is not None:
        return recorded
    if task.tunes_threshold:
        raise ConfigError(f"run {record.run_id} records no thresholds, but task {task.name} tunes them on validation")
    return [float(task.threshold)] * len(task.labels)


def _weights_sha256(run_dir: Path, record: RunRecord) -> str:
    if record.model.input is None:
        raise NoWeightsError(
            f"run {record.run_id} is a prediction submission: it has no model whose inputs could be corrupted; "
            "robustness needs a run trained here (`benchmark run`) or a submission with weights"
        )
    if not (run_dir / CHECKPOINT_FILE).is_file():
        raise NoWeightsError(
            f"run {run_dir.name} has no {CHECKPOINT_FILE} in {run_dir}: restore it, or re-run the run "
            f"(`benchmark reproduce {record.run_id}`)"
        )
    recorded = (record.files or {}).get(CHECKPOINT_FILE)
    return recorded or file_digest(run_dir / CHECKPOINT_FILE, "sha256")


def run_robustness(request: RobustnessRequest) -> RobustnessResult:
    """Compute (or reuse) the robustness result of a run; nothing is written when anything is refused."""
    names, severities = canonical(request)
    run_dir = find_writable_run(Path(request.results), request.run_id)
    record = RunRecord.load(run_dir / RECORD_FILE)
    weights = _weights_sha256(run_dir, record)
    task = task_of_run(record.run_id, record.task.name, record.task.hash, request.task)
    metrics = scored_metrics(task)
    thresholds = _thresholds(record, task)
    bootstrap = {
        "n_resamples": request.n_resamples if request.n_resamples is not None else task.n_bootstrap,
        "seed": task.bootstrap_seed,
        "method": task.bootstrap_method,
    }
    if bootstrap["n_resamples"] < 1:
        raise ConfigError(f"--n-resamples must be at least 1, got {bootstrap['n_resamples']}")
    settings = {
        "corruptions": list(names),
        "severities": list(severities),
        "seed": request.seed,
        "levels": {n: levels_table()[n] for n in names},
        "corruptions_version": CORRUPTIONS_VERSION,
        "metrics": list(metrics),
        "primary_metric": task.primary_metric,
        "thresholds": dict(zip(task.labels, thresholds, strict=True)),
        "bootstrap": bootstrap,
        "image_size": record.model.input.image_size,  # type: ignore[union-attr]  # checked by _weights_sha256
    }
    inputs = {"weights_sha256": weights, "record_run_id": record.run_id, "task_hash": task.task_hash}
    inputs["settings"] = settings
    name = result_name(names, severities, request.seed)
    existing = read_derived(run_dir, KIND).get(name)
    if not request.force and existing is not None and existing.get("inputs") == json.loads(json.dumps(inputs)):
        log.info("robustness result %s of %s is up to date (--force recomputes it)", name, run_dir.name)
        return RobustnessResult(run_dir / "derived" / KIND / f"{name}.json", existing, reused=True)

    result = _compute(request, run_dir, record, task, settings, names, severities)
    path = write_derived(run_dir, KIND, name, result, inputs)
    log.info("robustness of %s under %d corruptions written to %s", run_dir.name, len(names), path)
    return RobustnessResult(path, read_derived(run_dir, KIND)[name], reused=False)


def _compute(
    request: RobustnessRequest,
    run_dir: Path,
    record: RunRecord,
    task: Task,
    settings: dict[str, Any],
    names: tuple[str, ...],
    severities: tuple[int, ...],
) -> dict[str, Any]:
    # Imported here: model loading, inference and MONAI take seconds to import, a reused result needs none.
    import numpy as np

    from benchmark.data.prepared import PreparedSplit
    from benchmark.models.io import default_device
    from benchmark.robustness.corruptions import corrupt
    from benchmark.saliency.run import load_run_model
    from benchmark.tasks.evaluate import evaluate_predictions
    from benchmark.training.inference import predict

    device = request.device or default_device()
    net, recipe, _ = load_run_model(run_dir, record, task)  # weights read through the record's sha256
    net = net.to(device)
    data = task.load_data(request.data_root or record.task.data_root)
    skip_corrupt = bool(record.task.split_report.skipped_unreadable)
    test = data.prepare("test", settings["image_size"], skip_corrupt)
    if len(test) != record.n_test:
        raise ConfigError(
            f"the test split here has {len(test)} images, run {record.run_id} was scored on {record.n_test}: "
            "pass --data-root the data the run used"
        )
    clean = np.ascontiguousarray(test.images[test.rows])  # (N, H, W) uint8, as the model's inference reads them

    def score(images: np.ndarray) -> dict[str, Any]:
        split = PreparedSplit(test.image_ids, test.patient_ids, images, np.arange(len(images)), test.targets)
        predictions = predict(net, split, recipe, task.problem, task.labels, device)
        evaluation = evaluate_predictions(
            predictions,
            task.problem,
            task.labels,
            tuple(settings["metrics"]),
            list(settings["thresholds"].values()),
            settings["bootstrap"],
            task.macro_subsets,
        )
        return evaluation

    wanted = set(settings["metrics"])  # evaluate also returns per-label values (auroc/<label>): not kept

    def kept(metrics: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in metrics.items() if k in wanted}

    first = score(clean)
    rows = metric_rows(CLEAN, 0, kept(first["metrics"]))
    for corruption in names:
        for severity in severities:
            images = corrupt(clean, corruption, severity, request.seed)
            rows += metric_rows(corruption, severity, kept(score(images)["metrics"]))
        log.info("robustness of %s: %s scored at severities %s", run_dir.name, corruption, list(severities))
    rows = with_drops(rows)
    return {
        "rows": rows,
        "settings": {
            **settings,
            "task": task.name,
            "model": record.model.name,
            "run_id": record.run_id,
            "n_images": len(test),
            "n_patients": len(set(test.patient_ids)),
            "unit": first["bootstrap"]["unit"],
            "level": first["bootstrap"]["level"],
            "device": str(device),
        },
        "summary": summary(rows, task.primary_metric),
    }
