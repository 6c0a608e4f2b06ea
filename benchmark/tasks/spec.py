"""The Task: a validated, hashable spec (``tasks/<name>.yaml``) that owns its evaluation."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from benchmark.data.dataset import TaskData, load_data
from benchmark.errors import ConfigError
from benchmark.metrics.thresholds import choose_thresholds
from benchmark.tasks.evaluate import evaluate_predictions

PROSE_FIELDS = frozenset({"description", "citation", "bibtex"})  # editing these does not change what a result means
# Declared beside the task, hashed on their own (benchmark.external.spec): a run's own results do not depend on them.
UNHASHED_FIELDS = PROSE_FIELDS | {"external"}
DEFAULT_TARGET_SENSITIVITY = 0.95


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
    target_sensitivity: float = DEFAULT_TARGET_SENSITIVITY  # the sensitivity `threshold: target_sensitivity` aims for
    metadata: tuple[str, ...] = ()  # per-image columns kept for subgroup analysis (age, sex, view)
    macro_subsets: dict[str, tuple[str, ...]] | None = None  # extra macro AUROCs over label subsets
    expected_patients: dict[str, int] | None = None
    external: dict[str, Any] | None = None  # external test sets by name (benchmark.external.spec); not hashed

    @property
    def task_hash(self) -> str:
        """sha256 of the spec (split hash included, prose and external sets excluded): results with different
        hashes never mix."""
        defaults = {f.name: f.default for f in fields(self)}
        # Optional fields at their defaults are left out, so adding a field keeps old hashes.
        spec = {k: v for k, v in asdict(self).items() if k not in UNHASHED_FIELDS and v != defaults[k]}
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

    @property
    def threshold_rule(self) -> str:
        """The rule as stated in records: its name, with the target where the rule has one."""
        target = f", target {self.target_sensitivity}" if self.threshold == "target_sensitivity" else ""
        return f"{self.threshold}{target}"

    def tune_thresholds(self, y_val: np.ndarray, score_val: np.ndarray) -> list[float]:
        """One threshold per label, chosen by the task's rule on validation truth and scores."""
        if not self.tunes_threshold:
            raise ConfigError(f"task {self.name} has a fixed threshold ({self.threshold}); it tunes none")
        return choose_thresholds(str(self.threshold), y_val, score_val, self.target_sensitivity)

    def evaluate(
        self,
        predictions: pd.DataFrame,
        thresholds: list[float] | None = None,
        n_resamples: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """The task's metrics on a Predictions table, each with a 95% patient-cluster bootstrap CI."""
        if thresholds is None:
            if self.tunes_threshold:
                raise ConfigError(f"task {self.name} chooses thresholds on validation ({self.threshold}); pass them")
            thresholds = [float(self.threshold)] * len(self.labels)
        bootstrap = {
            "n_resamples": n_resamples if n_resamples is not None else self.n_bootstrap,
            "seed": seed if seed is not None else self.bootstrap_seed,
            "method": self.bootstrap_method,
        }
        return evaluate_predictions(
            predictions, self.problem, self.labels, self.metrics, thresholds, bootstrap, self.macro_subsets
        )

    def load_data(self, data_root: str | os.PathLike[str] | None, verify: bool = True) -> TaskData:
        """Index the data root, apply the split rule and check it against the pinned hash."""
        return load_data(self, data_root, verify)


REQUIRED_FIELDS = frozenset(f.name for f in fields(Task) if f.default is MISSING)
OPTIONAL_FIELDS = frozenset(f.name for f in fields(Task) if f.default is not MISSING)
