"""Bootstrap confidence intervals over test images (or patients, when they cluster)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    value: float
    ci_low: float
    ci_high: float
    n_degenerate: int  # resamples where the metric was undefined

    def to_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n_degenerate": self.n_degenerate}


def bootstrap_weights(
    n_resamples: int, rng: np.random.Generator, clusters: np.ndarray | None = None, n: int | None = None
) -> np.ndarray:
    """(B, n) counts: how often each item is drawn in each resample.

    With ``clusters`` (one id per item) whole clusters are drawn with replacement and
    every item of a drawn cluster gets its cluster's count.
    """
    if clusters is None:
        assert n is not None
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64)
    _, cluster_of = np.unique(clusters, return_inverse=True)
    k = int(cluster_of.max()) + 1
    counts = rng.multinomial(k, np.full(k, 1.0 / k), size=n_resamples).astype(np.float64)
    return counts[:, cluster_of]


def percentile_intervals(
    statistic: Callable[[np.ndarray], dict[str, np.ndarray]],
    n: int,
    n_resamples: int,
    seed: int,
    clusters: np.ndarray | None = None,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Point estimate and percentile CI of every value ``statistic(weights)`` returns."""
    point = statistic(np.ones((1, n)))
    rng = np.random.default_rng(seed)
    resampled = statistic(bootstrap_weights(n_resamples, rng, clusters, n))
    alpha = (1 - level) / 2
    out: dict[str, Interval] = {}
    for key, values in resampled.items():
        finite = values[~np.isnan(values)]
        low, high = np.quantile(finite, [alpha, 1 - alpha]) if len(finite) else (np.nan, np.nan)
        out[key] = Interval(float(point[key][0]), float(low), float(high), int(len(values) - len(finite)))
    return out
