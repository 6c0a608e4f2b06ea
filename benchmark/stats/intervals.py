"""Confidence intervals from a bootstrap distribution: percentile and BCa, as scipy.stats.bootstrap computes them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from benchmark.errors import StatisticsError

METHODS = ("percentile", "bca")


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap CI.

    ``n_degenerate`` counts the resamples where the metric was undefined (e.g. a label with one
    class only); they are left out of the quantiles, so a large count means a wide or biased CI.
    """

    value: float
    ci_low: float
    ci_high: float
    n_degenerate: int

    def to_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n_degenerate": self.n_degenerate}


def check_method(method: str) -> None:
    if method not in METHODS:
        raise StatisticsError(f"CI method must be one of {METHODS}, got {method!r}")


def bootstrap_interval(
    point: float,
    resampled: np.ndarray,
    level: float = 0.95,
    method: str = "percentile",
    jackknife: np.ndarray | None = None,
) -> Interval:
    """Two-sided ``level`` CI of ``point`` from its resampled values (NaN = degenerate resample).

    ``percentile``: the alpha/2 and 1 - alpha/2 quantiles (linear interpolation, numpy's and
    scipy's default). ``bca``: Efron's bias-corrected and accelerated quantiles (Efron &
    Tibshirani 1993, 14.3), the acceleration from the leave-one-cluster-out ``jackknife`` values,
    with the same formulas as scipy.stats.bootstrap.
    """
    check_method(method)
    resampled = np.asarray(resampled, dtype=np.float64)
    finite = resampled[~np.isnan(resampled)]
    n_degenerate = len(resampled) - len(finite)
    if not len(finite) or np.isnan(point):
        return Interval(float(point), np.nan, np.nan, n_degenerate)
    alpha = (1 - level) / 2
    if method == "bca":
        if jackknife is None:
            raise StatisticsError("a BCa interval needs the jackknife values of the statistic")
        probabilities = _bca_levels(point, finite, np.asarray(jackknife, dtype=np.float64), alpha)
    else:
        probabilities = np.array([alpha, 1 - alpha])
    if np.isnan(probabilities).any():
        return Interval(float(point), np.nan, np.nan, n_degenerate)
    low, high = np.quantile(finite, probabilities)
    return Interval(float(point), float(low), float(high), n_degenerate)


def _bca_levels(point: float, resampled: np.ndarray, jackknife: np.ndarray, alpha: float) -> np.ndarray:
    """The quantile levels of the BCa interval (NaN when the bias correction is infinite)."""
    below = (np.count_nonzero(resampled < point) + np.count_nonzero(resampled <= point)) / (2 * len(resampled))
    z0 = ndtri(below)
    values = jackknife[~np.isnan(jackknife)]
    spread = values.mean() - values
    denominator = np.sum(spread**2) ** 1.5
    # A jackknife without spread (e.g. a constant statistic) gives no acceleration.
    acceleration = np.sum(spread**3) / (6 * denominator) if denominator > 0 else 0.0
    z = ndtri(np.array([alpha, 1 - alpha]))
    with np.errstate(invalid="ignore"):
        return ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))


def z_test(diff: float, se: float) -> tuple[float, float]:
    """(z, two-sided p-value) of ``diff`` with standard error ``se``; no spread and no difference gives p = 1."""
    if se <= 0:
        return (0.0, 1.0) if diff == 0 else (float(np.copysign(np.inf, diff)), 0.0)
    z = diff / se
    return float(z), float(2 * ndtr(-abs(z)))
