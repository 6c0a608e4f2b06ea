"""Task files: ``tasks/<name>.yaml`` validated into Tasks, and the TASKS registry of them."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import Any

import yaml

from benchmark.data.sources import SOURCES
from benchmark.errors import ConfigError
from benchmark.metrics.registry import METRICS, PROBLEMS
from benchmark.metrics.thresholds import RULES
from benchmark.registry import Registry
from benchmark.stats.intervals import METHODS as CI_METHODS
from benchmark.tasks.spec import OPTIONAL_FIELDS, REQUIRED_FIELDS, Task

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
    for subset, names in (spec.get("macro_subsets") or {}).items():
        if unknown := sorted(set(names) - set(spec["labels"])):
            raise ConfigError(f"{origin}: macro_subsets.{subset} names unknown labels {unknown}")
    values = dict(spec)
    for key in _TUPLE_FIELDS:
        if key in values:
            values[key] = tuple(values[key])
    if values.get("macro_subsets"):
        values["macro_subsets"] = {k: tuple(v) for k, v in values["macro_subsets"].items()}
    return Task(**values)


def load_task_file(path: Path) -> Task:
    try:
        spec = yaml.safe_load(path.read_text())
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
