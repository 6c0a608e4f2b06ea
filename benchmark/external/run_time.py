"""The ``external`` record section of a trained run: every declared external set scored with the run's model.

A set whose data is not under the run's data root is skipped with a logged note and listed in the section
(``skipped``), so a run never fails because an external set is not downloaded. Sets declared
``not_external`` are listed with their reason, never scored.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from benchmark.external.data import load_external
from benchmark.external.scoring import score_external
from benchmark.external.spec import ExternalDataMissingError, ExternalSet, external_sets
from benchmark.recipe import Recipe
from benchmark.tasks import Task
from benchmark.training.inference import predict

log = logging.getLogger(__name__)


def score_with_model(
    spec: ExternalSet,
    task: Task,
    model: nn.Module,
    recipe: Recipe,
    device: torch.device,
    size: int,
    data_root: Any,
    thresholds: list[float] | None,
    skip_corrupt: bool = False,
) -> dict[str, Any]:
    """One external set's payload: its images at the model's ``size``, predicted and scored."""
    data = load_external(spec, task.problem, task.labels, task.class_names, data_root)
    split = data.prepare(size, skip_corrupt)
    predictions = predict(model, split, recipe, task.problem, task.labels, device)
    return score_external(data, predictions, task, thresholds)


def external_section(context: Any) -> dict[str, Any] | None:
    """``{set name: payload}`` for the run of ``context`` (a RunContext); None when the task declares none."""
    task = context.task
    declared = external_sets(task)
    if not declared:
        return None
    section: dict[str, Any] = {}
    for name, spec in declared.items():
        if spec.not_external is not None:
            section[name] = {"rows": [], "settings": {"spec_hash": spec.spec_hash}, "not_external": spec.not_external}
            continue
        try:
            section[name] = score_with_model(
                spec,
                task,
                context.model,
                context.recipe,
                context.device,
                context.size,
                context.data.root,
                context.thresholds,
                context.skip_corrupt,
            )
        except ExternalDataMissingError as exc:
            log.warning("external set %s of task %s not scored: %s", name, task.name, exc)
            section[name] = {"rows": [], "settings": {"spec_hash": spec.spec_hash}, "skipped": str(exc)}
        else:
            summary = section[name]["summary"]
            log.info("external set %s: %s %.4f", name, summary["metric"], summary["value"] or float("nan"))
    return section
