"""Risk-coverage curve, AURC and E-AURC: hand-worked cases, brute force over tie orders, a plain loop on
random data, and the patient-cluster bootstrap against the same loop on the drawn images."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from benchmark.errors import StatisticsError
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.predictions import predictions_frame
from benchmark.stats.intervals import bootstrap_interval
from benchmark.stats.resample import Clusters, draw_resamples
from benchmark.stats.selective import (
    aurc,
    aurc_ci,
    aurc_values,
    confidence_correctness,
    e_aurc,
    risk_coverage,
)

# Four binary predictions at threshold 0.5: confidences 0.9, 0.8, 0.7, 0.6; correct, wrong, correct, wrong.
Y4 = np.array([1.0, 1.0, 0.0, 1.0])
S4 = np.array([0.95, 0.1, 0.15, 0.2])


def reference_aurc(correct: np.ndarray, confidence: np.ndarray) -> float:
    """The definition as a loop: rank by confidence, risk of the k first, mean over k (no ties)."""
    order = sorted(range(len(correct)), key=lambda i: -confidence[i])
    errors, risks = 0.0, []
    for k, i in enumerate(order, start=1):
        errors += 1 - correct[i]
        risks.append(errors / k)
    return float(np.mean(risks))


def reference_tie_averaged(correct: np.ndarray, confidence: np.ndarray) -> float:
    """The tie rule as a loop: inside a tie group, the k-th risk counts the group's error rate per image taken."""
    n, risks, taken, errors = len(correct), [], 0, 0.0
    for value in sorted(set(confidence.tolist()), reverse=True):
        group = correct[confidence == value]
        rate = 1 - group.mean()
        for j in range(1, len(group) + 1):
            risks.append((errors + j * rate) / (taken + j))
        taken, errors = taken + len(group), errors + (1 - group).sum()
    assert len(risks) == n
    return float(np.mean(risks))


def test_four_predictions_by_hand():
    coverage, risk = risk_coverage(Y4, S4, "binary")
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 1 / 2, 1 / 3, 2 / 4])
    assert aurc(Y4, S4, "binary") == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)  # 1/3
    # optimal order: correct, correct, wrong, wrong -> risks 0, 0, 1/3, 1/2, AURC 5/24
    assert e_aurc(Y4, S4, "binary") == pytest.approx(1 / 3 - 5 / 24)


def test_perfect_ranking_has_zero_excess_and_all_correct_zero_aurc():
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    perfect = np.array([0.99, 0.02, 0.9, 0.6, 0.45])  # the two errors (confidence 0.2, 0.1) least confident
    confidence, correct = confidence_correctness(y, perfect, "binary")
    assert correct[:, 0].tolist() == [1, 1, 1, 0, 0]
    assert e_aurc(y, perfect, "binary") == pytest.approx(0.0, abs=1e-12)
    assert aurc(y, perfect, "binary") == pytest.approx(reference_aurc(correct[:, 0], confidence[:, 0]))
    all_right = np.array([0.9, 0.1, 0.8, 0.3, 0.7])
    assert aurc(y, all_right, "binary") == 0.0
    assert e_aurc(y, all_right, "binary") == 0.0


def test_worst_ranking_and_e_aurc_of_known_error_rate():
    # every error more confident than every correct prediction: risks 1, 1, 2/3, 2/4
    y = np.array([0.0, 0.0, 1.0, 1.0])
    s = np.array([0.99, 0.98, 0.6, 0.7])
    assert aurc(y, s, "binary") == pytest.approx((1 + 1 + 2 / 3 + 2 / 4) / 4)


def test_ties_are_the_mean_over_all_tie_orders_and_ignore_row_order():
    # confidences 0.9, 0.5, 0.5 with correct, correct, wrong: mean of the two orders = 7/36
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    s = np.array([[0.9, 0.05, 0.05], [0.2, 0.5, 0.3], [0.5, 0.3, 0.2]])
    assert aurc(y, s, "multiclass") == pytest.approx(7 / 36)
    assert aurc(y[::-1], s[::-1], "multiclass") == pytest.approx(7 / 36)
    _, risk = risk_coverage(y, s, "multiclass")
    np.testing.assert_allclose(risk, [0.0, 0.25, 1 / 3])


def test_ties_against_brute_force_over_permutations():
    rng = np.random.default_rng(3)
    correct = (rng.random(7) < 0.6).astype(float)
    confidence = rng.choice([0.2, 0.5, 0.9], 7)
    orders = list(permutations(range(7)))
    brute = np.mean([reference_aurc(correct[list(p)], confidence[list(p)] - 1e-9 * np.arange(7)) for p in orders])
    weights = ClusterWeights.plain(7)
    got = aurc_values(confidence[:, None], correct[:, None], weights)[0]
    assert got == pytest.approx(brute, abs=1e-12)
    assert got == pytest.approx(reference_tie_averaged(correct, confidence), abs=1e-12)


@pytest.mark.parametrize("problem", ["binary", "multiclass"])
def test_random_data_against_a_plain_loop(problem):
    rng = np.random.default_rng(11)
    n, k = 300, 4
    if problem == "binary":
        y = (rng.random(n) < 0.3).astype(float)
        s = np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1)
        conf = np.maximum(s, 1 - s)  # threshold 0.5: ranks as max(p, 1 - p)
        right = (s >= 0.5) == (y == 1)
    else:
        y = np.eye(k)[rng.integers(0, k, n)]
        s = rng.dirichlet(np.ones(k), n) + 0.5 * y
        s /= s.sum(axis=1, keepdims=True)
        conf, right = s.max(axis=1), s.argmax(axis=1) == y.argmax(axis=1)
    right = right.astype(float)
    expected = reference_aurc(right, conf)
    assert aurc(y, s, problem) == pytest.approx(expected, abs=1e-12)
    coverage, risk = risk_coverage(y, s, problem)
    assert risk.mean() == pytest.approx(expected, abs=1e-12)
    assert coverage[-1] == 1.0 and risk[-1] == pytest.approx(1 - right.mean())
    optimal = reference_aurc(np.sort(right)[::-1], -np.arange(n, dtype=float))
    assert e_aurc(y, s, problem) == pytest.approx(expected - optimal, abs=1e-12)


def test_binary_threshold_changes_predictions_and_margin():
    y = np.array([1.0, 0.0, 1.0, 0.0])
    s = np.array([0.3, 0.1, 0.9, 0.25])
    confidence, correct = confidence_correctness(y, s, "binary", thresholds=[0.2])
    np.testing.assert_allclose(confidence[:, 0], [0.1 / 0.8, 0.1 / 0.2, 0.7 / 0.8, 0.05 / 0.8])
    np.testing.assert_array_equal(correct[:, 0], [1, 1, 1, 0])


def test_multilabel_is_the_mean_of_per_label_binary_aurcs_with_unknowns_left_out():
    rng = np.random.default_rng(5)
    y = (rng.random((60, 3)) < 0.4).astype(float)
    s = rng.random((60, 3))
    y[:7, 1] = np.nan
    per_label = [aurc(y[~np.isnan(y[:, j]), j], s[~np.isnan(y[:, j]), j], "binary") for j in range(3)]
    assert aurc(y, s, "multilabel") == pytest.approx(np.mean(per_label), abs=1e-12)
    coverage, _ = risk_coverage(y, s, "multilabel", label=1)
    assert len(coverage) == 53
    with pytest.raises(StatisticsError, match="label="):
        risk_coverage(y, s, "multilabel")


def test_bad_inputs_are_refused():
    with pytest.raises(StatisticsError, match="problem must be"):
        aurc(Y4, S4, "regression")
    with pytest.raises(StatisticsError, match="thresholds"):
        aurc(Y4, S4, "binary", thresholds=[1.0])
    with pytest.raises(StatisticsError, match="one shape"):
        aurc(Y4, S4[:3], "binary")


def test_cluster_bootstrap_equals_the_loop_on_the_drawn_images():
    rng = np.random.default_rng(8)
    patient = np.repeat(np.arange(40), rng.integers(1, 4, 40)).astype(str)
    n = len(patient)
    y = np.eye(3)[rng.integers(0, 3, n)]
    s = rng.dirichlet(np.ones(3), n) + 0.4 * y
    s /= s.sum(axis=1, keepdims=True)
    frame = predictions_frame([f"i{i}" for i in range(n)], list(patient), y, s, ("a", "b", "c"))
    interval = aurc_ci(frame, "multiclass", n_resamples=300, seed=4)
    resamples = draw_resamples(Clusters.of(patient), 300, 4)
    assert resamples.clusters.unit == "patient"
    confidence, correct = confidence_correctness(y, s, "multiclass")
    values = aurc_values(confidence, correct, resamples.weights())
    for b in (0, 1, 150, 299):
        rows = resamples.image_indices(b)
        assert values[b] == pytest.approx(reference_tie_averaged(correct[rows, 0], confidence[rows, 0]), abs=1e-10)
    assert interval.value == pytest.approx(aurc(y, s, "multiclass"))
    expected = bootstrap_interval(interval.value, values, 0.95)
    assert (interval.ci_low, interval.ci_high) == pytest.approx((expected.ci_low, expected.ci_high))
    assert interval.ci_low < interval.value < interval.ci_high
    excess = aurc_ci(frame, "multiclass", n_resamples=50, seed=4, excess=True)
    assert excess.value == pytest.approx(e_aurc(y, s, "multiclass"))
