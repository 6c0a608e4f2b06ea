"""`benchmark run` end to end on a generated dataset: record, predictions, determinism, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from benchmark.cli import main
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import ResultsDir
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import cli_env
from tests.ray.kill import KILL_AT_ENV

FAST = {"epochs": 3}


def _run(task, root, results, **kwargs):
    overrides = kwargs.pop("overrides", FAST)
    return run_benchmark(
        RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=results, overrides=overrides, **kwargs)
    )


@pytest.fixture(scope="module")
def finished_run(tiny_covid_task, tiny_covid_root, tmp_path_factory):
    return _run(tiny_covid_task, tiny_covid_root, tmp_path_factory.mktemp("results"))


def test_record_holds_what_a_citation_needs(finished_run, tiny_covid_task):
    record = RunRecord.load(finished_run / RECORD_FILE)
    assert record.schema_version == 1
    assert record.task.hash == tiny_covid_task.task_hash
    assert record.task.split_sha256 == tiny_covid_task.split_sha256
    assert record.model.source_hash and record.model.parameters > 0
    assert record.recipe["epochs"] == 3 and record.overrides == FAST
    assert record.seed == 0 and record.n_test == 12
    assert {"torch", "timm", "scikit-learn"} <= set(record.versions)
    assert "commit" in record.git.to_dict() and record.hardware.device == "cpu"
    assert set(record.durations_s.to_dict()) == {"data", "train", "evaluate", "total"}
    assert len(record.training.history) == 3
    leaks = record.task.split_report.removed_cross_split_duplicates
    assert sorted(r["image_id"] for r in leaks) == sorted(
        f"train/{c}/leak-of-test-000.jpeg" for c in tiny_covid_task.labels
    )
    assert (finished_run / "best_model.pt").is_file()


def test_metrics_in_record_agree_with_sklearn_on_the_saved_predictions(finished_run, tiny_covid_task):
    record = RunRecord.load(finished_run / RECORD_FILE)
    predictions = pd.read_parquet(finished_run / "predictions.parquet")
    expected_ids = tiny_covid_task.load_data(record.task.data_root).frame
    test_ids = set(expected_ids.loc[expected_ids.split == "test", "image_id"])
    assert set(predictions["image_id"]) == test_ids and len(predictions) == len(test_ids)
    labels = list(tiny_covid_task.labels)
    true = predictions[[f"true:{c}" for c in labels]].to_numpy().argmax(1)
    score = predictions[[f"score:{c}" for c in labels]].to_numpy()
    np.testing.assert_allclose(score.sum(1), 1, rtol=1e-5)
    metrics = record.metrics
    assert metrics["accuracy"].value == pytest.approx(skm.accuracy_score(true, score.argmax(1)))
    assert metrics["auroc"].value == pytest.approx(skm.roc_auc_score(true, score, multi_class="ovr"))
    assert [list(row) for row in record.confusion_matrix.matrix] == (
        skm.confusion_matrix(true, score.argmax(1), labels=[0, 1, 2]).tolist()
    )
    for m in metrics.values():
        assert m.ci_low <= m.value <= m.ci_high or m.n_degenerate > 0


def test_same_seed_same_predictions(finished_run, tiny_covid_task, tiny_covid_root, tmp_path):
    again = _run(tiny_covid_task, tiny_covid_root, tmp_path)
    pd.testing.assert_frame_equal(
        pd.read_parquet(finished_run / "predictions.parquet"), pd.read_parquet(again / "predictions.parquet")
    )


def test_interrupted_run_writes_no_record_and_resume_matches_uninterrupted(
    finished_run, tiny_covid_task, tiny_covid_root, tmp_path
):
    def interrupt(epoch: int, batch: int) -> None:
        if epoch == 1 and batch == 0:
            raise KeyboardInterrupt

    results = tmp_path / "results"
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_covid_task, tiny_covid_root, results, on_batch=interrupt)
    assert ResultsDir(results).run_dirs() == []
    assert list((results / ".work").glob("*/checkpoint.pt"))
    resumed = _run(tiny_covid_task, tiny_covid_root, results, resume=True)
    record = RunRecord.load(resumed / RECORD_FILE)
    assert record.training.resumed_from_epoch == 0
    assert not list((results / ".work").glob("*/checkpoint.pt"))
    reference = RunRecord.load(finished_run / RECORD_FILE)
    assert record.metrics == reference.metrics
    pd.testing.assert_frame_equal(
        pd.read_parquet(resumed / "predictions.parquet"), pd.read_parquet(finished_run / "predictions.parquet")
    )


@pytest.mark.slow  # three `benchmark run` processes
def test_run_killed_mid_training_resumes_to_the_same_result(tiny_covid_task, tiny_covid_root, tmp_path):
    """The run's process SIGKILLs itself mid-epoch 1 (tests.ray.kill), after epoch 0's checkpoint."""
    env = cli_env(tmp_path / "tasks", tiny_covid_task, name="tinycovid")
    command = ["run", "--task", "tinycovid", "--model", "lotko_cnn", "--data-root", str(tiny_covid_root)]
    command += ["--epochs", "2", "--set", "image_size=32", "--set", "batch_size=4"]  # 28 images: 7 batches an epoch
    base = [sys.executable, "-m", "benchmark.cli", *command]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    with (tmp_path / "clean.log").open("w") as log:  # the child has its own copy of the file
        uninterrupted = subprocess.Popen([*base, "--results", str(clean)], env=env, stdout=log, stderr=log)
    process = subprocess.run(  # alongside the uninterrupted run
        [sys.executable, "-m", "tests.ray.kill", *command, "--results", str(killed)],
        env={**env, KILL_AT_ENV: "1,3"},
        capture_output=True,
        text=True,
    )
    assert process.returncode == -signal.SIGKILL, f"the run was not killed: {process.stderr[-2000:]}"
    assert ResultsDir(killed).run_dirs() == [] and list(killed.glob(".work/*/checkpoint.pt"))
    subprocess.run([*base, "--results", str(killed), "--resume"], env=env, check=True, capture_output=True)
    assert uninterrupted.wait() == 0, (tmp_path / "clean.log").read_text()[-2000:]
    resumed_record = ResultsDir(killed).records()[0]
    assert resumed_record.training.resumed_from_epoch == 0
    assert resumed_record.metrics == ResultsDir(clean).records()[0].metrics


def test_cli_lists_and_shows(finished_run, capsys):
    assert main(["tasks"]) == 0
    assert "covid3" in capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in models} >= {"resnet18", "lotko_cnn"}
    assert all("recipe" in m for m in models)
    results = str(finished_run.parent)
    assert main(["runs", "--results", results]) == 0
    assert finished_run.name in capsys.readouterr().out
    assert main(["show", finished_run.name[:18], "--results", results]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == finished_run.name


def test_cli_errors_are_typed_and_exit_non_zero(tmp_path, capsys):
    assert main(["run", "--task", "covid3", "--model", "resnet19", "--data-root", str(tmp_path)]) == 2
    assert "UnknownNameError" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                "--task",
                "covid3",
                "--model",
                "lotko_cnn",
                "--data-root",
                str(tmp_path),
                "--results",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "DatasetNotFoundError" in err and "Covid19-dataset" in err
    assert not (tmp_path / "r").exists()
