"""DeLong's AUROC variance and covariance against the definition (structural components), by hand and with ties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import roc_auc_score

from benchmark.errors import StatisticsError
from benchmark.stats import delong_ci, delong_covariance, delong_pairs, delong_test


def _psi(x: float, y: float) -> float:
    return 1.0 if x > y else 0.5 if x == y else 0.0


def _definition(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and covariance straight from DeLong et al. (1988): loops over every positive-negative pair."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m, n = len(pos), len(neg)
    v10 = np.array([[np.mean([_psi(s[i], s[j]) for j in neg]) for i in pos] for s in scores])
    v01 = np.array([[np.mean([_psi(s[i], s[j]) for i in pos]) for j in neg] for s in scores])
    aucs = v10.mean(axis=1)
    models = range(len(scores))
    s10 = np.array([[np.sum((v10[r] - aucs[r]) * (v10[t] - aucs[t])) / (m - 1) for t in models] for r in models])
    s01 = np.array([[np.sum((v01[r] - aucs[r]) * (v01[t] - aucs[t])) / (n - 1) for t in models] for r in models])
    return aucs, s10 / m + s01 / n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_covariance_of_several_models_equals_the_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 40
    y = (rng.random(n) < 0.4).astype(float)
    scores = np.stack([np.round(y * w + rng.normal(size=n), 1) for w in (0.5, 1.0, 0.0)])
    scores[2] = np.round(scores[2])  # heavy ties
    got = delong_covariance(y, scores)
    aucs, covariance = _definition(y, scores)
    np.testing.assert_allclose(got.aucs, aucs, atol=1e-12)
    np.testing.assert_allclose(got.aucs, [roc_auc_score(y, s) for s in scores], atol=1e-12)
    np.testing.assert_allclose(got.covariance, covariance, atol=1e-14)
    assert (got.n_positive, got.n_negative) == (int(y.sum()), int(n - y.sum()))


def test_hand_worked_variance():
    # positives 0.9, 0.6, 0.4; negatives 0.5, 0.3. V10 = (1, 1, 1/2), V01 = (2/3, 1).
    # AUC = 5/6; S10 = var(1, 1, 1/2) = 1/12; S01 = var(2/3, 1) = 1/18; Var = S10/3 + S01/2 = 1/18.
    y = np.array([1, 1, 1, 0, 0.0])
    score = np.array([0.9, 0.6, 0.4, 0.5, 0.3])
    result = delong_ci(y, score)
    assert result.auc == pytest.approx(5 / 6, abs=1e-15)
    assert result.se == pytest.approx(np.sqrt(1 / 18), abs=1e-15)
    z = scipy.stats.norm.ppf(0.975)
    assert result.ci_low == pytest.approx(5 / 6 - z * np.sqrt(1 / 18))
    assert result.ci_high == 1.0  # 5/6 + 0.46 clipped to 1, as pROC clips


def test_paired_test_equals_the_definition():
    rng = np.random.default_rng(5)
    n = 60
    y = (rng.random(n) < 0.5).astype(float)
    a, b = np.round(y + rng.normal(size=n), 1), np.round(0.4 * y + rng.normal(size=n), 1)
    aucs, cov = _definition(y, np.stack([a, b]))
    se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    z = (aucs[0] - aucs[1]) / se
    result = delong_test(y, a, b)
    assert result.diff == pytest.approx(aucs[0] - aucs[1], abs=1e-12)
    assert result.z == pytest.approx(z, abs=1e-10)
    assert result.p_value == pytest.approx(2 * scipy.stats.norm.sf(abs(z)), abs=1e-12)
    half = scipy.stats.norm.ppf(0.975) * se
    assert (result.ci_low, result.ci_high) == pytest.approx((z * se - half, z * se + half), abs=1e-12)
    swapped = delong_test(y, b, a)
    assert swapped.z == pytest.approx(-result.z) and swapped.p_value == pytest.approx(result.p_value)


def test_all_pairs_of_many_models_from_one_covariance():
    rng = np.random.default_rng(6)
    n = 50
    y = (rng.random(n) < 0.3).astype(float)
    scores = np.stack([np.round(y * w + rng.normal(size=n), 1) for w in (0.2, 0.6, 1.0, 1.4)])
    pairs = delong_pairs(y, scores, names=["m0", "m1", "m2", "m3"])
    assert list(pairs[["a", "b"]].itertuples(index=False, name=None)) == list(
        itertools.combinations(["m0", "m1", "m2", "m3"], 2)
    )
    aucs, cov = _definition(y, scores)
    for row, (i, j) in zip(pairs.itertuples(), itertools.combinations(range(4), 2), strict=True):
        z = (aucs[i] - aucs[j]) / np.sqrt(cov[i, i] + cov[j, j] - 2 * cov[i, j])
        assert row.z == pytest.approx(z, abs=1e-10)


def test_identical_models_and_nan_labels():
    rng = np.random.default_rng(7)
    y = (rng.random(30) < 0.5).astype(float)
    s = rng.random(30)
    same = delong_test(y, s, s)
    assert (same.diff, same.z, same.p_value) == (0.0, 0.0, 1.0)
    y_nan = y.copy()
    y_nan[:5] = np.nan
    assert delong_ci(y_nan, s).auc == pytest.approx(roc_auc_score(y[5:], s[5:]))


def test_too_few_cases_and_bad_labels_are_typed_errors():
    with pytest.raises(StatisticsError, match="at least 2 positive"):
        delong_ci(np.array([1, 0, 0, 0.0]), np.array([0.9, 0.1, 0.2, 0.3]))
    with pytest.raises(StatisticsError, match="0/1"):
        delong_ci(np.array([2, 0, 1, 0.0]), np.arange(4.0))
    with pytest.raises(StatisticsError, match="same images"):
        delong_test(np.array([1, 1, 0, 0.0]), np.arange(4.0), np.arange(3.0))
