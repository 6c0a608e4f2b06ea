"""Recorded runs as statistics inputs: a run's record.json with its Predictions table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.results.entries import entry_key
from benchmark.results.record import RunRecord
from benchmark.results.store import ResultsDir


@dataclass(frozen=True)
class Run:
    """One run: ``record`` (record.json as written by benchmark run) and ``predictions`` (its Predictions table)."""

    record: RunRecord
    predictions: pd.DataFrame

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def model_name(self) -> str:
        return self.record.model.name

    @property
    def origin(self) -> str:
        return self.record.origin

    @property
    def submission_name(self) -> str | None:
        return self.record.submission.name if self.record.submission else None

    @property
    def entry_key(self) -> str:
        """The leaderboard entry the run is a seed of (``benchmark.results.entries.entry_key``)."""
        return entry_key(self.record)

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def task_hash(self) -> str:
        return self.record.task.hash

    @property
    def task_name(self) -> str:
        return self.record.task.name

    @property
    def problem(self) -> str:
        return self.record.task.problem

    @property
    def labels(self) -> tuple[str, ...]:
        return self.record.task.labels

    @property
    def primary_metric(self) -> str:
        return self.record.task.primary_metric

    @property
    def configuration(self) -> str:
        """The recipe overrides of the run as canonical JSON: runs of one model and configuration are seeds."""
        return json.dumps(self.record.overrides, sort_keys=True)

    @property
    def thresholds(self) -> list[float] | None:
        """The per-label thresholds the run was evaluated at (chosen on validation where the task tunes them)."""
        return self.record.thresholds_list()


def load_runs(results_dir: str | Path, run_ids: Sequence[str]) -> list[Run]:
    """The runs ``run_ids`` (a unique prefix is enough) of a results folder."""
    store = ResultsDir(Path(results_dir))
    return [Run(store.load_record(run_id), store.load_predictions(run_id)) for run_id in run_ids]
