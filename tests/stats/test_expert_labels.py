"""nih14 predictions scored against Google's 2019 expert labels, on the real label file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.cli import main
from benchmark.errors import StatisticsError
from benchmark.metrics.predictions import predictions_frame
from benchmark.stats.expert_labels import EXPERT_MAPPING, GOOGLE_LABELS_FILE, expert_scores, score_expert
from benchmark.tasks import TASKS
from tests.fixtures.runs.make import toy_task, write_run

LABELS = TASKS.get("nih14").labels
N_OTHER = 5  # test images Google did not label, and as many of Google's "val" images


@pytest.fixture(scope="module")
def google(shared_data: Path) -> pd.DataFrame:
    """Google's file as released, read independently of the module under test."""
    return pd.read_csv(shared_data / "nih14" / GOOGLE_LABELS_FILE)


@pytest.fixture(scope="module")
def labels_file(shared_data: Path) -> Path:
    return shared_data / "nih14" / GOOGLE_LABELS_FILE


@pytest.fixture(scope="module")
def predictions(google: pd.DataFrame, shared_data: Path) -> pd.DataFrame:
    """Seeded scores over Google's test images (with some signal), plus images that must be ignored."""
    rng = np.random.default_rng(0)
    test = google[google["Set Id"] == "test"]
    listed = (shared_data / "nih14" / "test_list.txt").read_text().split()
    labelled = set(test["Image Index"])
    others = [i for i in listed if i not in labelled][:N_OTHER]
    val = google[google["Set Id"] == "val"].head(N_OTHER)
    ids = [*test["Image Index"], *others, *val["Image Index"]]
    patients = [*test["Patient ID"].astype(str), *(str(int(i[:8])) for i in others), *val["Patient ID"].astype(str)]
    n = len(ids)
    y_score = rng.uniform(size=(n, len(LABELS)))
    signal = {"Pneumothorax": "Pneumothorax", "Mass": "Nodule or mass", "Consolidation": "Airspace opacity"}
    for label, finding in signal.items():
        yes = np.r_[(test[finding] == "YES").to_numpy(), np.zeros(2 * N_OTHER, bool)]
        y_score[:, LABELS.index(label)] += 0.4 * yes
    y_true = rng.integers(0, 2, size=(n, len(LABELS))).astype(float)
    return predictions_frame(ids, patients, y_true, y_score, LABELS)


def test_covers_googles_test_images_only(predictions: pd.DataFrame, google: pd.DataFrame, labels_file: Path) -> None:
    test = google[google["Set Id"] == "test"]
    assert (len(test), test["Patient ID"].nunique()) == (1962, 860)  # the counts, from the file itself
    table = expert_scores(predictions, labels_file)
    assert set(table["image_id"]) == set(test["Image Index"])
    assert table["patient_id"].nunique() == 860
    result = score_expert(predictions, labels_file, n_resamples=50)
    assert (result.n_images, result.n_patients, result.n_ignored) == (1962, 860, 2 * N_OTHER)
    assert result.bootstrap["unit"] == "patient"


def test_auroc_matches_scikit_learn(predictions: pd.DataFrame, google: pd.DataFrame, labels_file: Path) -> None:
    test = google[google["Set Id"] == "test"]
    ours = predictions.set_index("image_id").loc[test["Image Index"]]
    result = score_expert(predictions, labels_file, n_resamples=200).table.set_index("finding")
    assert list(result.index) == list(EXPERT_MAPPING)
    for finding, labels in EXPERT_MAPPING.items():
        truth = (test[finding] == "YES").to_numpy()
        score = np.max(np.stack([ours[f"score:{label}"].to_numpy() for label in labels]), axis=0)
        expected = roc_auc_score(truth, score)
        row = result.loc[finding]
        assert row["auroc"] == pytest.approx(expected, abs=1e-12)
        assert row["ci_low"] < row["auroc"] < row["ci_high"]
        assert (row["n_positive"], row["n_negative"]) == (truth.sum(), (~truth).sum())
    assert result.loc["Nodule or mass", "auroc"] > 0.6  # the signal added to Mass is scored


def test_nodule_or_mass_is_the_larger_score(predictions: pd.DataFrame, labels_file: Path) -> None:
    built = predictions.copy()
    built["score:Mass"] = 0.5
    built["score:Nodule"] = np.where(np.arange(len(built)) % 2 == 0, 0.9, 0.1)  # above Mass on even rows only
    table = expert_scores(built, labels_file).set_index("image_id")
    even = built.set_index("image_id")["score:Nodule"].loc[table.index] == 0.9
    expected = np.where(even, 0.9, 0.5)
    np.testing.assert_array_equal(table["score:Nodule or mass"], expected)
    assert 0 < even.sum() < len(table)
    source = built.set_index("image_id").loc[table.index]
    np.testing.assert_array_equal(table["score:Pneumothorax"], source["score:Pneumothorax"])


def test_missing_score_column_is_named(predictions: pd.DataFrame, labels_file: Path) -> None:
    with pytest.raises(StatisticsError, match=r"score:Mass"):
        score_expert(predictions.drop(columns="score:Mass"), labels_file, n_resamples=10)


def test_cli_prints_the_table_and_writes_nothing(
    predictions: pd.DataFrame, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    run_id = write_run(results, predictions, toy_task("multilabel", LABELS, name="nih14"), "toy", 0)
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*")}
    argv = ["evaluate-expert", run_id[:24], "--data-root", str(shared_data), "--results", str(results)]
    assert main([*argv, "--n-resamples", "20"]) == 0
    out = capsys.readouterr().out
    assert "1962 test images of 860 patients" in out and f"({2 * N_OTHER} other test images ignored)" in out
    assert "Nodule or mass" in out and "max(Nodule, Mass)" in out and "Fracture" in out
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*")} == before


def test_a_run_of_another_task_is_refused(
    predictions: pd.DataFrame, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    run_id = write_run(results, predictions, toy_task("multilabel", LABELS, name="chestmnist"), "toy", 0)
    assert main(["evaluate-expert", run_id, "--data-root", str(shared_data), "--results", str(results)]) == 2
    assert "is a run of task chestmnist" in capsys.readouterr().err
