import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from benchmark.errors import ConfigError
from benchmark.metrics.thresholds import choose_thresholds
from benchmark.tasks import TASKS, task_from_dict


def _data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    return y[:, None], np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)[:, None]


@pytest.mark.parametrize("target", [0.8, 0.95, 1.0])
def test_target_sensitivity_is_the_highest_threshold_reaching_the_target(target):
    y, score = _data()
    (threshold,) = choose_thresholds("target_sensitivity", y, score, target)
    assert recall_score(y[:, 0], score[:, 0] >= threshold) >= target
    higher = np.min(score[score > threshold]) if (score > threshold).any() else threshold + 1
    assert recall_score(y[:, 0], score[:, 0] >= higher) < target


def test_max_f1_threshold_beats_every_other_cut():
    y, score = _data(seed=1)
    (threshold,) = choose_thresholds("max_f1", y, score)
    best = f1_score(y[:, 0], score[:, 0] >= threshold)
    assert all(f1_score(y[:, 0], score[:, 0] >= t) <= best + 1e-12 for t in np.unique(score))


def test_labels_without_positives_keep_half_and_nan_is_masked():
    y = np.array([[0.0, 1.0], [0.0, np.nan], [0.0, 0.0]])
    score = np.array([[0.2, 0.9], [0.4, 0.1], [0.3, 0.3]])
    assert choose_thresholds("target_sensitivity", y, score, 0.95) == [0.5, 0.9]


def test_unknown_rule():
    with pytest.raises(ConfigError, match="max_f1"):
        choose_thresholds("youden", *_data())


def _pneumonia(**changes):
    return task_from_dict({**TASKS.get("pneumonia").__dict__, **changes}, "test")


def test_the_task_states_its_target_and_tunes_with_it():
    y, score = _data(seed=2)
    task = _pneumonia(target_sensitivity=0.8)
    assert task.tune_thresholds(y, score) == choose_thresholds("target_sensitivity", y, score, 0.8)
    assert task.threshold_rule == "target_sensitivity, target 0.8"
    with pytest.raises(ConfigError, match="fixed threshold"):
        _pneumonia(threshold=0.5).tune_thresholds(y, score)


def test_the_default_target_keeps_the_task_hash():
    stated = _pneumonia(target_sensitivity=0.95)
    left_out = {k: v for k, v in TASKS.get("pneumonia").__dict__.items() if k != "target_sensitivity"}
    assert stated.task_hash == task_from_dict(left_out, "test").task_hash == TASKS.get("pneumonia").task_hash
    assert _pneumonia(target_sensitivity=0.9).task_hash != stated.task_hash


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target_sensitivity": 1.5}, r"in \(0, 1\]"),
        ({"target_sensitivity": "high"}, r"in \(0, 1\]"),
        ({"target_sensitivity": 0.9, "threshold": "max_f1"}, "read only by"),
    ],
)
def test_a_wrong_target_is_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        _pneumonia(**changes)
