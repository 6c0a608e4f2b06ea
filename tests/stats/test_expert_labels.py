"""nih14 predictions scored against Google's 2019 expert labels, on the real label file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.cli import main
from benchmark.errors import StatisticsError
from benchmark.metrics.predictions import predictions_frame
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from benchmark.stats.expert_labels import (
    EXPERT_MAPPING,
    GOOGLE_LABELS_FILE,
    expert_scores,
    export_section,
    run_expert,
    score_expert,
)
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
        # the same scores against NIH's text-mined labels mapped the same way (any of them), same images
        text = np.max(np.stack([ours[f"true:{label}"].to_numpy() for label in labels]), axis=0)
        assert row["text_auroc"] == pytest.approx(roc_auc_score(text, score), abs=1e-12)
        assert row["text_n_positive"] == text.sum()
        assert row["text_ci_low"] < row["text_auroc"] < row["text_ci_high"]
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


def test_dry_run_prints_the_table_and_writes_nothing(
    predictions: pd.DataFrame, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    run_id = write_run(results, predictions, toy_task("multilabel", LABELS, name="nih14"), "toy", 0)
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*")}
    argv = ["evaluate-expert", run_id[:24], "--data-root", str(shared_data), "--results", str(results)]
    assert main([*argv, "--n-resamples", "20", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1962 test images of 860 patients" in out and f"({2 * N_OTHER} other test images ignored)" in out
    assert "Nodule or mass" in out and "max(Nodule, Mass)" in out and "Fracture" in out
    assert "nothing written" in out
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*")} == before


def test_the_result_is_written_beside_the_run_and_read_back(
    predictions: pd.DataFrame, shared_data: Path, labels_file: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    run_id = write_run(results, predictions, toy_task("multilabel", LABELS, name="nih14"), "toy", 0)
    run_dir = results / run_id
    record_before = (run_dir / "record.json").read_bytes()
    argv = ["evaluate-expert", run_id, "--data-root", str(shared_data), "--results", str(results)]
    assert main([*argv, "--n-resamples", "30", "--seed", "4"]) == 0
    path = run_dir / "derived" / "expert" / "google2019.json"
    stored = json.loads(path.read_text())
    assert stored["inputs"] == {
        "predictions_sha256": hashlib.sha256((run_dir / "predictions.parquet").read_bytes()).hexdigest(),
        "labels_sha256": hashlib.sha256(labels_file.read_bytes()).hexdigest(),
    }
    assert (run_dir / "record.json").read_bytes() == record_before  # the record is never rewritten
    record = ResultsDir(results).load_record(run_id)
    read = run_expert(run_dir, record)
    assert read is not None and read["source"] == "derived"
    assert (read["settings"]["n_resamples"], read["settings"]["seed"]) == (30, 4)
    assert read["settings"]["n_images"] == 1962 and read["settings"]["labels_file"] == GOOGLE_LABELS_FILE
    expected = score_expert(predictions, labels_file, n_resamples=30, seed=4).table
    assert [r["finding"] for r in read["rows"]] == list(EXPERT_MAPPING)
    for row, want in zip(read["rows"], expected.to_dict("records"), strict=True):
        for column in ("auroc", "ci_low", "ci_high", "text_auroc", "text_ci_low", "text_ci_high"):
            assert row[column] == pytest.approx(want[column], abs=1e-12)
    # a derived file of other predictions is stale: the reader falls back to the record (none here)
    stored["inputs"]["predictions_sha256"] = "0" * 64
    path.write_text(json.dumps(stored))
    assert run_expert(run_dir, record) is None


def test_a_reference_run_is_refused_and_nothing_written(
    predictions: pd.DataFrame,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    board = tmp_path / "board"
    run_id = write_run(board, predictions, toy_task("multilabel", LABELS, name="nih14"), "toy", 0)
    monkeypatch.setenv("CXRBENCH_REFERENCE", str(board))
    before = {p: p.stat().st_mtime_ns for p in board.rglob("*")}
    argv = ["evaluate-expert", run_id, "--data-root", str(shared_data), "--results", str(tmp_path / "mine")]
    assert main([*argv, "--n-resamples", "10"]) == 2
    err = capsys.readouterr().err
    assert "reference run" in err and "--dry-run" in err and "copy" in err and "nothing was written" in err
    assert main([*argv, "--n-resamples", "10", "--dry-run"]) == 0
    assert "Airspace opacity" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in board.rglob("*")} == before


def test_export_section_lists_each_scored_run_beside_the_text_mined_auroc(
    predictions: pd.DataFrame, shared_data: Path, labels_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    task = toy_task("multilabel", LABELS, name="nih14")
    scored = write_run(results, predictions, task, "toy", 0)
    other = predictions.assign(**{"score:Pneumothorax": predictions["score:Pneumothorax"][::-1].to_numpy()})
    unscored = write_run(results, other, task, "toy", 1)
    assert main(["evaluate-expert", scored, "--data-root", str(shared_data), "--results", str(results),
                 "--n-resamples", "20"]) == 0  # fmt: skip
    capsys.readouterr()
    markdown, rows = export_section(ResultsDir(results), task_standings(ResultsDir(results), "nih14"), {})
    assert [r["run_id"] for r in rows] == [scored] * 3 and unscored not in markdown
    assert [r["finding"] for r in rows] == list(EXPERT_MAPPING)
    shown = markdown.replace("\\", "")  # the table cells are Markdown-escaped: \[ renders as [
    test = pd.read_csv(labels_file)
    test = test[test["Set Id"] == "test"]
    ours = predictions.set_index("image_id").loc[test["Image Index"]]
    for row in rows:
        labels = EXPERT_MAPPING[row["finding"]]
        score = ours[[f"score:{label}" for label in labels]].to_numpy().max(axis=1)
        text = ours[[f"true:{label}" for label in labels]].to_numpy().max(axis=1)
        assert row["auroc"] == pytest.approx(roc_auc_score(test[row["finding"]] == "YES", score), abs=1e-12)
        assert row["text_auroc"] == pytest.approx(roc_auc_score(text, score), abs=1e-12)
        assert row["text_n_positive"] == text.sum() and row["source"] == "derived" and row["seed"] == 0
        assert f"{row['auroc']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" in shown
    assert "### Expert labels (Google 2019)" in shown and "max(Consolidation, Infiltration, Pneumonia)" in shown
    # through the CLI: the JSON export carries the same rows under "expert"
    assert main(["export", "--task", "nih14", "--format", "json", "--results", str(results), "--no-claims"]) == 0
    exported = json.loads(capsys.readouterr().out)["expert"]
    assert [(r["run_id"], r["finding"]) for r in exported] == [(r["run_id"], r["finding"]) for r in rows]
    # another task has no expert section
    toy = write_run(tmp_path / "toy", predictions, toy_task("multilabel", LABELS, name="chestmnist"), "toy", 0)
    assert toy and export_section(None, task_standings(ResultsDir(tmp_path / "toy"), "chestmnist"), {}) is None


def test_export_section_says_how_to_score_when_no_run_is(predictions: pd.DataFrame, tmp_path: Path) -> None:
    write_run(tmp_path, predictions, toy_task("multilabel", LABELS, name="nih14"), "toy", 0)
    markdown, rows = export_section(ResultsDir(tmp_path), task_standings(ResultsDir(tmp_path), "nih14"), {})
    assert rows == [] and "benchmark evaluate-expert RUN_ID" in markdown


def test_a_run_of_another_task_is_refused(
    predictions: pd.DataFrame, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    run_id = write_run(results, predictions, toy_task("multilabel", LABELS, name="chestmnist"), "toy", 0)
    assert main(["evaluate-expert", run_id, "--data-root", str(shared_data), "--results", str(results)]) == 2
    assert "is a run of task chestmnist" in capsys.readouterr().err
