"""External-set scores against scikit-learn on the same rows: binary, multilabel (mapped labels only) and
multiclass with a class the set lacks (per-class values and macro averages over the classes present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score

from benchmark.data.source import SourceIndex
from benchmark.external.data import ExternalData
from benchmark.external.labels import MappedFrame
from benchmark.external.scoring import score_external
from benchmark.external.spec import external_set
from benchmark.metrics.predictions import predictions_frame
from benchmark.tasks import TASKS

RNG = np.random.default_rng(7)


def _data(task, name: str, scored: list[str]) -> ExternalData:
    index = SourceIndex(pd.DataFrame(), load=lambda row: None)
    return ExternalData(
        external_set(task, name), Path("/tmp"), index, MappedFrame(pd.DataFrame(), scored_labels=scored), task.labels
    )


def _patients(n: int) -> list[str]:
    return [f"p{k // 2}" for k in range(n)]  # two images per patient: the bootstrap resamples patients


def _rows(result: dict) -> dict[str, dict]:
    return {row["metric"]: row for row in result["rows"]}


def test_multiclass_set_without_covid_is_scored_over_the_classes_present():
    task = TASKS.get("covid3")  # labels Covid, Normal, Viral Pneumonia; the Kermany set has no Covid
    n = 80
    true_class = RNG.integers(1, 3, n)  # Normal or Viral Pneumonia only
    logits = RNG.normal(size=(n, 3)) + 1.5 * np.eye(3)[true_class]
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.eye(3)[true_class]
    predictions = predictions_frame([f"i{k}" for k in range(n)], _patients(n), y, scores, task.labels)
    result = score_external(_data(task, "kermany_viral", ["Normal", "Viral Pneumonia"]), predictions, task, None)
    rows = _rows(result)

    per_class = {k: roc_auc_score(true_class == k, scores[:, k]) for k in (1, 2)}
    assert rows["auroc/Normal"]["value"] == pytest.approx(per_class[1], abs=1e-12)
    assert rows["auroc/Viral Pneumonia"]["value"] == pytest.approx(per_class[2], abs=1e-12)
    assert rows["auroc"]["value"] == pytest.approx((per_class[1] + per_class[2]) / 2, abs=1e-12)
    assert "auroc/Covid" not in rows and "sensitivity/Covid" not in rows
    predicted = scores.argmax(axis=1)  # a Covid prediction counts as wrong
    assert rows["accuracy"]["value"] == pytest.approx(accuracy_score(true_class, predicted))
    recalls = recall_score(true_class, predicted, labels=[1, 2], average=None)
    assert rows["sensitivity/Normal"]["value"] == pytest.approx(recalls[0])
    assert rows["sensitivity"]["value"] == pytest.approx(recalls.mean())
    assert rows["balanced_accuracy"]["value"] == pytest.approx(recalls.mean())
    for row in rows.values():
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
    settings = result["settings"]
    assert settings["absent_labels"] == ["Covid"] and settings["bootstrap"]["unit"] == "patient"
    assert settings["bootstrap"]["n_units"] == n // 2 and "classes present" in settings["how_scored"]
    assert result["summary"]["metric"] == "auroc" and result["summary"]["value"] == rows["auroc"]["value"]


def test_multilabel_set_is_scored_on_the_mapped_labels_only():
    task = TASKS.get("nih14")
    scored = ["Cardiomegaly", "Effusion", "Edema"]
    n = 60
    y = np.full((n, len(task.labels)), np.nan)
    scores = RNG.random((n, len(task.labels)))
    for label in scored:
        k = task.labels.index(label)
        y[:, k] = RNG.integers(0, 2, n)
        scores[:, k] = np.clip(0.3 * y[:, k] + 0.7 * RNG.random(n), 0, 1)
    predictions = predictions_frame([f"i{k}" for k in range(n)], _patients(n), y, scores, task.labels)
    thresholds = [0.5] * len(task.labels)
    result = score_external(_data(task, "chexpert_valid", scored), predictions, task, thresholds)
    rows = _rows(result)
    expected = {
        label: roc_auc_score(y[:, task.labels.index(label)], scores[:, task.labels.index(label)]) for label in scored
    }
    for label in scored:
        assert rows[f"auroc/{label}"]["value"] == pytest.approx(expected[label], abs=1e-12)
        k = task.labels.index(label)
        assert rows[f"sensitivity/{label}"]["value"] == pytest.approx(recall_score(y[:, k], scores[:, k] >= 0.5))
    assert rows["auroc"]["value"] == pytest.approx(np.mean(list(expected.values())), abs=1e-12)
    assert not any(m.startswith("auroc[") or m.endswith("/Atelectasis") for m in rows)
    assert set(result["settings"]["positives"]) == set(scored)


def test_binary_set_scores_like_the_tasks_own_test_set():
    task = TASKS.get("pneumonia")
    n = 50
    y = RNG.integers(0, 2, (n, 1)).astype(float)
    scores = np.clip(0.4 * y + 0.6 * RNG.random((n, 1)), 0, 1)
    predictions = predictions_frame([f"i{k}" for k in range(n)], [f"i{k}" for k in range(n)], y, scores, task.labels)
    result = score_external(_data(task, "covid3_test", ["PNEUMONIA"]), predictions, task, [0.42])
    rows = _rows(result)
    assert rows["auroc"]["value"] == pytest.approx(roc_auc_score(y[:, 0], scores[:, 0]), abs=1e-12)
    assert rows["sensitivity"]["value"] == pytest.approx(recall_score(y[:, 0], scores[:, 0] >= 0.42))
    assert (
        result["settings"]["thresholds"] == {"PNEUMONIA": 0.42} and result["settings"]["bootstrap"]["unit"] == "image"
    )
    own = task.evaluate(predictions, [0.42])
    assert rows["auroc"]["ci_low"] == pytest.approx(own["metrics"]["auroc"]["ci_low"])
