"""Metrics with CIs per subgroup (sex, age band, view position) where the predictions carry the metadata."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import StatisticsError
from benchmark.stats.bootstrap import bootstrap_ci

SUBGROUP_COLUMNS = ("sex", "age", "view_position")
AGE_BANDS = (18, 40, 60, 80)  # years: <18, 18-39, 40-59, 60-79, 80+
COLUMNS = ["attribute", "group", "n_images", "n_patients", "value", "ci_low", "ci_high", "n_degenerate"]


def age_band(age: pd.Series, edges: Sequence[float] = AGE_BANDS) -> pd.Series:
    """``<18``, ``18-39``, ..., ``80+`` for the default edges; NaN ages stay NaN."""
    names = [f"<{edges[0]:g}"] + [f"{lo:g}-{hi - 1:g}" for lo, hi in itertools.pairwise(edges)]
    names.append(f"{edges[-1]:g}+")
    bands = pd.cut(age.astype(float), [-np.inf, *edges, np.inf], right=False, labels=names)
    return bands.astype(object).where(bands.notna(), np.nan)


def subgroup_metrics(
    predictions: pd.DataFrame,
    metric: str,
    by: Sequence[str] | None = None,
    n_resamples: int = 2000,
    cluster: str | None = "patient_id",
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    *,
    age_edges: Sequence[float] = AGE_BANDS,
    problem: str | None = None,
    thresholds: Sequence[float] | None = None,
    subsets: dict[str, Sequence[str]] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """``metric`` with its bootstrap CI in each subgroup: one row per (attribute, group).

    ``by``: metadata columns (default: those of sex, age, view_position the table has); ``age``
    is grouped into bands (``age_band``). Images with a missing value are left out of that
    attribute. Each subgroup is resampled on its own (by patient, as bootstrap_ci). Columns:
    attribute, group, n_images, n_patients, value, ci_low, ci_high, n_degenerate.
    """
    by = [c for c in SUBGROUP_COLUMNS if c in predictions.columns] if by is None else list(by)
    if not by:
        raise StatisticsError(
            f"the predictions carry none of the subgroup columns {list(SUBGROUP_COLUMNS)}; join the task's "
            "metadata first (TaskData.with_metadata) or name the columns with by="
        )
    missing = [c for c in by if c not in predictions.columns]
    if missing:
        raise StatisticsError(f"no column {missing} in the predictions (columns: {list(predictions.columns)})")
    rows = []
    for attribute in by:
        values = age_band(predictions[attribute], age_edges) if attribute == "age" else predictions[attribute]
        for group in sorted(values.dropna().unique(), key=str):
            subset = predictions[values == group]
            interval = bootstrap_ci(
                subset, metric, n_resamples, cluster, False, method, seed,
                problem=problem, thresholds=thresholds, subsets=subsets, level=level,
            )  # fmt: skip
            rows.append(
                {
                    "attribute": "age_band" if attribute == "age" else attribute,
                    "group": str(group),
                    "n_images": len(subset),
                    "n_patients": subset["patient_id"].nunique() if "patient_id" in subset else len(subset),
                    **interval.to_dict(),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass(frozen=True)
class _Scoring:
    """How a run is scored, from its record (an existing run) or its task (at run time)."""

    metric: str
    problem: str
    labels: tuple[str, ...]
    thresholds: dict[str, float] | None
    n_resamples: int
    seed: int
    method: str
    level: float
    subsets: dict[str, tuple[str, ...]] | None

    @classmethod
    def of_record(cls, record: Any) -> _Scoring:
        """A recorded run's scoring. Records hold no label subsets, so a primary metric over a subset
        (``auroc[<subset>]``) is not supported here; no task has one."""
        task, bootstrap = record.task, record.bootstrap
        return cls(
            task.primary_metric, task.problem, tuple(task.labels), record.thresholds, bootstrap.n_resamples,
            bootstrap.seed, bootstrap.method, bootstrap.level, None,
        )  # fmt: skip

    @property
    def threshold_list(self) -> list[float] | None:
        """One threshold per label in label order, where one was recorded for every label."""
        recorded = self.thresholds or {}
        return [float(recorded[x]) for x in self.labels] if all(x in recorded for x in self.labels) else None

    def analyse(self, frame: pd.DataFrame, settings: dict[str, Any]) -> Any:
        """``paired_subgroups`` of the primary metric with these settings; ``settings`` are added to its own."""
        from benchmark.stats.subgroup_gap import paired_subgroups

        analysis = paired_subgroups(
            frame, self.metric, self.n_resamples, self.seed, method=self.method, level=self.level,
            problem=self.problem, thresholds=self.threshold_list, subsets=self.subsets,
        )  # fmt: skip
        analysis.settings.update(settings)
        return analysis


def metadata_settings(before: pd.DataFrame, frame: pd.DataFrame) -> dict[str, Any]:
    """Where the subgroup metadata came from and how many images have none."""
    joined = not any(c in before.columns for c in SUBGROUP_COLUMNS)
    known = frame[[c for c in SUBGROUP_COLUMNS if c in frame.columns]].notna().any(axis=1)
    return {
        "metadata": "NIH Data_Entry CSV joined by image id" if joined else "the predictions' metadata columns",
        "n_images_without_metadata": int((~known).sum()),
    }


def run_subgroups(record: Any, predictions: pd.DataFrame, data_root: str | Path | None = None) -> dict[str, Any] | None:
    """The ``subgroups`` payload of an existing run (e.g. one recorded before the section existed), from its
    test predictions: the primary metric per sex, age band and view position and the largest gap per
    attribute, with the run's bootstrap settings. NIH-derived tasks (lung3_64) get NIH's metadata from
    ``data_root``, else ``$CXRBENCH_DATA``, else the data root the run recorded (SubgroupMetadataError
    when none holds it). None when the task has no subgroup metadata.
    """
    from benchmark.stats.subgroup_metadata import metadata_roots, with_subgroup_metadata

    roots = metadata_roots(data_root, record.task.data_root)
    frame = with_subgroup_metadata(predictions, roots, f"run {record.run_id}")
    if frame is None:
        return None
    return _Scoring.of_record(record).analyse(frame, metadata_settings(predictions, frame)).payload()


def subgroups_section(context: Any) -> dict[str, Any] | None:
    """The ``subgroups`` record section of a trained run: the task's primary metric per sex, age band and
    view position with patient-bootstrap CIs (the task's n_resamples and seed) and the largest gap per
    attribute with the CI of the paired difference (benchmark.stats.subgroup_gap). None for tasks without
    subgroup metadata, and (with a warning) for an NIH-derived task whose data root lacks NIH's CSV."""
    from benchmark.stats.subgroup_metadata import SubgroupMetadataError, with_subgroup_metadata

    task = context.task
    try:
        frame = with_subgroup_metadata(context.predictions, [Path(context.data.root)], f"task {task.name}")
    except SubgroupMetadataError as exc:
        warnings.warn(f"no subgroups section: {exc}", stacklevel=2)
        return None
    if frame is None:
        return None
    thresholds = context.thresholds
    if thresholds is None and not task.tunes_threshold:
        thresholds = [float(task.threshold)] * len(task.labels)
    by_label = None if thresholds is None else dict(zip(task.labels, thresholds, strict=True))
    scoring = _Scoring(
        task.primary_metric, task.problem, tuple(task.labels), by_label,
        task.n_bootstrap, task.bootstrap_seed, task.bootstrap_method, 0.95, task.macro_subsets,
    )  # fmt: skip
    return scoring.analyse(frame, metadata_settings(context.predictions, frame)).payload()


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """``benchmark export``'s subgroups section (benchmark.stats.subgroup_report); None without subgroup metadata."""
    from benchmark.stats.subgroup_report import subgroups_export

    return subgroups_export(results, standings)
