"""Tasks as data: ``tasks/<name>.yaml`` -> a validated, hashable Task that owns its evaluation."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from benchmark.data.cache import open_or_prepare
from benchmark.data.root import resolve_data_root
from benchmark.data.source import SourceIndex
from benchmark.data.sources import SOURCES
from benchmark.data.split import SplitReport, apply_split_rule, patient_counts, split_counts, split_sha256
from benchmark.errors import ConfigError, SplitMismatchError
from benchmark.metrics import METRICS, PROBLEMS, EvalInputs, confusion_matrix
from benchmark.predictions import prediction_arrays
from benchmark.registry import Registry
from benchmark.stats.bootstrap import bootstrap_metrics
from benchmark.stats.intervals import METHODS as CI_METHODS
from benchmark.stats.resample import Clusters, draw_resamples
from benchmark.thresholds import RULES

if TYPE_CHECKING:  # torch: imported only where a split is prepared, so reading results stays light
    from benchmark.data.prepared import PreparedSplit

TASKS_DIR_ENV = "CXRBENCH_TASKS_DIR"
_REQUIRED = {
    "name",
    "version",
    "description",
    "problem",
    "labels",
    "source",
    "native_image_size",
    "split",
    "split_sha256",
    "expected_counts",
    "metrics",
    "primary_metric",
}
_OPTIONAL = {
    "class_names",
    "bootstrap",
    "citation",
    "bibtex",
    "threshold",
    "metadata",
    "macro_subsets",
    "expected_patients",
}
_PROSE = {"description", "citation", "bibtex"}  # editing these does not change what a result means


@dataclass(frozen=True)
class Task:
    name: str
    version: int
    description: str
    problem: str
    labels: tuple[str, ...]
    source: dict[str, Any]
    native_image_size: int
    split: dict[str, Any]
    split_sha256: str
    expected_counts: dict[str, int]
    metrics: tuple[str, ...]
    primary_metric: str
    class_names: tuple[str, ...] = ()
    bootstrap: dict[str, Any] | None = None  # n_resamples (2000), seed (0), method (percentile | bca)
    citation: str = ""
    bibtex: str = ""  # BibTeX entries of the dataset papers, printed by `benchmark cite`
    threshold: float | str = 0.5  # a number, or a rule applied to validation predictions
    metadata: tuple[str, ...] = ()  # per-image columns kept for subgroup analysis (age, sex, view)
    macro_subsets: dict[str, tuple[str, ...]] | None = None  # extra macro AUROCs over label subsets
    expected_patients: dict[str, int] | None = None

    @property
    def task_hash(self) -> str:
        """sha256 of the spec (split hash included, prose excluded): results with different hashes never mix."""
        defaults = {f.name: f.default for f in fields(self)}
        # Optional fields at their defaults are left out, so adding a field keeps old hashes.
        spec = {k: v for k, v in asdict(self).items() if k not in _PROSE and v != defaults[k]}
        canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def n_bootstrap(self) -> int:
        return int((self.bootstrap or {}).get("n_resamples", 2000))

    @property
    def bootstrap_seed(self) -> int:
        return int((self.bootstrap or {}).get("seed", 0))

    @property
    def bootstrap_method(self) -> str:
        return str((self.bootstrap or {}).get("method", "percentile"))

    @property
    def tunes_threshold(self) -> bool:
        return isinstance(self.threshold, str)

    def evaluate(
        self,
        predictions: pd.DataFrame,
        thresholds: list[float] | None = None,
        n_resamples: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """The task's metrics on a Predictions table, each with a 95% bootstrap CI.

        Resamples whole patients when images share a patient id, so a patient with many
        images does not narrow the interval (benchmark.stats).
        """
        y_true, y_score = prediction_arrays(predictions, self.labels)
        if thresholds is None:
            if self.tunes_threshold:
                raise ConfigError(f"task {self.name} chooses thresholds on validation ({self.threshold}); pass them")
            thresholds = [float(self.threshold)] * len(self.labels)
        inputs = EvalInputs(self.problem, self.labels, y_true, y_score, tuple(thresholds), self.macro_subsets)
        clusters = Clusters.of(predictions["patient_id"].to_numpy())
        settings = {
            "n_resamples": n_resamples if n_resamples is not None else self.n_bootstrap,
            "seed": seed if seed is not None else self.bootstrap_seed,
            "unit": clusters.unit,
            "n_units": clusters.n_clusters,
            "method": self.bootstrap_method,
            "level": 0.95,
        }
        resamples = draw_resamples(clusters, settings["n_resamples"], settings["seed"])
        intervals = bootstrap_metrics(inputs, self.metrics, resamples, settings["method"], settings["level"])
        result: dict[str, Any] = {
            "metrics": {k: v.to_dict() for k, v in intervals.items()},
            "bootstrap": settings,
            "thresholds": dict(zip(self.labels, thresholds, strict=True)),
        }
        if self.problem != "multilabel":
            matrix, names = confusion_matrix(inputs)
            result["confusion_matrix"] = {"labels": list(names), "matrix": matrix}
        return result

    def load_data(self, data_root: str | os.PathLike[str] | None, verify: bool = True) -> TaskData:
        """Index the data root, apply the split rule and check it against the pinned hash."""
        root = resolve_data_root(data_root)
        adapter = SOURCES.get(self.source["kind"])
        index = adapter(root, self.source, list(self.labels), self.problem)
        frame, report = apply_split_rule(index.frame, self.split, list(self.labels))
        actual = split_sha256(frame)
        patients = patient_counts(frame)
        wrong_patients = self.expected_patients is not None and patients != self.expected_patients
        if verify and (actual != self.split_sha256 or report.counts != self.expected_counts or wrong_patients):
            raise SplitMismatchError(
                f"the data under {root} does not give task {self.name!r}'s pinned split:\n"
                f"  pinned split sha256   {self.split_sha256}\n"
                f"  computed split sha256 {actual}\n"
                f"  expected counts {self.expected_counts}\n"
                f"  found counts    {report.counts}\n"
                f"  expected patients {self.expected_patients}\n"
                f"  found patients    {patients}\n"
                "The data root holds other or modified files; use the dataset exactly as distributed."
            )
        return TaskData(self, root, index, frame, report, actual)


@dataclass
class TaskData:
    task: Task
    root: Path
    index: SourceIndex
    frame: pd.DataFrame
    report: SplitReport
    split_hash: str

    def prepare(self, split: str, size: int, skip_corrupt: bool = False) -> PreparedSplit:
        """One split at ``size`` px from the prepared cache (built on first use)."""
        from benchmark.data.prepared import prepare_split

        cache = open_or_prepare(self, size, skip_corrupt=skip_corrupt)
        self.report.skipped_unreadable = cache.skipped
        rows = self.frame[self.frame["split"] == split]
        return prepare_split(cache, rows, list(self.task.labels))

    def class_counts(self, split: str) -> list[float]:
        rows = self.frame[self.frame["split"] == split]
        return [float(rows[label].sum()) for label in self.task.labels]

    def counts(self) -> dict[str, int]:
        return split_counts(self.frame)

    def patient_counts(self) -> dict[str, int]:
        return patient_counts(self.frame)

    def with_metadata(self, predictions: pd.DataFrame) -> pd.DataFrame:
        """``predictions`` with the task's metadata columns (age, sex, view...) joined by image id."""
        if not self.task.metadata:
            return predictions
        columns = self.frame[["image_id", *self.task.metadata]]
        return predictions.merge(columns, on="image_id", how="left", validate="one_to_one")


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
    missing = sorted(_REQUIRED - set(spec))
    unknown = sorted(set(spec) - _REQUIRED - _OPTIONAL)
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
    for key in ("labels", "metrics", "class_names", "metadata"):
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

__all__ = ["TASKS", "Task", "TaskData", "load_task_file", "task_from_dict"]
