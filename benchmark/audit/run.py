"""``benchmark audit``: train a model with the lung field hidden and on the lung field only, and score both
beside the normal run.

For each seed, three runs of the model's own recipe: the normal run (reused from the results folder or
the reference board when one with the same run key exists, else trained into the results folder like
``benchmark run``), and one run per masked condition (``benchmark.audit.task.MaskedTask``), published in
their own folder ``<results>/audits/runs`` and with their own task hash, so they never enter the task's
standings. A masked run already there (same run key) is reused, so an interrupted audit resumes.

Scoring, as the standings score an entry: each condition's predictions averaged over its seeds, scored by
``Task.evaluate`` (the task's metrics with its patient-cluster bootstrap CIs); each masked condition
tested against the full image with the paired patient-cluster bootstrap test of ``benchmark.stats.paired``
on the primary metric (the test ``benchmark export`` uses by default). The report is written to
``<results>/audits/<task>-<model>.json``.

The flag (``flag_rule``): the task is flagged when the lung-hidden model's primary metric has its 95% CI
lower bound above chance + ``margin`` (default 0.10), chance being what the class-prior predictor of
nothing scores on the test truth (``benchmark.metrics.trivial``: 0.5 for AUROC). Such a model tells the
classes apart from the image border alone (markers, devices, collimation, the source hospital), so
part of what the full model scores may be a shortcut rather than lung findings.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.audit.mask import CONDITIONS, FULL, LUNG_HIDDEN, LUNG_ONLY, MASKED_CONDITIONS, LungMask
from benchmark.audit.task import MaskedTask
from benchmark.errors import BenchmarkError
from benchmark.metrics.predictions import prediction_arrays
from benchmark.metrics.trivial import trivial_table
from benchmark.reference.board import with_reference
from benchmark.results.index import RunFilter
from benchmark.results.record import RunRecord
from benchmark.results.store import DEFAULT_RESULTS, ResultsDir, write_atomically
from benchmark.stats.compare import seed_averaged
from benchmark.stats.paired import align_predictions, paired_bootstrap_test
from benchmark.tasks.spec import Task

log = logging.getLogger(__name__)

AUDITS_DIR = "audits"  # <results>/audits/<task>-<model>.json, and the masked runs in <results>/audits/runs
RUNS_DIR = "runs"
DEFAULT_MARGIN = 0.10
REPORT_VERSION = 1


class AuditError(BenchmarkError):
    """An audit that cannot be scored (e.g. runs of one condition scored on other images)."""


@dataclass
class AuditRequest:
    task: str | Task  # a registered task's name, or the Task itself
    model: str
    seeds: Sequence[int] = (0, 1, 2)
    data_root: str | None = None
    results: Path = DEFAULT_RESULTS
    overrides: dict[str, Any] = field(default_factory=dict)
    mask: LungMask = field(default_factory=LungMask)
    margin: float = DEFAULT_MARGIN
    reference: bool = True  # reuse normal runs of the shipped reference board too
    skip_corrupt: bool = False


def audits_dir(results: Path) -> Path:
    return Path(results) / AUDITS_DIR


def masked_runs_dir(results: Path) -> Path:
    """The results folder of the masked runs: apart from the task's own runs."""
    return audits_dir(results) / RUNS_DIR


def report_path(results: Path, task: str, model: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", f"{task}-{model}")
    return audits_dir(results) / f"{safe}.json"


def flag_rule(margin: float) -> str:
    return (
        f"flagged when the lung-hidden model's primary-metric 95% CI lower bound exceeds chance + {margin:g} "
        "(chance: the class-prior predictor of nothing on the test truth, 0.5 for AUROC)"
    )


def flag(lung_hidden_ci_low: float, chance: float, margin: float = DEFAULT_MARGIN) -> bool:
    """The flag rule: the lung-hidden model is far above chance when even its CI's lower bound is."""
    return bool(np.isfinite(lung_hidden_ci_low) and lung_hidden_ci_low > chance + margin)


# ---- the runs ------------------------------------------------------------------------------------------------


def _first_run(store: Any, key: str) -> RunRecord | None:
    """The oldest published run with run key ``key`` that is not a reproduction, or None."""
    for row in store.query(RunFilter(run_key=key)):
        record = store.load_record(row.run_id)
        if record.reproduces is None:
            return record
    return None


def _run(task: Task, request: AuditRequest, seed: int, results: Path, reuse_from: Any) -> tuple[RunRecord, Any]:
    """The run of ``task`` (a plain or masked task) at ``seed``: reused when ``reuse_from`` has one with its
    run key, else trained and published into ``results``. Returns its record and the store holding it."""
    from benchmark.training.runner import RunRequest, request_key, run_benchmark

    run_request = RunRequest(
        task=task,
        model=request.model,
        data_root=request.data_root,
        seed=seed,
        overrides=dict(request.overrides),
        results=results,
        skip_corrupt=request.skip_corrupt,
    )
    key = request_key(run_request)
    found = _first_run(reuse_from, key)
    if found is not None:
        log.info("reusing run %s (run key %s)", found.run_id, key)
        return found, reuse_from
    log.info("training %s seed %d (run key %s) into %s", _label(task), seed, key, results)
    run_dir = run_benchmark(run_request)
    store = ResultsDir(results)
    return store.load_record(run_dir.name), store


def _label(task: Task) -> str:
    return f"{task.name} [{task.condition}]" if isinstance(task, MaskedTask) and task.mask else task.name


def audit_runs(request: AuditRequest, task: Task) -> dict[str, list[tuple[RunRecord, pd.DataFrame]]]:
    """condition -> [(record, test predictions)] over the seeds, training what is missing."""
    results = Path(request.results)
    own = with_reference(results, request.reference)
    masked_store = masked_runs_dir(results)
    runs: dict[str, list[tuple[RunRecord, pd.DataFrame]]] = {c: [] for c in CONDITIONS}
    for seed in request.seeds:
        record, store = _run(task, request, seed, results, own)
        runs[FULL].append((record, store.read_predictions(record)))
        for condition in MASKED_CONDITIONS:
            masked = MaskedTask.of(task, request.mask, condition)
            record, store = _run(masked, request, seed, masked_store, ResultsDir(masked_store))
            runs[condition].append((record, store.read_predictions(record)))
    return runs


# ---- scoring --------------------------------------------------------------------------------------------------


def _averaged(members: list[tuple[RunRecord, pd.DataFrame]], task: Task) -> tuple[pd.DataFrame, list[float] | None]:
    """The condition's seed-averaged predictions and thresholds (mean over seeds; None for a fixed threshold)."""
    frames = align_predictions([frame for _, frame in members], [record.run_id for record, _ in members])
    averaged = seed_averaged(frames)
    if not task.tunes_threshold:
        return averaged, None
    thresholds = [record.thresholds_list(task.labels) for record, _ in members]
    return averaged, list(np.mean(thresholds, axis=0))


def chance_level(task: Task, predictions: pd.DataFrame) -> float:
    """The primary metric of the class-prior predictor of nothing on the test truth."""
    y_true, _ = prediction_arrays(predictions, task.labels)
    table = trivial_table(task.problem, task.labels, y_true, task.primary_metric, task.macro_subsets)
    return float(table.loc[table["predictor"] == "class prior", "value"].iloc[0])


def score_audit(
    task: Task,
    runs: dict[str, list[tuple[RunRecord, pd.DataFrame]]],
    mask: LungMask,
    margin: float = DEFAULT_MARGIN,
    model: str | None = None,
) -> dict[str, Any]:
    """The audit report (payload convention: rows, settings, summary) from the runs of each condition."""
    metric = task.primary_metric
    averaged = {c: _averaged(runs[c], task) for c in CONDITIONS}
    full_frame, full_thresholds = averaged[FULL]
    rows = []
    for condition in CONDITIONS:
        frame, thresholds = averaged[condition]
        evaluation = task.evaluate(frame, thresholds)
        scored = evaluation["metrics"][metric]
        row = {
            "condition": condition,
            "metric": metric,
            "value": float(scored["value"]),
            "ci_low": float(scored["ci_low"]),
            "ci_high": float(scored["ci_high"]),
            "n_images": len(frame),
            "n_patients": int(evaluation["bootstrap"]["n_units"]),
            "n_seeds": len(runs[condition]),
            "task_hash": runs[condition][0][0].task.hash,
            "diff_vs_full": 0.0 if condition == FULL else np.nan,
            "diff_ci_low": np.nan,
            "diff_ci_high": np.nan,
            "p_vs_full": np.nan,
        }
        if condition != FULL:
            try:
                test = paired_bootstrap_test(
                    frame,
                    full_frame,
                    metric,
                    n_resamples=task.n_bootstrap,
                    seed=task.bootstrap_seed,
                    problem=task.problem,
                    thresholds_a=thresholds,
                    thresholds_b=full_thresholds,
                    subsets=task.macro_subsets,
                )
            except BenchmarkError as exc:
                raise AuditError(
                    f"the {condition} runs of task {task.name} cannot be compared with its normal runs: {exc}"
                ) from exc
            row.update(diff_vs_full=test.diff, diff_ci_low=test.ci_low, diff_ci_high=test.ci_high)
            row["p_vs_full"] = test.p_value
        rows.append(row)
    by = {row["condition"]: row for row in rows}
    chance = chance_level(task, full_frame)
    hidden = by[LUNG_HIDDEN]
    gain = by[FULL]["value"] - chance
    flagged = flag(hidden["ci_low"], chance, margin)
    size = runs[FULL][0][0].model.input.image_size if runs[FULL][0][0].model.input else task.native_image_size
    return {
        "report_version": REPORT_VERSION,
        "task": task.name,
        "task_hash": task.task_hash,
        "model": model or runs[FULL][0][0].model.name,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "rows": rows,
        "settings": {
            "metric": metric,
            "seeds": [record.seed for record, _ in runs[FULL]],
            "runs": {c: [record.run_id for record, _ in runs[c]] for c in CONDITIONS},
            "masked_runs_folder": f"{AUDITS_DIR}/{RUNS_DIR}",
            "mask": mask.describe(int(size)),
            "scored_on": "each condition's predictions averaged over its seeds (as the standings score an entry)",
            "ci": f"95% patient-cluster bootstrap, Task.evaluate ({task.n_bootstrap} resamples, seed "
            f"{task.bootstrap_seed}, {task.bootstrap_method})",
            "test": "paired patient-cluster bootstrap test (benchmark.stats.paired), each masked condition vs full",
            "n_resamples": task.n_bootstrap,
            "bootstrap_seed": task.bootstrap_seed,
            "chance": chance,
            "margin": margin,
            "flag_rule": flag_rule(margin),
        },
        "summary": {
            "flagged": flagged,
            "chance": chance,
            "bar": chance + margin,
            "full": by[FULL]["value"],
            "lung_hidden": hidden["value"],
            "lung_hidden_ci_low": hidden["ci_low"],
            "lung_hidden_ci_high": hidden["ci_high"],
            "lung_only": by[LUNG_ONLY]["value"],
            # share of the full model's gain over chance that the border alone keeps
            "hidden_share_of_gain": (hidden["value"] - chance) / gain if gain > 0 else np.nan,
        },
    }


def write_report(results: Path, report: dict[str, Any]) -> Path:
    path = report_path(results, report["task"], report["model"])
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(report), indent=2, default=_json_default, allow_nan=False) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))
    return path


def _finite(value: Any) -> Any:
    """``value`` with every NaN float as None (JSON null): the report stays standard JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def run_audit(request: AuditRequest) -> tuple[dict[str, Any], Path]:
    """Train (or reuse) the runs of every condition and seed, score them, write the report."""
    from benchmark.models.registry import MODELS
    from benchmark.tasks import TASKS

    task = TASKS.get(request.task) if isinstance(request.task, str) else request.task
    spec = MODELS.get(request.model)
    recipe = spec.recipe.with_overrides(request.overrides)
    request.mask.check(recipe.image_size or task.native_image_size)  # bad bounds fail before anything trains
    if not request.seeds:
        raise AuditError("an audit needs at least one seed (--seeds 0 1 2)")
    runs = audit_runs(request, task)
    report = score_audit(task, runs, request.mask, request.margin, spec.name)
    return report, write_report(Path(request.results), report)
