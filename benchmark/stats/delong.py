"""DeLong's test for correlated AUROCs (DeLong, DeLong & Clarke-Pearson 1988), with the fast
midrank algorithm of Sun & Xu (2014): O(M n log n) for M models on n images.

The structural components of model r are, for each positive image i and negative image j,
``V10[r, i] = mean_j H(x_ri - y_rj)`` and ``V01[r, j] = mean_i H(x_ri - y_rj)`` (H = 1, 1/2, 0
for >, =, <). Sun & Xu obtain them from midranks: ``V10 = (rank of x_ri among all images -
rank among the positives) / n``, ``V01 = 1 - (rank of y_rj among all - rank among the negatives) / m``.
That difference of midranks is the number of negatives below x_ri plus half the tied ones, so it
is computed directly: one sort of each class per model, then a binary search (no third ranking).
The covariance of the M AUCs is ``S10 / m + S01 / n`` with S10, S01 the sample covariances
(ddof 1) of V10 over positives and of V01 over negatives.

DeLong treats images as independent. When patients have several images the variance is too
small; the patient-cluster bootstrap (benchmark.stats.bootstrap) is the clustered alternative.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from benchmark.errors import StatisticsError
from benchmark.metrics.auroc import placements
from benchmark.stats.intervals import z_test


@dataclass(frozen=True)
class DeLongCovariance:
    """AUROCs of M models on the same images and the DeLong covariance matrix of their estimates."""

    aucs: np.ndarray  # (M,)
    covariance: np.ndarray  # (M, M)
    n_positive: int
    n_negative: int


@dataclass(frozen=True)
class DeLongCI:
    """One AUROC with its DeLong CI (clipped to [0, 1], as pROC does)."""

    auc: float
    ci_low: float
    ci_high: float
    se: float


@dataclass(frozen=True)
class DeLongTest:
    """Paired comparison of two AUROCs on the same images: ``diff = auc_a - auc_b``, two-sided p-value."""

    auc_a: float
    auc_b: float
    diff: float
    ci_low: float  # CI of diff at the requested level (95% by default)
    ci_high: float
    z: float
    p_value: float


def delong_covariance(y_true: np.ndarray, scores: np.ndarray) -> DeLongCovariance:
    """AUROCs of every row of ``scores`` (M, n) (or one (n,) score) and their covariance; NaN labels left out."""
    y = np.asarray(y_true, dtype=np.float64)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if scores.shape[1] != len(y):
        raise StatisticsError(f"scores have {scores.shape[1]} images, y_true has {len(y)}; pass the same images")
    known = ~np.isnan(y)
    y, scores = y[known], scores[:, known]
    if not np.isin(y, (0.0, 1.0)).all():
        raise StatisticsError(f"y_true must be 0/1 (NaN = unknown); found {sorted(set(y.tolist()) - {0.0, 1.0})[:5]}")
    positive = y == 1
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        raise StatisticsError(f"DeLong needs at least 2 positive and 2 negative images; got {m} and {n}")
    pos, neg = scores[:, positive], scores[:, ~positive]
    v10 = np.stack([placements(np.sort(y_r), x_r, above=False) for x_r, y_r in zip(pos, neg, strict=True)]) / n
    v01 = np.stack([placements(np.sort(x_r), y_r, above=True) for x_r, y_r in zip(pos, neg, strict=True)]) / m
    aucs = v10.mean(axis=1)
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return DeLongCovariance(aucs, covariance, m, n)


def delong_ci(y_true: np.ndarray, score: np.ndarray, level: float = 0.95) -> DeLongCI:
    """AUROC with its DeLong CI (normal approximation, images independent)."""
    result = delong_covariance(y_true, score)
    auc, se = float(result.aucs[0]), float(np.sqrt(result.covariance[0, 0]))
    half = float(ndtri(0.5 + level / 2)) * se
    return DeLongCI(auc, max(0.0, auc - half), min(1.0, auc + half), se)


def _test(result: DeLongCovariance, a: int, b: int, level: float) -> DeLongTest:
    diff = float(result.aucs[a] - result.aucs[b])
    variance = result.covariance[a, a] + result.covariance[b, b] - 2 * result.covariance[a, b]
    se = float(np.sqrt(max(variance, 0.0)))
    z, p_value = z_test(diff, se)
    half = float(ndtri(0.5 + level / 2)) * se
    return DeLongTest(float(result.aucs[a]), float(result.aucs[b]), diff, diff - half, diff + half, z, p_value)


def delong_test(y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, level: float = 0.95) -> DeLongTest:
    """DeLong's test of AUROC(a) = AUROC(b) for two models scored on the same images."""
    if len(score_a) != len(score_b):
        raise StatisticsError(f"score_a has {len(score_a)} images, score_b {len(score_b)}; pass the same images")
    return _test(delong_covariance(y_true, np.stack([score_a, score_b])), 0, 1, level)


def delong_pairs(
    y_true: np.ndarray, scores: np.ndarray, names: Sequence[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """DeLong's test for every pair of rows of ``scores`` (M, n), from one covariance computation.

    Columns: ``a``, ``b`` (names), ``auc_a``, ``auc_b``, ``diff``, ``ci_low``, ``ci_high``, ``z``, ``p_value``.
    """
    result = delong_covariance(y_true, scores)
    names = list(names) if names is not None else [str(i) for i in range(len(result.aucs))]
    if len(names) != len(result.aucs):
        raise StatisticsError(f"{len(names)} names for {len(result.aucs)} models")
    rows = [
        {"a": names[a], "b": names[b], **_test(result, a, b, level).__dict__}
        for a, b in itertools.combinations(range(len(names)), 2)
    ]
    columns = ["a", "b", "auc_a", "auc_b", "diff", "ci_low", "ci_high", "z", "p_value"]
    return pd.DataFrame(rows, columns=columns)
