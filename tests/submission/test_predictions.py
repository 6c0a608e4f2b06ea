"""Prediction submissions: templates, strict validation (nothing recorded on any problem), scoring with the
task's truth and evaluation, thresholds from validation predictions only, one file per seed."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from benchmark.cli import main
from benchmark.results.index import RunFilter
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import ResultsDir
from benchmark.tasks import TASKS
from tests.conftest import pinned_copy
from tests.fixtures.covid_kaggle.make import CLASSES
from tests.fixtures.kermany.make import make_kermany_dataset

LABELS = list(CLASSES)


@pytest.fixture
def tiny(tiny_covid_task, monkeypatch):
    """The generated 3-class task, registered as `tinycovid` for this test only."""
    task = dataclasses.replace(tiny_covid_task, name="tinycovid")
    monkeypatch.setitem(TASKS._items, "tinycovid", task)
    return task


@pytest.fixture(scope="module")
def kermany_task(tmp_path_factory):
    root = make_kermany_dataset(tmp_path_factory.mktemp("kermany"))
    task = pinned_copy(TASKS.get("pneumonia"), root, expected_patients=None, bootstrap={"n_resamples": 100, "seed": 0})
    return dataclasses.replace(task, name="tinypneumonia"), root


@pytest.fixture
def pneumonia(kermany_task, monkeypatch):
    task, root = kermany_task
    monkeypatch.setitem(TASKS._items, "tinypneumonia", task)
    return task, root


def listed_test_ids(root: Path) -> list[str]:
    """The fixture's test images as the Kaggle layout names them, listed without the code under test."""
    base = root / "Covid19-dataset" / "test"
    return sorted(f"test/{c}/{f.name}" for c in LABELS for f in (base / c).iterdir())


def filled(root: Path, seed: int = 0) -> pd.DataFrame:
    """A valid predictions table: softmax-like rows leaning to the true class (from the folder name)."""
    rng = np.random.default_rng(seed)
    ids = listed_test_ids(root)
    truth = np.array([LABELS.index(i.split("/")[1]) for i in ids])
    logits = rng.normal(size=(len(ids), 3)) + 1.5 * np.eye(3)[truth]
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    frame = pd.DataFrame(probabilities.round(6), columns=LABELS)
    frame.insert(0, "image_id", ids)
    return frame


def submit(path: Path, results: Path, root: Path, *extra: str, task: str = "tinycovid", name: str = "team_p") -> int:
    args = ["submit", "--predictions", str(path), "--task", task, "--name", name]
    return main([*args, "--data-root", str(root), "--results", str(results), *extra])


def test_template_lists_every_test_id_with_the_task_label_columns(tiny, tiny_covid_root, tmp_path, capsys):
    out = tmp_path / "template.csv"
    assert (
        main(["submit", "--template", "--task", "tinycovid", "--data-root", str(tiny_covid_root), "--out", str(out)])
        == 0
    )
    template = pd.read_csv(out, dtype={"image_id": str})
    assert list(template.columns) == ["image_id", *LABELS]
    assert sorted(template["image_id"]) == listed_test_ids(tiny_covid_root) and template["image_id"].is_unique
    assert template[LABELS].isna().all().all()  # to fill in: submitted as is, it is rejected
    val_out = tmp_path / "val.parquet"
    options = ["--data-root", str(tiny_covid_root), "--split", "val", "--out", str(val_out)]
    assert main(["submit", "--template", "--task", "tinycovid", *options]) == 0
    val = pd.read_parquet(val_out)
    assert len(val) == tiny.expected_counts["val"] and all(i.startswith("train/") for i in val["image_id"])
    assert "12 test ids" in capsys.readouterr().out


def test_filled_template_is_scored_with_the_tasks_truth_and_evaluation(tiny, tiny_covid_root, tmp_path):
    frame = filled(tiny_covid_root)
    path = tmp_path / "predictions.csv"
    frame.to_csv(path, index=False)
    results = tmp_path / "results"
    assert submit(path, results, tiny_covid_root) == 0
    (run_dir,) = ResultsDir(results).run_dirs()
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert record.origin == "submission" and record.model.name == "submission:team_p"
    assert record.training is None and record.recipe is None and record.weights is None
    assert set(record.files) == {"predictions.parquet"}  # no checkpoint, no validation predictions
    assert sorted(p.name for p in run_dir.iterdir()) == ["predictions.parquet", "record.json"]
    assert record.submission.kind == "predictions"
    assert record.submission.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record.task.hash == tiny.task_hash and record.n_test == 12
    assert record.bootstrap.n_resamples == 200
    truth = frame["image_id"].str.split("/").str[1].map(LABELS.index).to_numpy()
    scores = frame[LABELS].to_numpy()
    metrics = record.metrics
    assert metrics["auroc"].value == pytest.approx(skm.roc_auc_score(truth, scores, multi_class="ovr"))
    assert metrics["accuracy"].value == pytest.approx(skm.accuracy_score(truth, scores.argmax(1)))
    assert metrics["balanced_accuracy"].value == pytest.approx(skm.balanced_accuracy_score(truth, scores.argmax(1)))
    matrix = skm.confusion_matrix(truth, scores.argmax(1)).tolist()
    assert [list(row) for row in record.confusion_matrix.matrix] == matrix
    stored = pd.read_parquet(run_dir / "predictions.parquet").set_index("image_id").loc[frame["image_id"]]
    np.testing.assert_array_equal(stored[[f"true:{c}" for c in LABELS]].to_numpy().argmax(1), truth)
    np.testing.assert_allclose(stored[[f"score:{c}" for c in LABELS]].to_numpy(), scores)
    (indexed,) = ResultsDir(results).query(RunFilter(origin="submission"))
    assert indexed.submission_name == "team_p" and indexed.source_hash is None


def _bad(frame: pd.DataFrame, case: str, train_id: str) -> pd.DataFrame:
    frame = frame.copy()
    if case == "duplicate":
        return pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    if case == "unknown id":
        frame.loc[2, "image_id"] = "test/Covid/zzz.png"
    elif case == "train id":
        frame.loc[1, "image_id"] = train_id
    elif case == "missing id":
        return frame.iloc[:-1]
    elif case == "nan":
        frame.loc[3, "Covid"] = np.nan
    elif case == "text":
        frame["Normal"] = frame["Normal"].astype(object)
        frame.loc[4, "Normal"] = "high"
    elif case == "inf":
        frame.loc[5, "Normal"] = np.inf
    elif case == "above one":
        frame.loc[6, LABELS] = [1.5, 0.0, 0.0]
    elif case == "below zero":
        frame.loc[7, LABELS] = [-0.1, 0.6, 0.5]
    elif case == "sum":
        frame.loc[8, LABELS] = [0.5, 0.4, 0.3]
    elif case == "missing column":
        return frame.drop(columns="Normal")
    elif case == "extra column":
        frame["patient_id"] = "p"
    elif case == "no image_id":
        return frame.rename(columns={"image_id": "id"})
    return frame


REJECTIONS = {
    "duplicate": "row 13: id 'test/Covid/000.jpeg' repeats row 1",
    "unknown id": "row 3: id 'test/Covid/zzz.png' is not an image of the task",
    "train id": "row 2: id 'TRAIN_ID' is a train image; only the test split is scored",
    "missing id": "1 test id(s) have no row: 'test/Viral Pneumonia/003.jpeg'",
    "nan": "row 4 (id 'test/Covid/003.jpeg'): Covid is NaN or empty",
    "text": "row 5 (id 'test/Normal/000.jpeg'): Normal is not a number ('high')",
    "inf": "row 6 (id 'test/Normal/001.jpg'): Normal is infinite",
    "above one": "row 7 (id 'test/Normal/002.png'): Covid = 1.5 is outside [0, 1]",
    "below zero": "row 8 (id 'test/Normal/003.jpeg'): Covid = -0.1 is outside [0, 1]",
    "sum": "row 9 (id 'test/Viral Pneumonia/000.jpeg'): class scores sum to 1.2, not 1",
    "missing column": "missing label column(s) ['Normal']",
    "extra column": "column(s) ['patient_id'] are not labels of the task",
    "no image_id": "no `image_id` column",
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_bad_files_are_rejected_with_the_problem_named_and_nothing_recorded(
    case, suffix, tiny, tiny_covid_root, tmp_path, capsys
):
    split = tiny.load_data(tiny_covid_root).frame
    train_id = split.loc[split["split"] == "train", "image_id"].iloc[0]
    frame = _bad(filled(tiny_covid_root), case, train_id)
    path = tmp_path / f"bad{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.astype({"Normal": str} if case == "text" else {}).to_parquet(path)
    results = tmp_path / "results"
    assert submit(path, results, tiny_covid_root) == 2
    err = capsys.readouterr().err
    assert "PredictionFileError" in err and f"{path}: rejected" in err and "Nothing was recorded" in err
    assert REJECTIONS[case].replace("TRAIN_ID", train_id) in err
    assert ResultsDir(results).run_dirs() == [] and not results.exists()


def test_problems_are_listed_in_file_order_and_capped(tiny, tiny_covid_root, tmp_path, capsys):
    frame = filled(tiny_covid_root)
    frame[LABELS] = np.nan
    path = tmp_path / "empty.csv"
    frame.to_csv(path, index=False)
    assert submit(path, tmp_path / "results", tiny_covid_root) == 2
    err = capsys.readouterr().err
    assert "36 problem(s)" in err and "... and 16 more" in err
    listed = [line for line in err.splitlines() if line.startswith("  - row ")]
    rows = [int(line.split()[2]) for line in listed]
    assert len(listed) == 20 and rows == sorted(rows) and rows[0] == 1


def test_unreadable_and_wrongly_named_files_are_rejected(tiny, tiny_covid_root, tmp_path, capsys):
    text = tmp_path / "predictions.txt"
    text.write_text("image_id,Covid\n")
    assert submit(text, tmp_path / "results", tiny_covid_root) == 2
    assert "must be a .csv or .parquet file, got .txt" in capsys.readouterr().err
    broken = tmp_path / "predictions.parquet"
    broken.write_bytes(b"not parquet")
    assert submit(broken, tmp_path / "results", tiny_covid_root) == 2
    assert "cannot be read as parquet" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_each_seed_once_and_three_seeds_rank(tiny, tiny_covid_root, tmp_path, capsys):
    results = tmp_path / "results"
    paths = []
    for seed in range(3):
        paths.append(tmp_path / f"seed{seed}.csv")
        filled(tiny_covid_root, seed).to_csv(paths[-1], index=False)
    assert submit(paths[0], results, tiny_covid_root) == 0
    assert "unranked until it has 3" in capsys.readouterr().out
    assert submit(paths[1], results, tiny_covid_root) == 2  # seed 0 again
    assert "already has run" in capsys.readouterr().err
    assert submit(paths[0], results, tiny_covid_root, "--seeds", "1") == 2  # the same file as another seed
    assert "already has run" in capsys.readouterr().err
    assert submit(paths[1], results, tiny_covid_root, "--seeds", "1") == 0
    assert "has 2 seed(s) [0, 1]" in capsys.readouterr().out
    assert submit(paths[2], results, tiny_covid_root, "--seeds", "2") == 0
    assert "unranked" not in capsys.readouterr().out
    (entry,) = ResultsDir(results).entries(RunFilter(task="tinycovid"))
    assert entry.seeds == (0, 1, 2) and entry.ranked and entry.model_name == "submission:team_p"


def _kermany_scores(task, root: Path, split: str, seed: int) -> pd.DataFrame:
    """Scores for one split of the pneumonia fixture; truth from the class folder in the image id."""
    frame = task.load_data(root).frame
    ids = frame.loc[frame["split"] == split, "image_id"].tolist()
    truth = np.array(["/PNEUMONIA/" in i for i in ids], dtype=float)
    rng = np.random.default_rng(seed)
    score = np.clip(0.35 * truth + rng.uniform(0, 0.65, len(ids)), 0, 1).round(6)
    return pd.DataFrame({"image_id": ids, "PNEUMONIA": score})


def test_threshold_task_requires_validation_predictions(pneumonia, tmp_path, capsys):
    task, root = pneumonia
    path = tmp_path / "test.csv"
    _kermany_scores(task, root, "test", 0).to_csv(path, index=False)
    results = tmp_path / "results"
    assert submit(path, results, root, task="tinypneumonia") == 2
    err = capsys.readouterr().err
    assert "chooses its operating threshold on validation predictions (target_sensitivity)" in err
    assert "--val-predictions" in err and not results.exists()


def test_threshold_comes_from_validation_predictions_only(pneumonia, tmp_path):
    task, root = pneumonia
    val = _kermany_scores(task, root, "val", 1)
    val.to_csv(tmp_path / "val.csv", index=False)
    results = tmp_path / "results"
    thresholds = []
    for seed in (2, 3):  # two test files, one validation file
        test = _kermany_scores(task, root, "test", seed)
        test.to_csv(tmp_path / f"test{seed}.csv", index=False)
        extra = ["--val-predictions", str(tmp_path / "val.csv")]
        assert submit(tmp_path / f"test{seed}.csv", results, root, *extra, task="tinypneumonia", name=f"t{seed}") == 0
        (run,) = ResultsDir(results).query(RunFilter(model=f"submission:t{seed}"))
        record = ResultsDir(results).load_record(run.run_id)
        threshold = record.thresholds["PNEUMONIA"]
        thresholds.append(threshold)
        truth = np.array(["/PNEUMONIA/" in i for i in test["image_id"]])
        assert record.metrics["sensitivity"].value == pytest.approx(
            skm.recall_score(truth, test["PNEUMONIA"] >= threshold)
        )
        assert record.metrics["auroc"].value == pytest.approx(skm.roc_auc_score(truth, test["PNEUMONIA"]))
        assert set(record.files) == {"predictions.parquet", "val_predictions.parquet"}
        assert "validation predictions (target_sensitivity" in record.submission.thresholds_from
    assert thresholds[0] == thresholds[1]  # the test scores chose nothing
    positives = val.loc[val["image_id"].str.contains("/PNEUMONIA/"), "PNEUMONIA"].to_numpy()
    assert (positives >= thresholds[0]).mean() >= 0.95  # the rule: 95% sensitivity on validation ...
    above = positives[positives > thresholds[0]]
    assert all((positives >= s).mean() < 0.95 for s in above)  # ... at the highest such threshold
    assert not math.isnan(thresholds[0])
