"""The audit's scoring on hand-made predictions: each condition's value and CI are Task.evaluate's on the
seed-averaged predictions (value checked against scikit-learn too), the paired test is against the full image,
and the flag follows the documented rule."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.audit.mask import CONDITIONS, FULL, LUNG_HIDDEN, LUNG_ONLY, LungMask
from benchmark.audit.run import DEFAULT_MARGIN, flag, score_audit
from benchmark.tasks import Task

N = 45


def predictions(y: np.ndarray, skill: float, rng: np.random.Generator) -> pd.DataFrame:
    logits = skill * np.eye(3)[y] + rng.normal(size=(len(y), 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ids = range(len(y))
    frame = pd.DataFrame({"image_id": [f"img{i:03d}" for i in ids], "patient_id": [f"p{i // 3}" for i in ids]})
    for k, label in enumerate(("Covid", "Normal", "Viral Pneumonia")):
        frame[f"true:{label}"] = (y == k).astype(float)
        frame[f"score:{label}"] = probs[:, k]
    return frame


def fake_record(condition: str, seed: int) -> SimpleNamespace:
    return SimpleNamespace(
        run_id=f"{condition}-s{seed}",
        seed=seed,
        task=SimpleNamespace(hash=condition * 3),
        model=SimpleNamespace(name="toy", input=SimpleNamespace(image_size=64)),
        thresholds_list=lambda labels=None: None,
    )


@pytest.fixture(scope="module")
def runs() -> dict[str, list[tuple[SimpleNamespace, pd.DataFrame]]]:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, N)
    skills = {FULL: 3.0, LUNG_HIDDEN: 2.0, LUNG_ONLY: 0.0}
    return {c: [(fake_record(c, s), predictions(y, skills[c], rng)) for s in (0, 1)] for c in CONDITIONS}


def test_rows_are_task_evaluate_on_seed_averaged_predictions(tiny_covid_task: Task, runs: dict) -> None:
    report = score_audit(tiny_covid_task, runs, LungMask())
    rows = {row["condition"]: row for row in report["rows"]}
    labels = list(tiny_covid_task.labels)
    for condition in CONDITIONS:
        frames = [frame for _, frame in runs[condition]]
        averaged = frames[0].copy()
        scores = [f"score:{label}" for label in labels]
        averaged[scores] = (frames[0][scores] + frames[1][scores]) / 2
        reference = tiny_covid_task.evaluate(averaged)["metrics"]["auroc"]
        row = rows[condition]
        assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx(
            (reference["value"], reference["ci_low"], reference["ci_high"]), abs=1e-12
        )
        truth = averaged[[f"true:{label}" for label in labels]].to_numpy().argmax(axis=1)
        expected = roc_auc_score(truth, averaged[scores].to_numpy(), multi_class="ovr", average="macro")
        assert row["value"] == pytest.approx(expected, abs=1e-9)
        assert row["n_images"] == N and row["n_patients"] == N // 3 and row["n_seeds"] == 2
    assert rows[FULL]["p_vs_full"] is np.nan or math.isnan(rows[FULL]["p_vs_full"])
    for condition in (LUNG_HIDDEN, LUNG_ONLY):
        row = rows[condition]
        assert row["diff_vs_full"] == pytest.approx(row["value"] - rows[FULL]["value"], abs=1e-12)
        assert row["diff_ci_low"] <= row["diff_vs_full"] <= row["diff_ci_high"]
        assert 0.0 <= row["p_vs_full"] <= 1.0
    assert rows[LUNG_ONLY]["p_vs_full"] < 0.05  # a model of noise against a skilled one
    summary = report["summary"]
    assert summary["chance"] == 0.5  # class prior: AUROC of a constant score
    assert summary["flagged"] == (rows[LUNG_HIDDEN]["ci_low"] > 0.5 + DEFAULT_MARGIN)
    assert report["settings"]["mask"]["pixel_rows"] == [10, 58] and report["settings"]["mask"]["image_size"] == 64
    assert report["settings"]["runs"][LUNG_ONLY] == ["lung_only-s0", "lung_only-s1"]


def test_skilled_border_model_is_flagged_and_noise_is_not(tiny_covid_task: Task, runs: dict) -> None:
    flagged = score_audit(tiny_covid_task, runs, LungMask())
    assert flagged["summary"]["flagged"] and flagged["summary"]["lung_hidden_ci_low"] > 0.6
    swapped = {**runs, LUNG_HIDDEN: runs[LUNG_ONLY]}  # the lung-hidden model now scores noise
    assert not score_audit(tiny_covid_task, swapped, LungMask())["summary"]["flagged"]


@pytest.mark.parametrize(
    ("ci_low", "chance", "margin", "expected"),
    [
        (0.61, 0.5, 0.10, True),
        (0.60, 0.5, 0.10, False),  # strictly above the bar
        (0.55, 0.5, 0.10, False),
        (0.55, 0.5, 0.0, True),
        (0.45, 0.33, 0.10, True),  # another chance level (e.g. a majority-class accuracy)
        (float("nan"), 0.5, 0.10, False),
    ],
)
def test_flag_rule_on_hand_made_numbers(ci_low: float, chance: float, margin: float, expected: bool) -> None:
    assert flag(ci_low, chance, margin) is expected
