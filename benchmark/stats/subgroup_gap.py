"""A metric per subgroup and the largest gap between the groups of an attribute, all from one set of patient resamples.

Every group's CI and every gap's CI come from the same bootstrap resamples of the whole test set's
patients (``benchmark.stats.resample``): resample b draws patients, and each group is scored on the
drawn patients' images that belong to it. A difference between two groups is therefore computed on
one resample at a time (paired: a patient with images in both groups, e.g. an AP and a PA film, moves
both), and its percentile (or BCa) interval is that of the difference, not a combination of two
separate intervals. A group's size varies from resample to resample, as it does in new test sets.

The largest gap of an attribute is between the groups with the highest and the lowest point estimate
among the groups with at least ``min_patients`` patients and at least ``MIN_PER_CLASS`` positives and
negatives of every label the metric reads (other groups stay in the table, but the largest gap would
otherwise mostly measure their noise). The pair is chosen on the point estimates,
then bootstrapped: the CI is that of this pair's difference and is not widened for having picked the
largest of several differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import StatisticsError
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.registry import EvalInputs
from benchmark.stats.bootstrap import clusters_of, metric_values, prediction_inputs, resampled_intervals
from benchmark.stats.resample import Resamples, draw_resamples
from benchmark.stats.subgroups import AGE_BANDS, SUBGROUP_COLUMNS, age_band

ROW_COLUMNS = [
    "attribute",
    "group",
    "metric",
    "n_images",
    "n_patients",
    "value",
    "ci_low",
    "ci_high",
    "n_degenerate",
]
GAP_COLUMNS = ["attribute", "metric", "high_group", "low_group", "gap", "ci_low", "ci_high", "n_degenerate"]
MIN_PATIENTS = 10  # groups with fewer patients are shown but not used for the largest gap
# ... nor groups with fewer positives or negatives of a scored label: a group with one Edema-positive patient
# has an AUROC of 1.0 whenever that patient is drawn, and its "gap" would only measure the other group's spread
MIN_PER_CLASS = 5
# Values that mean "not recorded" in the metadata columns (CheXpert writes "Unknown" for a few sexes,
# and leaves AP/PA blank on some images).
UNKNOWN = frozenset({"", "unknown", "u", "nan", "none"})


def attribute_groups(
    predictions: pd.DataFrame, by: Sequence[str] | None = None, age_edges: Sequence[float] = AGE_BANDS
) -> dict[str, pd.Series]:
    """Attribute name -> the group of each image (NaN where unknown): ``sex``, ``age_band``, ``view_position``.

    ``age`` is banded (``age_band``); text values are stripped and the "unknown" markers of ``UNKNOWN``
    count as missing. Only the columns of ``by`` (default: those of SUBGROUP_COLUMNS present) are used.
    """
    columns = [c for c in SUBGROUP_COLUMNS if c in predictions.columns] if by is None else list(by)
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise StatisticsError(f"no column {missing} in the predictions (columns: {list(predictions.columns)})")
    out: dict[str, pd.Series] = {}
    for column in columns:
        if column == "age":
            out["age_band"] = age_band(pd.to_numeric(predictions[column], errors="coerce"), age_edges)
            continue
        text = predictions[column].astype(object).where(predictions[column].notna(), np.nan)
        text = text.map(lambda v: v if pd.isna(v) else str(v).strip())
        out[column] = text.where(~text.map(lambda v: pd.isna(v) or v.lower() in UNKNOWN), np.nan)
    return out


@dataclass(frozen=True)
class SubgroupAnalysis:
    """``rows`` (ROW_COLUMNS, one per attribute and group), ``gaps`` (GAP_COLUMNS, one per attribute with two
    eligible groups), the resamples they were computed on (``resamples.image_indices(b)`` replays resample b)
    and the settings a methods paragraph needs."""

    rows: pd.DataFrame
    gaps: pd.DataFrame
    resamples: Resamples
    settings: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The record-section form (CONTRACTS: rows, summary gaps, settings), JSON-able floats (NaN -> None)."""
        return {
            "rows": _records(self.rows),
            "summary": {"gaps": _records(self.gaps)},
            "settings": dict(self.settings),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()} for row in rows]


@dataclass(frozen=True)
class _Group:
    attribute: str
    group: str
    mask: np.ndarray  # (n,) bool over the predictions' rows
    inputs: EvalInputs
    n_patients: int

    @property
    def key(self) -> str:
        return f"{self.attribute}={self.group}"


def _groups(
    predictions: pd.DataFrame,
    by: Sequence[str] | None,
    age_edges: Sequence[float],
    cluster: str | None,
    problem: str | None,
    thresholds: Sequence[float] | None,
    subsets: dict[str, Sequence[str]] | None,
) -> list[_Group]:
    out = []
    for attribute, values in attribute_groups(predictions, by, age_edges).items():
        for group in sorted(values.dropna().unique(), key=str):
            mask = (values == group).to_numpy(dtype=bool)
            subset = predictions[mask]
            patients = subset[cluster].nunique() if cluster is not None and cluster in subset else len(subset)
            inputs = prediction_inputs(subset, problem, thresholds, subsets)
            out.append(_Group(attribute, str(group), mask, inputs, int(patients)))
    return out


def _values(groups: Sequence[_Group], metric: str, weights: ClusterWeights) -> dict[str, np.ndarray]:
    return {g.key: metric_values(g.inputs, metric, weights.select(g.mask)) for g in groups}


def _scored_labels(inputs: EvalInputs, metric: str) -> list[int]:
    """Columns of the labels ``metric`` reads: one for ``name/<label>``, else every label."""
    _, _, label = metric.partition("/")
    return [inputs.labels.index(label)] if label in inputs.labels else list(range(len(inputs.labels)))


def _enough_of_each_class(group: _Group, metric: str, min_per_class: int) -> bool:
    """Whether every label ``metric`` reads has at least ``min_per_class`` positives and negatives in the group."""
    for k in _scored_labels(group.inputs, metric):
        truth = group.inputs.y_true[:, k]
        truth = truth[np.isfinite(truth)]
        if min(int((truth == 1).sum()), int((truth == 0).sum())) < min_per_class:
            return False
    return True


def _largest_gaps(
    groups: Sequence[_Group], point: dict[str, np.ndarray], min_patients: int, metric: str
) -> dict[str, tuple[_Group, _Group]]:
    """Attribute -> (highest, lowest) group by point estimate among eligible groups with a defined value."""
    pairs: dict[str, tuple[_Group, _Group]] = {}
    for attribute in dict.fromkeys(g.attribute for g in groups):
        eligible = [
            g
            for g in groups
            if g.attribute == attribute
            and g.n_patients >= min_patients
            and _enough_of_each_class(g, metric, MIN_PER_CLASS)
            and np.isfinite(point[g.key][0])
        ]
        if len(eligible) < 2:
            continue
        ordered = sorted(eligible, key=lambda g: float(point[g.key][0]))
        pairs[attribute] = (ordered[-1], ordered[0])
    return pairs


def paired_subgroups(
    predictions: pd.DataFrame,
    metric: str,
    n_resamples: int = 2000,
    seed: int | np.random.Generator = 0,
    *,
    by: Sequence[str] | None = None,
    cluster: str | None = "patient_id",
    method: str = "percentile",
    level: float = 0.95,
    problem: str | None = None,
    thresholds: Sequence[float] | None = None,
    subsets: dict[str, Sequence[str]] | None = None,
    age_edges: Sequence[float] = AGE_BANDS,
    min_patients: int = MIN_PATIENTS,
) -> SubgroupAnalysis:
    """``metric`` per (attribute, group) and the largest gap per attribute, with CIs from one set of resamples.

    The resamples are ``draw_resamples(clusters_of(predictions, cluster), n_resamples, seed)``: the same
    draw ``bootstrap_ci`` makes on the whole table. Images with an unknown value of an attribute are left
    out of that attribute's groups (they still belong to the resampled patients).
    """
    predictions = predictions.reset_index(drop=True)
    groups = _groups(predictions, by, age_edges, cluster, problem, thresholds, subsets)
    if not groups:
        raise StatisticsError(
            f"no subgroup metadata in the predictions: none of {list(SUBGROUP_COLUMNS)} has a known value; "
            "join the task's metadata first (TaskData.with_metadata, or subgroups.with_subgroup_metadata)"
        )
    clusters = clusters_of(predictions, cluster)
    resamples = draw_resamples(clusters, n_resamples, seed)
    point = _values(groups, metric, clusters.plain())
    pairs = _largest_gaps(groups, point, min_patients, metric)

    def values_of(weights: ClusterWeights) -> dict[str, np.ndarray]:
        values = _values(groups, metric, weights)
        for attribute, (high, low) in pairs.items():
            values[f"gap:{attribute}"] = values[high.key] - values[low.key]
        return values

    intervals = resampled_intervals(values_of, resamples, method, level)
    rows = pd.DataFrame(
        [
            {
                "attribute": g.attribute,
                "group": g.group,
                "metric": metric,
                "n_images": int(g.mask.sum()),
                "n_patients": g.n_patients,
                **intervals[g.key].to_dict(),
            }
            for g in groups
        ],
        columns=ROW_COLUMNS,
    )
    gaps = pd.DataFrame(
        [
            {
                "attribute": attribute,
                "metric": metric,
                "high_group": high.group,
                "low_group": low.group,
                "gap": intervals[f"gap:{attribute}"].value,
                "ci_low": intervals[f"gap:{attribute}"].ci_low,
                "ci_high": intervals[f"gap:{attribute}"].ci_high,
                "n_degenerate": intervals[f"gap:{attribute}"].n_degenerate,
            }
            for attribute, (high, low) in pairs.items()
        ],
        columns=GAP_COLUMNS,
    )
    settings = {
        "metric": metric,
        "n_resamples": int(n_resamples),
        "seed": seed if isinstance(seed, int) else None,
        "unit": clusters.unit,
        "n_units": int(clusters.n_clusters),
        "method": method,
        "level": float(level),
        "age_edges": [float(e) for e in age_edges],
        "min_patients_for_gap": int(min_patients),
        "pairing": "one bootstrap of the whole test set's patients for every group and gap",
        "min_per_class_for_gap": MIN_PER_CLASS,
        "gap_rule": "highest minus lowest point estimate among groups with at least min_patients_for_gap patients "
        "and at least min_per_class_for_gap positives and negatives of every scored label",
    }
    return SubgroupAnalysis(rows, gaps, resamples, settings)


def group_values(
    predictions: pd.DataFrame,
    metric: str,
    *,
    by: Sequence[str] | None = None,
    problem: str | None = None,
    thresholds: Sequence[float] | None = None,
    subsets: dict[str, Sequence[str]] | None = None,
    age_edges: Sequence[float] = AGE_BANDS,
) -> dict[tuple[str, str], float]:
    """(attribute, group) -> the point estimate of ``metric`` (no resampling): e.g. one seed's values."""
    predictions = predictions.reset_index(drop=True)
    groups = _groups(predictions, by, age_edges, None, problem, thresholds, subsets)
    point = _values(groups, metric, ClusterWeights.plain(len(predictions)))
    return {(g.attribute, g.group): float(point[g.key][0]) for g in groups}
