"""Paired bootstrap test, McNemar, Wilson, Holm and BH against statsmodels, scipy and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from benchmark.errors import PredictionsMismatchError, StatisticsError
from benchmark.metrics.predictions import predictions_frame
from benchmark.stats import adjust_pvalues, draw_resamples, mcnemar_test, paired_bootstrap_test, wilson_interval
from benchmark.stats.resample import Clusters
from tests.fixtures.runs.make import patients, scores, truth


def _pair(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pid = patients(70, rng)
    y = truth(pid, ("x",), "binary", rng)
    ids = [f"img{i}" for i in range(len(pid))]
    a = predictions_frame(ids, list(pid), y, scores(y, "binary", 1.0, rng), ("x",))
    b = predictions_frame(ids, list(pid), y, scores(y, "binary", 0.6, rng), ("x",))
    return a, b


def test_paired_bootstrap_equals_a_sklearn_loop_on_shared_patient_resamples():
    a, b = _pair()
    result = paired_bootstrap_test(a, b, "auroc", n_resamples=400, seed=2)
    resamples = draw_resamples(Clusters.of(a["patient_id"].to_numpy()), 400, seed=2)
    y, sa, sb = (a["true:x"].to_numpy(), a["score:x"].to_numpy(), b["score:x"].to_numpy())
    diffs = np.array(
        [roc_auc_score(y[r], sa[r]) - roc_auc_score(y[r], sb[r]) for r in map(resamples.image_indices, range(400))]
    )
    diff = roc_auc_score(y, sa) - roc_auc_score(y, sb)
    z = diff / np.std(diffs, ddof=1)
    assert result.diff == pytest.approx(diff, abs=1e-12)
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])), abs=1e-12)
    assert result.z == pytest.approx(z, abs=1e-9)
    assert result.p_value == pytest.approx(2 * scipy.stats.norm.sf(abs(z)), abs=1e-12)
    assert result.n_degenerate == 0 and result.n_resamples == 400


def test_rows_are_matched_by_image_id_and_identical_models_do_not_differ():
    a, b = _pair(1)
    shuffled = b.sample(frac=1.0, random_state=0)
    assert paired_bootstrap_test(a, shuffled, "auroc", n_resamples=100) == paired_bootstrap_test(
        a, b, "auroc", n_resamples=100
    )
    same = paired_bootstrap_test(a, a, "auroc", n_resamples=100)
    assert (same.diff, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_different_test_images_are_an_error_listing_the_difference():
    a, b = _pair(2)
    b = b.drop(index=[0, 1]).copy()
    b.loc[b.index[0], "image_id"] = "extra-image"
    with pytest.raises(PredictionsMismatchError) as error:
        paired_bootstrap_test(a, b, "auroc", n_resamples=10)
    message = str(error.value)
    assert "3 only in pred_a ['img0', 'img1', 'img2']" in message
    assert "1 only in pred_b ['extra-image']" in message
    changed = a.copy()
    changed.loc[0, "true:x"] = 1 - changed.loc[0, "true:x"]
    with pytest.raises(PredictionsMismatchError, match="truth"):
        paired_bootstrap_test(a, changed, "auroc", n_resamples=10)


def test_mcnemar_matches_statsmodels_and_a_hand_worked_exact_case():
    # 1 image only a gets right, 9 only b gets right, 20 both: exact p = 2 * P(X <= 1 | 10, 1/2) = 22 / 1024.
    y = np.zeros(30)
    pred_a = np.r_[np.ones(9), np.zeros(21)]  # wrong on the first 9
    pred_b = np.r_[np.zeros(9), 1, np.zeros(20)]  # wrong on image 9
    result = mcnemar_test(y, pred_a, pred_b)
    assert result.table.tolist() == [[20, 1], [9, 0]]
    assert result.p_value == pytest.approx(22 / 1024, abs=1e-15)
    rng = np.random.default_rng(0)
    y, a, b = rng.integers(0, 3, 200), rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    table = pd.crosstab(a == y, b == y).reindex(index=[True, False], columns=[True, False]).to_numpy()
    for exact in (True, False):
        expected = mcnemar(table, exact=exact, correction=True)
        got = mcnemar_test(y, a, b, exact=exact)
        assert (got.statistic, got.p_value) == pytest.approx((expected.statistic, expected.pvalue), abs=1e-15)
        assert got.accuracy_a == pytest.approx(np.mean(a == y))


def test_wilson_interval_matches_statsmodels_and_the_formula():
    for successes, n in ((0, 10), (7, 20), (95, 100), (500, 1000)):
        got = wilson_interval(successes, n)
        low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
        assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-15)
        z, p = scipy.stats.norm.ppf(0.975), successes / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        assert (got.ci_low, got.ci_high) == pytest.approx((centre - half, centre + half), abs=1e-12)
    with pytest.raises(StatisticsError, match="successes"):
        wilson_interval(5, 3)


def test_holm_and_benjamini_hochberg_by_hand_and_against_statsmodels():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted p times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06.
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    # BH: sorted p times 4/rank = 0.02, 0.02, 0.04, 0.04 -> running min from the top keeps them.
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.02, 0.04, 0.04, 0.02])
    random = np.random.default_rng(0).random(25) ** 3
    np.testing.assert_allclose(adjust_pvalues(random, "holm"), multipletests(random, method="holm")[1])
    np.testing.assert_allclose(adjust_pvalues(random, "bh"), multipletests(random, method="fdr_bh")[1])
    with pytest.raises(StatisticsError, match="holm"):
        adjust_pvalues(p, "bonferonni")
