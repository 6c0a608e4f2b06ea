"""A task's data: the data root indexed by the task's source adapter, split by its pinned rule.

This module knows a task only through ``DataSpec``, the few fields data loading reads, so the
data stage never imports the task registry (``benchmark.tasks`` builds on this module, not the
other way round).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from benchmark.data.cache import open_or_prepare
from benchmark.data.root import resolve_data_root
from benchmark.data.source import SourceIndex
from benchmark.data.sources import SOURCES
from benchmark.data.split import SplitReport, apply_split_rule, patient_counts, split_counts, split_sha256
from benchmark.errors import SplitMismatchError

if TYPE_CHECKING:  # torch: imported only where a split is prepared, so reading results stays light
    from benchmark.data.prepared import PreparedSplit


class DataSpec(Protocol):
    """What loading a task's data reads of the task (``benchmark.tasks.Task`` has these)."""

    @property
    def name(self) -> str: ...
    @property
    def task_hash(self) -> str: ...
    @property
    def problem(self) -> str: ...
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> dict[str, Any]: ...
    @property
    def split(self) -> dict[str, Any]: ...
    @property
    def split_sha256(self) -> str: ...
    @property
    def expected_counts(self) -> dict[str, int]: ...
    @property
    def expected_patients(self) -> dict[str, int] | None: ...
    @property
    def metadata(self) -> tuple[str, ...]: ...


@dataclass
class TaskData:
    task: DataSpec
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


def load_data(task: DataSpec, data_root: str | os.PathLike[str] | None, verify: bool = True) -> TaskData:
    """Index the data root, apply the split rule and check it against the pinned hash."""
    root = resolve_data_root(data_root)
    adapter = SOURCES.get(task.source["kind"])
    index = adapter(root, task.source, list(task.labels), task.problem)
    frame, report = apply_split_rule(index.frame, task.split, list(task.labels))
    actual = split_sha256(frame)
    patients = patient_counts(frame)
    wrong_patients = task.expected_patients is not None and patients != task.expected_patients
    if verify and (actual != task.split_sha256 or report.counts != task.expected_counts or wrong_patients):
        raise SplitMismatchError(
            f"the data under {root} does not give task {task.name!r}'s pinned split:\n"
            f"  pinned split sha256   {task.split_sha256}\n"
            f"  computed split sha256 {actual}\n"
            f"  expected counts {task.expected_counts}\n"
            f"  found counts    {report.counts}\n"
            f"  expected patients {task.expected_patients}\n"
            f"  found patients    {patients}\n"
            "The data root holds other or modified files; use the dataset exactly as distributed."
        )
    return TaskData(task, root, index, frame, report, actual)
