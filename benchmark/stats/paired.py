"""Paired bootstrap test: two models scored on the same resamples of the same test images.

The difference of a metric between models a and b is computed on each resample (patients
drawn once for both models), which keeps the correlation between the models. The CI of the
difference is the percentile interval; the p-value is the normal test of pROC's
``roc.test(method = "bootstrap")`` (Robin et al. 2011): ``z = diff / sd(resampled diffs)``,
applied here to any metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.errors import PredictionsMismatchError
from benchmark.metrics.predictions import TRUE_PREFIX
from benchmark.stats.bootstrap import cluster_strata, clusters_of, metric_values, prediction_inputs
from benchmark.stats.intervals import z_test
from benchmark.stats.resample import draw_resamples

_SHOWN = 5  # ids listed in a mismatch error


@dataclass(frozen=True)
class PairedTest:
    """Difference ``estimate_a - estimate_b`` of one metric on the same images, with its bootstrap CI and p-value."""

    metric: str
    estimate_a: float
    estimate_b: float
    diff: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    n_resamples: int
    n_degenerate: int  # resamples where either model's metric was undefined (left out)


def paired_difference(
    metric: str,
    estimates: tuple[float, float],
    values_a: np.ndarray,
    values_b: np.ndarray,
    level: float = 0.95,
) -> PairedTest:
    """The test from two models' metric values on the same resamples."""
    diffs = values_a - values_b
    finite = diffs[~np.isnan(diffs)]
    diff = estimates[0] - estimates[1]
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha]) if len(finite) else (np.nan, np.nan)
    z, p_value = z_test(diff, float(np.std(finite, ddof=1)) if len(finite) > 1 else np.nan)
    return PairedTest(
        metric, *estimates, diff, float(low), float(high), z, p_value, len(diffs), len(diffs) - len(finite)
    )


def align_predictions(frames: Sequence[pd.DataFrame], names: Sequence[str]) -> list[pd.DataFrame]:
    """The tables in the row order of the first, after checking they hold the same images, truth and patients.

    A difference raises PredictionsMismatchError naming the tables and listing the differing ids.
    """
    first = frames[0].set_index("image_id", drop=False)
    if first.index.has_duplicates:
        raise PredictionsMismatchError(f"{names[0]}: image ids repeat; a Predictions table has one row per image")
    truth = [c for c in first.columns if str(c).startswith(TRUE_PREFIX)]
    out = [frames[0].reset_index(drop=True)]
    first_ids = frames[0]["image_id"].reset_index(drop=True)
    for frame, name in zip(frames[1:], names[1:], strict=True):
        if frame["image_id"].reset_index(drop=True).equals(first_ids):  # the usual case: same rows, same order
            out.append(_checked_alike(first, frame.reset_index(drop=True), truth, names[0], name))
            continue
        ids = set(frame["image_id"])
        only_first, only_this = sorted(set(first.index) - ids), sorted(ids - set(first.index))
        if only_first or only_this or len(frame) != len(first):
            raise PredictionsMismatchError(
                f"{names[0]} and {name} are not scored on the same test images: "
                f"{len(only_first)} only in {names[0]} {only_first[:_SHOWN]}, "
                f"{len(only_this)} only in {name} {only_this[:_SHOWN]}"
                + ("" if only_first or only_this else f", {len(frame) - len(ids)} repeated ids in {name}")
                + "; compare runs of one task hash on its full test split"
            )
        aligned = frame.set_index("image_id", drop=False).loc[first.index].reset_index(drop=True)
        out.append(_checked_alike(first, aligned, truth, names[0], name))
    return out


def _checked_alike(
    first: pd.DataFrame, aligned: pd.DataFrame, truth: list[str], first_name: str, name: str
) -> pd.DataFrame:
    """``aligned`` (rows in the order of ``first``) after checking it has the same labels, truth and patients."""
    columns = [c for c in truth if c in aligned.columns]
    if columns != truth:
        raise PredictionsMismatchError(f"{first_name} has labels {truth}, {name} has {columns}")
    same_truth = np.array_equal(aligned[truth].to_numpy(float), first[truth].to_numpy(float), equal_nan=True)
    same_patients = np.array_equal(aligned["patient_id"].astype(str), first["patient_id"].astype(str))
    if not same_truth or not same_patients:
        raise PredictionsMismatchError(
            f"{first_name} and {name} disagree on the {'truth' if not same_truth else 'patient ids'} of the "
            "same images; they come from different data or task versions"
        )
    return aligned


def paired_bootstrap_test(
    pred_a: pd.DataFrame,
    pred_b: pd.DataFrame,
    metric: str,
    n_resamples: int = 2000,
    cluster: str | None = "patient_id",
    stratify: bool = False,
    seed: int | np.random.Generator = 0,
    *,
    problem: str | None = None,
    thresholds_a: Sequence[float] | None = None,
    thresholds_b: Sequence[float] | None = None,
    subsets: dict[str, Sequence[str]] | None = None,
    level: float = 0.95,
) -> PairedTest:
    """Test ``metric(a) == metric(b)`` with one set of patient-cluster resamples for both models.

    ``pred_a`` and ``pred_b`` must score the same test images (PredictionsMismatchError lists the
    differences); rows are matched by ``image_id``. Metric names and options as in bootstrap_ci.
    """
    frame_a, frame_b = align_predictions([pred_a, pred_b], ["pred_a", "pred_b"])
    inputs_a = prediction_inputs(frame_a, problem, thresholds_a, subsets)
    inputs_b = prediction_inputs(frame_b, problem, thresholds_b, subsets)
    clusters = clusters_of(frame_a, cluster)
    strata = cluster_strata(inputs_a, metric, clusters) if stratify else None
    weights = draw_resamples(clusters, n_resamples, seed, strata).weights()
    estimate_a, estimate_b = (float(metric_values(x, metric, clusters.plain())[0]) for x in (inputs_a, inputs_b))
    values_a, values_b = (metric_values(x, metric, weights) for x in (inputs_a, inputs_b))
    return paired_difference(metric, (estimate_a, estimate_b), values_a, values_b, level)
