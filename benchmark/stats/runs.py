"""Recorded runs as statistics inputs: a run's record.json with its Predictions table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.errors import UnknownNameError
from benchmark.results.store import ResultsDir


@dataclass(frozen=True)
class Run:
    """One run: ``record`` (record.json as written by benchmark run) and ``predictions`` (its Predictions table)."""

    record: dict[str, Any]
    predictions: pd.DataFrame

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def model(self) -> str:
        return str(self.record["model"]["name"])

    @property
    def seed(self) -> int:
        return int(self.record["seed"])

    @property
    def task_hash(self) -> str:
        return str(self.record["task"]["hash"])

    @property
    def task_name(self) -> str:
        return str(self.record["task"]["name"])

    @property
    def problem(self) -> str:
        return str(self.record["task"]["problem"])

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.record["task"]["labels"])

    @property
    def primary_metric(self) -> str:
        return str(self.record["task"]["primary_metric"])

    @property
    def configuration(self) -> str:
        """The recipe overrides of the run as canonical JSON: runs of one model and configuration are seeds."""
        return json.dumps(self.record.get("overrides") or {}, sort_keys=True)

    @property
    def thresholds(self) -> list[float] | None:
        """The per-label thresholds the run was evaluated at (chosen on validation where the task tunes them)."""
        chosen = self.record.get("thresholds")
        return None if not chosen else [float(chosen[label]) for label in self.labels]


def load_runs(results_dir: str | Path, run_ids: Sequence[str]) -> list[Run]:
    """The runs ``run_ids`` (a unique prefix is enough) of a results folder."""
    store = ResultsDir(Path(results_dir))
    return [Run(store.load_record(run_id), store.load_predictions(run_id)) for run_id in run_ids]


def registered_subsets(run: Run) -> dict[str, tuple[str, ...]] | None:
    """The task's named label subsets (for ``auroc[<subset>]``) when the registered task has the run's hash."""
    from benchmark.tasks import TASKS  # heavy (data adapters); only needed for subset metrics

    try:
        task = TASKS.get(run.task_name)
    except UnknownNameError:
        return None
    return task.macro_subsets if task.task_hash == run.task_hash else None
