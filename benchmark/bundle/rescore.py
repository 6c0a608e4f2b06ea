"""A bundled run scored again from its prediction files by its task's own evaluation, compared with what
its record holds: every metric's value and CI bounds (within ``RESCORE_TOLERANCE``), the number of
degenerate resamples, the bootstrap settings, thresholds, confusion matrix and number of test images; and,
where the task chooses thresholds on validation, the thresholds chosen again from the validation predictions."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from benchmark.errors import BenchmarkError
from benchmark.metrics.predictions import prediction_arrays
from benchmark.results.record import RunRecord
from benchmark.tasks import Task

# Re-scoring the same prediction file gives the same floats on one machine (the bootstrap is seeded); another
# BLAS or library build may move a value in its last bits. Anything above this is a different result.
RESCORE_TOLERANCE = 1e-9


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= RESCORE_TOLERANCE


def _shown(ci: dict[str, Any]) -> str:
    return f"{ci['value']:.6g} [{ci['ci_low']:.6g}, {ci['ci_high']:.6g}] ({ci['n_degenerate']} degenerate)"


def rescore_differences(
    task: Task, record: RunRecord, predictions: pd.DataFrame, val: pd.DataFrame | None
) -> list[str]:
    """What differs between ``record`` and the task's evaluation of ``predictions`` (empty: none)."""
    if len(predictions) != record.n_test:
        return [f"predictions hold {len(predictions)} rows, the record scored n_test {record.n_test} images"]
    try:
        thresholds = record.thresholds_list(task.labels)
        evaluation = task.evaluate(predictions, thresholds, record.bootstrap.n_resamples, record.bootstrap.seed)
    except (BenchmarkError, KeyError, ValueError) as exc:
        return [f"the predictions cannot be scored by task {task.name} ({type(exc).__name__}: {exc})"]
    problems = []
    scored: dict[str, dict[str, Any]] = evaluation["metrics"]
    recorded = {name: ci.to_dict() for name, ci in record.metrics.items()}
    for name in sorted(set(scored) | set(recorded)):
        if name not in scored or name not in recorded:
            where = "the record only" if name in recorded else "the re-scoring only"
            problems.append(f"metric {name} is in {where}")
            continue
        old, new = recorded[name], scored[name]
        same = all(_close(float(old[k]), float(new[k])) for k in ("value", "ci_low", "ci_high"))
        if not same or int(old["n_degenerate"]) != int(new["n_degenerate"]):
            problems.append(f"metric {name}: recorded {_shown(old)}, re-scored {_shown(new)}")
    if evaluation["bootstrap"] != record.bootstrap.to_dict():
        recorded_settings = record.bootstrap.to_dict()
        problems.append(f"bootstrap settings: recorded {recorded_settings}, re-scored {evaluation['bootstrap']}")
    if "confusion_matrix" in evaluation:
        matrix = record.confusion_matrix.to_dict() if record.confusion_matrix else None
        if matrix != evaluation["confusion_matrix"]:
            problems.append(f"confusion matrix: recorded {matrix}, re-scored {evaluation['confusion_matrix']}")
    if task.tunes_threshold and val is not None:
        chosen = task.tune_thresholds(*prediction_arrays(val, task.labels))
        again = dict(zip(task.labels, chosen, strict=True))
        if not all(_close(float(record.thresholds.get(k, math.nan)), float(v)) for k, v in again.items()):
            problems.append(
                f"thresholds: recorded {record.thresholds}, chosen again from the validation predictions "
                f"({task.threshold_rule}) {again}"
            )
    return problems
