"""Task files: ``tasks/<name>.yaml`` validated into Tasks, and the TASKS registry of them."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import Any

import yaml

from benchmark.data.sources import SOURCES
from benchmark.errors import ConfigError
from benchmark.external.spec import check_external_sets
from benchmark.metrics.registry import METRICS, PROBLEMS
from benchmark.metrics.thresholds import RULES
from benchmark.registry import Registry
from benchmark.stats.intervals import METHODS as CI_METHODS
from benchmark.tasks.spec import DEFAULT_TARGET_SENSITIVITY, OPTIONAL_FIELDS, REQUIRED_FIELDS, Task
from benchmark.yaml_safe import load_bounded

TASKS_DIR_ENV = "CXRBENCH_TASKS_DIR"
_TUPLE_FIELDS = ("labels", "metrics", "class_names", "metadata")


def tasks_dir() -> Path:
    """The folder of task files: ``$CXRBENCH_TASKS_DIR`` or the installed ``tasks`` package."""
    override = os.environ.get(TASKS_DIR_ENV)
    if override:
        return Path(override)
    return Path(str(importlib.resources.files("tasks")))


def task_from_dict(spec: dict[str, Any], origin: str) -> Task:
    """Validate a task spec; every problem names ``origin`` and the offending key."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{origin}: a task file must be a mapping")
    missing = sorted(REQUIRED_FIELDS - set(spec))
    unknown = sorted(set(spec) - REQUIRED_FIELDS - OPTIONAL_FIELDS)
    if missing or unknown:
        raise ConfigError(f"{origin}: missing keys {missing}, unknown keys {unknown}")
    if spec["problem"] not in PROBLEMS:
        raise ConfigError(f"{origin}: problem must be one of {PROBLEMS}, got {spec['problem']!r}")
    if spec["source"].get("kind") not in SOURCES:
        raise ConfigError(f"{origin}: source.kind must be one of {SOURCES.names()}")
    if spec["primary_metric"] not in spec["metrics"]:
        raise ConfigError(f"{origin}: primary_metric {spec['primary_metric']!r} is not in metrics")
    if spec["problem"] == "binary" and len(spec["labels"]) != 1:
        raise ConfigError(f"{origin}: a binary task has exactly one label (the positive class)")
    for metric in spec["metrics"]:
        if spec["problem"] not in METRICS.get(metric).problems:
            raise ConfigError(f"{origin}: metric {metric!r} does not apply to a {spec['problem']} task")
    method = (spec.get("bootstrap") or {}).get("method", "percentile")
    if method not in CI_METHODS:
        raise ConfigError(f"{origin}: bootstrap.method must be one of {CI_METHODS}, got {method!r}")
    threshold = spec.get("threshold", 0.5)
    if isinstance(threshold, str) and threshold not in RULES:
        raise ConfigError(f"{origin}: threshold must be a number or one of {RULES}, got {threshold!r}")
    target = spec.get("target_sensitivity", DEFAULT_TARGET_SENSITIVITY)
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 1:
        raise ConfigError(f"{origin}: target_sensitivity must be a number in (0, 1], got {target!r}")
    if target != DEFAULT_TARGET_SENSITIVITY and threshold != "target_sensitivity":
        # it would change the task hash while nothing reads it
        raise ConfigError(f"{origin}: target_sensitivity {target} is read only by `threshold: target_sensitivity`")
    for subset, names in (spec.get("macro_subsets") or {}).items():
        if unknown := sorted(set(names) - set(spec["labels"])):
            raise ConfigError(f"{origin}: macro_subsets.{subset} names unknown labels {unknown}")
    if spec.get("external") is not None:
        check_external_sets(spec["external"], spec["problem"], spec["labels"], spec.get("class_names", ()), origin)
    values = dict(spec)
    for key in _TUPLE_FIELDS:
        if key in values:
            values[key] = tuple(values[key])
    if "target_sensitivity" in values:
        values["target_sensitivity"] = float(values["target_sensitivity"])
    if values.get("macro_subsets"):
        values["macro_subsets"] = {k: tuple(v) for k, v in values["macro_subsets"].items()}
    return Task(**values)


def load_task_file(path: Path) -> Task:
    try:
        spec = load_bounded(path.read_text())  # aliases refused: no expansion bombs
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    task = task_from_dict(spec, str(path))
    if task.name != path.stem:
        raise ConfigError(f"{path}: name {task.name!r} must match the file name {path.stem!r}")
    return task


def _register_task_files() -> None:
    for path in sorted(tasks_dir().glob("*.yaml")):
        TASKS.register(path.stem, load_task_file(path))


TASKS: Registry[Task] = Registry("task", populate=_register_task_files)


def registered_subsets(task_name: str, task_hash: str) -> dict[str, tuple[str, ...]] | None:
    """The named label subsets (for ``auroc[<subset>]``) of the registered task with this name and hash.

    Records do not hold a task's subsets; the task file does. None when no task file has the name or
    the file changed since (another hash): its subsets may not be the ones the runs were scored with.
    """
    task = TASKS.get(task_name) if task_name in TASKS else None
    return task.macro_subsets if task is not None and task.task_hash == task_hash else None


def task_of_run(run_id: str, task_name: str, task_hash: str, task: Task | None = None) -> Task:
    """``task`` (default: the registered task named ``task_name``) for re-scoring run ``run_id``; refused with a
    ``ConfigError`` when its hash is not ``task_hash``, the hash the run was made with."""
    task = task or TASKS.get(task_name)
    if task.task_hash != task_hash:
        raise ConfigError(
            f"run {run_id} was made with task {task_name} of hash {task_hash[:12]}, but the task file here hashes "
            f"to {task.task_hash[:12]}: use the task version the run used"
        )
    return task
