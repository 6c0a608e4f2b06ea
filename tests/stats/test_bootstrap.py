"""Bootstrap CIs against scipy.stats.bootstrap (same resamples), explicit scikit-learn loops and hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn import metrics as skm

import benchmark.metrics.auroc
from benchmark.errors import BenchmarkError, ConfigError, StatisticsError, UnknownNameError
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.predictions import predictions_frame
from benchmark.stats import bootstrap_ci, draw_resamples, metric_values, prediction_inputs
from benchmark.stats.resample import Clusters
from benchmark.tasks import TASKS, task_from_dict
from tests.fixtures.runs.make import patients, scores, truth


def _iid_binary(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    s = np.round(0.8 * y + rng.normal(size=n), 1)  # rounding makes ties
    ids = [f"i{i:04d}" for i in range(n)]  # sorted like the rows, so patient order = row order
    return predictions_frame(ids, ids, y[:, None], s[:, None], ("x",))


def _clustered(n_patients: int = 60, labels=("a", "b", "c", "d"), problem="multilabel", seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = patients(n_patients, rng, max_images=8)
    y = truth(pid, labels, problem, rng)
    s = np.round(scores(y, problem, 0.8, rng), 2)
    if problem == "multilabel":
        y[rng.random(y.shape) < 0.05] = np.nan  # unknown labels
    return predictions_frame([f"img{i}" for i in range(len(pid))], list(pid), y, s, labels)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_iid_interval_equals_scipy_bootstrap_with_the_same_resamples(method):
    frame = _iid_binary()
    y, s = frame["true:x"].to_numpy(), frame["score:x"].to_numpy()
    ours = bootstrap_ci(frame, "auroc", n_resamples=999, method=method, seed=np.random.default_rng(3))
    reference = scipy.stats.bootstrap(
        (y, s), skm.roc_auc_score, paired=True, vectorized=False, n_resamples=999, method=method,
        rng=np.random.default_rng(3),
    )  # fmt: skip
    assert ours.n_degenerate == 0
    assert ours.value == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert ours.ci_low == pytest.approx(reference.confidence_interval.low, abs=1e-12)
    assert ours.ci_high == pytest.approx(reference.confidence_interval.high, abs=1e-12)


def test_iid_threshold_metric_equals_scipy_bootstrap():
    frame = _iid_binary(seed=4)
    y, s = frame["true:x"].to_numpy(), frame["score:x"].to_numpy()
    ours = bootstrap_ci(frame, "accuracy", n_resamples=500, seed=11, thresholds=[0.3])
    reference = scipy.stats.bootstrap(
        (y, s >= 0.3), skm.accuracy_score, paired=True, vectorized=False, n_resamples=500, method="percentile",
        rng=np.random.default_rng(11),
    )  # fmt: skip
    assert (ours.ci_low, ours.ci_high) == pytest.approx(tuple(reference.confidence_interval), abs=1e-12)


def test_patient_cluster_intervals_equal_a_sklearn_loop_over_the_same_resamples():
    frame = _clustered()
    inputs = prediction_inputs(frame, "multilabel")
    clusters = Clusters.of(frame["patient_id"].to_numpy())
    assert clusters.unit == "patient" and clusters.n_clusters == 60
    resamples = draw_resamples(clusters, 300, seed=5)
    loop = np.full((300, 4), np.nan)
    for b in range(300):
        rows = resamples.image_indices(b)
        for k in range(4):
            y, s = inputs.y_true[rows, k], inputs.y_score[rows, k]
            known = ~np.isnan(y)
            if len(np.unique(y[known])) == 2:
                loop[b, k] = skm.roc_auc_score(y[known], s[known])
    weights = resamples.weights()
    for k, label in enumerate(inputs.labels):
        np.testing.assert_allclose(metric_values(inputs, f"auroc/{label}", weights), loop[:, k], atol=1e-12)
    np.testing.assert_allclose(metric_values(inputs, "auroc", weights), loop.mean(axis=1), atol=1e-12)
    interval = bootstrap_ci(frame, "auroc/b", n_resamples=300, seed=5, problem="multilabel")
    finite = loop[:, 1][~np.isnan(loop[:, 1])]
    assert (interval.ci_low, interval.ci_high) == pytest.approx(tuple(np.quantile(finite, [0.025, 0.975])), abs=1e-12)
    assert interval.n_degenerate == int(np.isnan(loop[:, 1]).sum())


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "f1", "sensitivity/b", "specificity/c"])
def test_every_threshold_metric_on_cluster_resamples_equals_sklearn(metric):
    frame = _clustered(40, labels=("a", "b", "c"), problem="multiclass", seed=2)
    inputs = prediction_inputs(frame, "multiclass")
    resamples = draw_resamples(Clusters.of(frame["patient_id"].to_numpy()), 20, seed=0)
    values = metric_values(inputs, metric, resamples.weights())
    for b in range(20):
        rows = resamples.image_indices(b)
        true, pred = inputs.true_class[rows], inputs.predicted_class[rows]
        reference = {
            "accuracy": lambda t=true, p=pred: skm.accuracy_score(t, p),
            "balanced_accuracy": lambda t=true, p=pred: skm.balanced_accuracy_score(t, p),
            "f1": lambda t=true, p=pred: skm.f1_score(t, p, average="macro", labels=[0, 1, 2], zero_division=np.nan),
            "sensitivity/b": lambda t=true, p=pred: skm.recall_score(t == 1, p == 1),
            "specificity/c": lambda t=true, p=pred: skm.recall_score(t == 2, p == 2, pos_label=False),
        }[metric]()
        assert values[b] == pytest.approx(reference, abs=1e-12)


def test_a_patient_with_many_images_does_not_narrow_the_interval():
    """Every image copied 5 times within its patient: the patient bootstrap gives exactly the
    interval of the one-image-per-patient data; resampling images would be narrower."""
    single = _iid_binary(120, seed=7)
    copied = single.loc[single.index.repeat(5)].reset_index(drop=True)
    copied["image_id"] = [f"{p}-{i % 5}" for i, p in enumerate(copied["patient_id"])]
    reference = bootstrap_ci(single, "auroc", n_resamples=400, seed=1)
    by_patient = bootstrap_ci(copied, "auroc", n_resamples=400, seed=1)
    by_image = bootstrap_ci(copied, "auroc", n_resamples=400, seed=1, cluster=None)
    assert (by_patient.ci_low, by_patient.ci_high) == pytest.approx((reference.ci_low, reference.ci_high), abs=1e-12)
    assert by_image.ci_high - by_image.ci_low < 0.6 * (reference.ci_high - reference.ci_low)


def test_degenerate_resamples_are_counted_exactly_and_stratification_avoids_them():
    ids = [f"p{i}" for i in range(10)]
    y = np.array([1.0] + [0.0] * 9)
    frame = predictions_frame(ids, ids, y[:, None], np.linspace(0, 1, 10)[:, None], ("x",))
    result = bootstrap_ci(frame, "auroc", n_resamples=300, seed=0)
    # The resamples that miss the one positive (cluster 0), counted from the drawn indices.
    indices = draw_resamples(Clusters.of(None, 10), 300, seed=0).indices
    assert result.n_degenerate == int((~(indices == 0).any(axis=1)).sum()) > 0
    assert 0 <= result.ci_low <= result.ci_high <= 1
    stratified = bootstrap_ci(frame, "auroc", n_resamples=300, seed=0, stratify=True)
    assert stratified.n_degenerate == 0


def test_stratified_resamples_keep_the_number_of_patients_with_positives():
    frame = _clustered(50, labels=("x",), problem="binary", seed=3)
    clusters = Clusters.of(frame["patient_id"].to_numpy())
    has_positive = np.bincount(clusters.cluster_of, frame["true:x"].to_numpy() == 1, minlength=50) > 0
    resamples = draw_resamples(clusters, 200, seed=0, strata=has_positive)
    drawn_positive = has_positive[resamples.indices].sum(axis=1)
    assert np.all(drawn_positive == has_positive.sum())
    assert resamples.indices.shape == (200, 50)


def test_nan_labels_are_masked():
    frame = _clustered(30, seed=8)
    y, s = frame["true:c"].to_numpy(), frame["score:c"].to_numpy()
    known = ~np.isnan(y)
    assert (~known).any()
    interval = bootstrap_ci(frame, "auroc/c", n_resamples=50, problem="multilabel")
    assert interval.value == pytest.approx(skm.roc_auc_score(y[known], s[known]), abs=1e-12)
    binary = frame[["image_id", "patient_id", "true:c", "score:c"]]
    assert bootstrap_ci(binary, "accuracy", n_resamples=20).value == pytest.approx(
        skm.accuracy_score(y[known], s[known] >= 0.5)
    )


def test_jackknife_auroc_equals_sklearn_leaving_each_patient_out():
    frame = _clustered(25, labels=("x",), problem="binary", seed=9)
    inputs = prediction_inputs(frame)
    clusters = Clusters.of(frame["patient_id"].to_numpy())
    values = metric_values(inputs, "auroc", clusters.jackknife())
    for j in range(clusters.n_clusters):
        keep = clusters.cluster_of != j
        expected = skm.roc_auc_score(inputs.y_true[keep, 0], inputs.y_score[keep, 0])
        assert values[j] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("path", ["pair_matrix", "sorted"])
def test_both_auroc_kernels_equal_sklearn_with_ties_and_hard_scores(path, monkeypatch):
    monkeypatch.setattr(benchmark.metrics.auroc, "PAIR_COST_RATIO", 10**9 if path == "pair_matrix" else 0)
    rng = np.random.default_rng(12)
    pid = patients(80, rng)
    _, cluster = np.unique(pid, return_inverse=True)
    y = (rng.random(len(pid)) < 0.3).astype(float)
    counts = rng.integers(0, 3, (30, cluster.max() + 1)).astype(float)
    weights = ClusterWeights(cluster, cluster.max() + 1, counts)
    for s in (np.round(y + rng.normal(size=len(y)), 1), (rng.random(len(y)) < 0.5 + 0.3 * y).astype(float)):
        got = benchmark.metrics.auroc.weighted_auroc(y, s, weights)
        for b in range(30):
            expected = skm.roc_auc_score(y, s, sample_weight=counts[b, cluster])
            assert got[b] == pytest.approx(expected, abs=1e-12)


def test_metric_names_and_inputs_are_checked_with_typed_errors():
    frame = _clustered(10, seed=10)
    with pytest.raises(StatisticsError, match="problem='multiclass' or problem='multilabel'"):
        bootstrap_ci(frame, "auroc")
    with pytest.raises(UnknownNameError, match="did you mean auroc"):
        bootstrap_ci(frame, "aurco", problem="multilabel")
    with pytest.raises(StatisticsError, match=r"'auroc/zz' is not a value of metric 'auroc'.*auroc/a"):
        bootstrap_ci(frame, "auroc/zz", problem="multilabel")
    with pytest.raises(StatisticsError, match="does not apply to a multilabel task"):
        bootstrap_ci(frame, "accuracy", problem="multilabel")
    with pytest.raises(StatisticsError, match="cluster=None"):
        bootstrap_ci(frame, "auroc", problem="multilabel", cluster="study_id")
    with pytest.raises(StatisticsError, match="percentile"):
        bootstrap_ci(frame, "auroc", problem="multilabel", method="basic")
    with pytest.raises(StatisticsError, match="stratify"):
        bootstrap_ci(frame, "auroc", problem="multilabel", stratify=True)
    with pytest.raises(StatisticsError, match="one per label"):
        bootstrap_ci(frame, "f1", problem="multilabel", thresholds=[0.5])
    assert issubclass(StatisticsError, BenchmarkError)


def test_task_evaluate_keeps_the_record_shape_with_patient_cluster_intervals():
    task = TASKS.get("nih14")
    frame = _clustered(80, labels=task.labels, seed=11)
    result = task.evaluate(frame, thresholds=[0.5] * len(task.labels), n_resamples=200)
    assert result["bootstrap"] == {
        "n_resamples": 200, "seed": 0, "unit": "patient", "n_units": 80, "method": "percentile", "level": 0.95,
    }  # fmt: skip
    metrics = result["metrics"]
    assert set(metrics["auroc"]) == {"value", "ci_low", "ci_high", "n_degenerate"}
    inputs = prediction_inputs(frame, "multilabel")
    per_label = []
    for k, label in enumerate(task.labels):
        known = ~np.isnan(inputs.y_true[:, k])
        per_label.append(skm.roc_auc_score(inputs.y_true[known, k], inputs.y_score[known, k]))
        assert metrics[f"auroc/{label}"]["value"] == pytest.approx(per_label[-1], abs=1e-12)
    assert metrics["auroc[findings14]"]["value"] == pytest.approx(np.mean(per_label[:14]), abs=1e-12)
    assert metrics["auroc"]["ci_low"] < metrics["auroc"]["value"] < metrics["auroc"]["ci_high"]


def test_task_bootstrap_method_is_validated_and_recorded():
    spec = dict(TASKS.get("nih14").__dict__)
    with pytest.raises(ConfigError, match=r"bootstrap\.method"):
        task_from_dict({**spec, "bootstrap": {"method": "basic"}}, "spec")
    task = task_from_dict({**spec, "bootstrap": {"n_resamples": 100, "method": "bca"}}, "spec")
    frame = _clustered(40, labels=task.labels, seed=12)
    result = task.evaluate(frame, thresholds=[0.5] * len(task.labels))
    assert result["bootstrap"]["method"] == "bca"
    expected = bootstrap_ci(frame, "auroc/Effusion", 100, method="bca", problem="multilabel")
    assert result["metrics"]["auroc/Effusion"] == expected.to_dict()
