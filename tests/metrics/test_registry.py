"""Every metric against scikit-learn, point estimates and weighted (bootstrap) resamples."""

import numpy as np
import pytest
from sklearn import metrics as skm

from benchmark.metrics.registry import EvalInputs, compute_metrics, confusion_matrix, weighted_auroc
from benchmark.stats.bootstrap import bootstrap_metrics
from benchmark.stats.resample import Clusters, draw_resamples

ALL = ("auroc", "accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1")


def _binary(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    score = np.round(np.clip(0.35 * y + rng.normal(0.4, 0.25, n), 0, 1), 2)  # rounding makes ties
    return EvalInputs("binary", ("pneumonia",), y[:, None], score[:, None], thresholds=(0.5,))


def _multiclass(n=300, k=3, seed=1):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[true]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return EvalInputs("multiclass", ("a", "b", "c"), np.eye(k)[true], prob)


def _point(inputs):
    return {k: v[0] for k, v in compute_metrics(inputs, ALL, np.ones((1, len(inputs.y_true)))).items()}


def test_binary_metrics_match_sklearn():
    inputs = _binary()
    y, s = inputs.y_true[:, 0], inputs.y_score[:, 0]
    pred = (s >= 0.5).astype(int)
    got = _point(inputs)
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert got["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert got["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    matrix, names = confusion_matrix(inputs)
    assert matrix == skm.confusion_matrix(y, pred).tolist()
    assert names == ("negative", "pneumonia")


def test_multiclass_metrics_match_sklearn():
    inputs = _multiclass()
    true, pred = inputs.true_class, inputs.predicted_class
    got = _point(inputs)
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(true, inputs.y_score, multi_class="ovr", average="macro"))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(true, pred))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(true, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(true, pred, average="macro"))
    assert got["precision"] == pytest.approx(skm.precision_score(true, pred, average="macro"))
    assert got["sensitivity"] == pytest.approx(skm.recall_score(true, pred, average="macro"))
    for k, name in enumerate(inputs.labels):
        assert got[f"sensitivity/{name}"] == pytest.approx(skm.recall_score(true == k, pred == k))
        assert got[f"specificity/{name}"] == pytest.approx(skm.recall_score(true == k, pred == k, pos_label=False))
        assert got[f"precision/{name}"] == pytest.approx(skm.precision_score(true == k, pred == k))
        assert got[f"f1/{name}"] == pytest.approx(skm.f1_score(true == k, pred == k))
        assert got[f"auroc/{name}"] == pytest.approx(skm.roc_auc_score(true == k, inputs.y_score[:, k]))
    assert confusion_matrix(inputs)[0] == skm.confusion_matrix(true, pred).tolist()


def test_undefined_values_are_nan_like_sklearn_zero_division_nan():
    y = np.array([0, 0, 1, 1.0])
    inputs = EvalInputs("binary", ("x",), y[:, None], np.array([[0.1], [0.2], [0.3], [0.4]]))
    got = _point(inputs)  # nothing predicted positive at 0.5
    assert np.isnan(got["precision"])
    assert np.isnan(skm.precision_score(y, np.zeros(4), zero_division=np.nan))
    assert np.isnan(weighted_auroc(np.ones(5), np.arange(5.0), np.ones((1, 5))))[0]


def test_weighted_metrics_equal_sklearn_on_each_resample():
    """A resample is a weight vector; sklearn's sample_weight gives the same numbers."""
    for inputs in (_binary(120, seed=3), _multiclass(120, seed=4)):
        weights = draw_resamples(Clusters.of(None, len(inputs.y_true)), 5, seed=0).weights()
        values = compute_metrics(inputs, ALL, weights)
        for b, w in enumerate(weights.dense()):
            if inputs.problem == "binary":
                y, s = inputs.y_true[:, 0], inputs.y_score[:, 0]
                pred = (s >= 0.5).astype(int)
                assert values["auroc"][b] == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w))
                assert values["f1"][b] == pytest.approx(skm.f1_score(y, pred, sample_weight=w))
            else:
                true, pred = inputs.true_class, inputs.predicted_class
                assert values["auroc"][b] == pytest.approx(
                    np.mean([skm.roc_auc_score(true == k, inputs.y_score[:, k], sample_weight=w) for k in range(3)])
                )
                assert values["balanced_accuracy"][b] == pytest.approx(
                    skm.balanced_accuracy_score(true, pred, sample_weight=w)
                )
            assert values["accuracy"][b] == pytest.approx(
                skm.accuracy_score(
                    inputs.y_true.argmax(1) if inputs.problem != "binary" else inputs.y_true[:, 0],
                    inputs.predicted_class if inputs.problem != "binary" else (inputs.y_score[:, 0] >= 0.5),
                    sample_weight=w,
                )
            )


def test_percentile_interval_equals_an_explicit_resampling_loop():
    inputs = _binary(200, seed=5)
    n = len(inputs.y_true)
    resamples = draw_resamples(Clusters.of(None, n), 500, seed=7)
    intervals = bootstrap_metrics(inputs, ("auroc",), resamples)
    # The same resamples, each expanded into an index list and scored by sklearn.
    loop = [
        skm.roc_auc_score(inputs.y_true[idx, 0], inputs.y_score[idx, 0])
        for idx in map(resamples.image_indices, range(500))
    ]
    low, high = np.quantile(loop, [0.025, 0.975])
    assert intervals["auroc"].ci_low == pytest.approx(low)
    assert intervals["auroc"].ci_high == pytest.approx(high)
    assert intervals["auroc"].value == pytest.approx(skm.roc_auc_score(inputs.y_true[:, 0], inputs.y_score[:, 0]))
    assert intervals["auroc"].ci_low < intervals["auroc"].value < intervals["auroc"].ci_high


def test_degenerate_resamples_are_counted_not_fatal():
    y = np.array([1.0] + [0.0] * 9)
    inputs = EvalInputs("binary", ("x",), y[:, None], np.linspace(0, 1, 10)[:, None])
    result = bootstrap_metrics(inputs, ("auroc",), draw_resamples(Clusters.of(None, 10), 300, seed=0))["auroc"]
    # P(the single positive is never drawn) = 0.9**10 ~ 0.35
    assert 60 < result.n_degenerate < 150
    assert 0 <= result.ci_low <= result.ci_high <= 1


def test_cluster_bootstrap_draws_whole_patients():
    clusters = np.array(["p1", "p1", "p1", "p2", "p3", "p3"])
    weights = draw_resamples(Clusters.of(clusters), 50, seed=0).weights().dense()
    assert np.all(weights[:, 0] == weights[:, 1]) and np.all(weights[:, 1] == weights[:, 2])
    assert np.all(weights[:, 4] == weights[:, 5])
    # three patients drawn per resample
    assert np.all(weights[:, [0, 3, 4]].sum(axis=1) == 3)


def test_multilabel_metrics_per_label_thresholds_and_nan_masking():
    rng = np.random.default_rng(9)
    n, labels = 400, ("a", "b", "c", "none")
    y = (rng.random((n, 4)) < [0.3, 0.2, 0.5, 0.4]).astype(float)
    score = np.clip(0.3 * y + rng.random((n, 4)) * 0.7, 0, 1)
    y[rng.random((n, 4)) < 0.1] = np.nan  # unknown labels
    thresholds = (0.4, 0.5, 0.6, 0.45)
    inputs = EvalInputs("multilabel", labels, y, score, thresholds, {"findings": ("a", "b", "c")})
    names = ("auroc", "sensitivity", "specificity", "precision", "f1")
    got = {k: v[0] for k, v in compute_metrics(inputs, names, np.ones((1, n))).items()}
    per_label_auc = []
    for k, name in enumerate(labels):
        known = ~np.isnan(y[:, k])
        yk, pk = y[known, k], score[known, k] >= thresholds[k]
        per_label_auc.append(skm.roc_auc_score(yk, score[known, k]))
        assert got[f"auroc/{name}"] == pytest.approx(per_label_auc[-1])
        assert got[f"sensitivity/{name}"] == pytest.approx(skm.recall_score(yk, pk))
        assert got[f"specificity/{name}"] == pytest.approx(skm.recall_score(yk, pk, pos_label=0))
        assert got[f"precision/{name}"] == pytest.approx(skm.precision_score(yk, pk))
        assert got[f"f1/{name}"] == pytest.approx(skm.f1_score(yk, pk))
    assert got["auroc"] == pytest.approx(np.mean(per_label_auc))
    assert got["auroc[findings]"] == pytest.approx(np.mean(per_label_auc[:3]))
    assert got["f1"] == pytest.approx(np.mean([got[f"f1/{name}"] for name in labels]))
