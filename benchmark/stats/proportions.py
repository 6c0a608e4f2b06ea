"""Proportions: Wilson intervals and McNemar's test for paired accuracy (both from statsmodels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from benchmark.errors import StatisticsError


@dataclass(frozen=True)
class ProportionCI:
    """``successes / n`` with its Wilson score interval (Wilson 1927; Brown, Cai & DasGupta 2001)."""

    value: float
    ci_low: float
    ci_high: float
    successes: int
    n: int


@dataclass(frozen=True)
class McNemarTest:
    """McNemar's test of equal accuracy for two classifiers on the same images.

    ``table`` rows: a correct / a wrong; columns: b correct / b wrong. Only the discordant cells
    (``table[0, 1]``, ``table[1, 0]``) carry information.
    """

    table: np.ndarray
    statistic: float
    p_value: float
    exact: bool
    accuracy_a: float
    accuracy_b: float


def wilson_interval(successes: int, n: int, level: float = 0.95) -> ProportionCI:
    """Wilson score interval of a proportion (statsmodels ``proportion_confint(method="wilson")``)."""
    if n <= 0 or not 0 <= successes <= n:
        raise StatisticsError(f"a proportion needs 0 <= successes <= n and n > 0; got {successes} of {n}")
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    return ProportionCI(successes / n, float(low), float(high), int(successes), int(n))


def mcnemar_test(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, exact: bool = True, correction: bool = True
) -> McNemarTest:
    """McNemar's test on predicted classes ``pred_a``, ``pred_b`` against ``y_true`` (images with NaN truth left out).

    ``exact`` (default, statsmodels' default): the binomial test on the discordant pairs;
    otherwise the chi-square statistic, with continuity ``correction``.
    """
    y, a, b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not len(y) == len(a) == len(b):
        raise StatisticsError(f"y_true, pred_a, pred_b have {len(y)}, {len(a)}, {len(b)} entries; pass the same images")
    known = ~np.isnan(y.astype(np.float64)) if y.dtype.kind == "f" else np.ones(len(y), dtype=bool)
    correct_a, correct_b = (a == y)[known], (b == y)[known]
    table = np.array(
        [
            [np.sum(correct_a & correct_b), np.sum(correct_a & ~correct_b)],
            [np.sum(~correct_a & correct_b), np.sum(~correct_a & ~correct_b)],
        ]
    )
    result = mcnemar(table, exact=exact, correction=correction)
    return McNemarTest(
        table, float(result.statistic), float(result.pvalue), exact, float(correct_a.mean()), float(correct_b.mean())
    )
