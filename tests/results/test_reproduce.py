"""`benchmark reproduce`: a seeded CPU run re-run from its record gives identical metrics; changed inputs
(task, model code, initial weights) are reported before anything runs, and refused unless forced."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmark.cli import main
from benchmark.models.registry import MODELS, ModelInputs
from benchmark.results.index import RunFilter
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import ResultsDir
from benchmark.submission.plugin import load_plugin
from benchmark.tasks import TASKS
from benchmark.training.code import training_code_hash, training_digests
from benchmark.training.runner import RunRequest, run_benchmark
from tests.submission.test_plugins import make_submission

FAST = {"epochs": 2, "image_size": 32}


@pytest.fixture(scope="module")
def tiny_named(tiny_covid_task):
    return dataclasses.replace(tiny_covid_task, name="tinycovid")


@pytest.fixture
def registered(tiny_named, monkeypatch):
    """The fixture task registered as `tinycovid` (reproduce finds a run's task by name)."""
    monkeypatch.setitem(TASKS._items, "tinycovid", tiny_named)
    return tiny_named


@pytest.fixture(scope="module")
def recorded(tiny_named, tiny_covid_root, tmp_path_factory) -> Path:
    """A results directory holding one seeded CPU run of lotko_cnn on the fixture task."""
    results = tmp_path_factory.mktemp("results")
    request = RunRequest(
        task=tiny_named,
        model="lotko_cnn",
        data_root=str(tiny_covid_root),
        seed=3,
        overrides=FAST,
        results=results,
        device=torch.device("cpu"),
    )
    run_benchmark(request)
    return results


@pytest.fixture
def results(recorded, tmp_path) -> Path:
    """A private copy of ``recorded``: each test adds its own runs."""
    copy = tmp_path / "results"
    shutil.copytree(recorded, copy)
    return copy


def _only_run(results: Path) -> str:
    (run_dir,) = ResultsDir(results).run_dirs()
    return run_dir.name


def test_seeded_cpu_run_reproduces_identical_metrics(registered, results, capsys):
    original = _only_run(results)
    assert main(["reproduce", original[:20], "--results", str(results), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "identical: all" in out and "changed:" not in out
    store = ResultsDir(results)
    (again,) = [p for p in store.run_dirs() if p.name != original]
    before = store.load_record(original)
    after = RunRecord.load(again / RECORD_FILE)
    assert after.reproduces == original
    assert after.metrics == before.metrics and after.confusion_matrix == before.confusion_matrix
    assert (after.task.hash, after.model.source_hash, after.recipe, after.seed) == (
        before.task.hash,
        before.model.source_hash,
        before.recipe,
        3,
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(store.find(original) / "predictions.parquet"), pd.read_parquet(again / "predictions.parquet")
    )
    for name, metric in before.metrics.items():  # every metric is printed with its difference
        if metric.value == metric.value:
            assert f"{name:<28} {metric.value:>12.6f} {metric.value:>12.6f}    +0.00e+00" in out
    assert len(store.find_by_run_key(before.run_key)) == 2  # the same inputs, twice


def test_changed_task_is_reported_before_running_and_refused_unless_forced(registered, results, monkeypatch, capsys):
    original = _only_run(results)
    changed = dataclasses.replace(registered, bootstrap={"n_resamples": 100, "seed": 0})
    monkeypatch.setitem(TASKS._items, "tinycovid", changed)
    assert main(["reproduce", original, "--results", str(results), "--device", "cpu"]) == 2
    captured = capsys.readouterr()
    expected = f"changed: task tinycovid: hash recorded {registered.task_hash}, now {changed.task_hash}"
    assert expected in captured.out
    assert "ReproductionError" in captured.err and "pass --force" in captured.err
    assert [p.name for p in ResultsDir(results).run_dirs()] == [original]  # nothing ran
    assert main(["reproduce", original, "--results", str(results), "--device", "cpu", "--force"]) == 0
    out = capsys.readouterr().out
    assert expected in out
    (forced,) = ResultsDir(results).query(RunFilter(task_hash=changed.task_hash))
    assert ResultsDir(results).load_record(forced.run_id).bootstrap.n_resamples == 100


def test_changed_model_code_names_the_changed_files(registered, results, capsys):
    """A record of a run made before ``baselines/lotko_cnn.py`` was edited (its recorded digest differs)."""
    original = _only_run(results)
    store = ResultsDir(results)
    record = store.load_record(original)
    assert "baselines/lotko_cnn.py" in record.model.sources and "benchmark/recipe.py" in record.model.sources
    sources = {**record.model.sources, "baselines/lotko_cnn.py": "0" * 64}
    model = dataclasses.replace(record.model, source_hash="1" * 64, sources=sources)
    dataclasses.replace(record, model=model).write(store.find(original) / RECORD_FILE)
    assert main(["reproduce", original, "--results", str(results), "--device", "cpu"]) == 2
    out = capsys.readouterr().out
    assert f"changed: model lotko_cnn: source hash recorded {'1' * 64}, now {record.model.source_hash}" in out
    assert "(changed: baselines/lotko_cnn.py)" in out


def test_changed_training_code_names_the_changed_files(registered, results, capsys):
    """A record of a run trained before ``benchmark/training/augment.py`` was edited (its recorded digest differs)."""
    original = _only_run(results)
    store = ResultsDir(results)
    record = store.load_record(original)
    training = record.training
    assert training is not None and training.code is not None
    assert training.code_hash == training_code_hash() and training.code == training_digests()
    assert {"benchmark/training/loop.py", "benchmark/training/augment.py"} <= set(training.code)
    code = {**training.code, "benchmark/training/augment.py": "0" * 64}
    edited = dataclasses.replace(training, code_hash="2" * 64, code=code)
    dataclasses.replace(record, training=edited).write(store.find(original) / RECORD_FILE)
    assert main(["reproduce", original, "--results", str(results), "--device", "cpu"]) == 2
    out = capsys.readouterr().out
    assert f"changed: training code: hash recorded {'2' * 64}, now {training_code_hash()}" in out
    assert "(changed: benchmark/training/augment.py)" in out


def test_changed_submission_code_is_reported_without_importing_it(
    registered, tiny_covid_root, tmp_path, monkeypatch, capsys
):
    marker = tmp_path / "imported"
    monkeypatch.setenv("CXR_TEST_MARKER", str(marker))
    folder = make_submission(tmp_path, tasks=("tinycovid",))
    spec, metadata = load_plugin(folder, "tinycovid")
    results = tmp_path / "plugin-results"
    request = RunRequest(
        task=registered,
        model=spec,
        data_root=str(tiny_covid_root),
        results=results,
        device=torch.device("cpu"),
        origin="submission",
        extra={"submission": metadata},
    )
    run_id = run_benchmark(request).name
    assert main(["reproduce", run_id, "--results", str(results), "--device", "cpu"]) == 0
    assert "identical: all" in capsys.readouterr().out
    recorded_hash = ResultsDir(results).load_record(run_id).submission.model_sha256
    with open(folder / "model.py", "a") as handle:
        handle.write("# edited after the run\n")
    marker.unlink()
    assert main(["reproduce", run_id, "--results", str(results), "--device", "cpu"]) == 2
    out = capsys.readouterr().out
    assert f"changed: submission team_a: {folder.resolve() / 'model.py'} has sha256" in out
    assert f"the record {recorded_hash}" in out
    assert not marker.exists()  # the changed code was not imported


def test_changed_or_missing_initial_weights(registered, tiny_covid_root, tmp_path, capsys):
    weights = tmp_path / "init.pt"
    torch.manual_seed(0)
    torch.save(MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 32)).state_dict(), weights)
    results = tmp_path / "weights-results"
    request = RunRequest(
        task=registered,
        model="lotko_cnn",
        data_root=str(tiny_covid_root),
        overrides={**FAST, "epochs": 1, "pretrained_weights": str(weights)},
        results=results,
        device=torch.device("cpu"),
    )
    run_id = run_benchmark(request).name
    recorded = ResultsDir(results).load_record(run_id).weights.sha256
    torch.manual_seed(1)
    torch.save(MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 32)).state_dict(), weights)
    assert main(["reproduce", run_id, "--results", str(results), "--device", "cpu"]) == 2
    assert f"changed: initial weights {weights}: sha256 recorded {recorded}, now" in capsys.readouterr().out
    weights.unlink()
    assert main(["reproduce", run_id, "--results", str(results), "--device", "cpu"]) == 2
    assert "which are not at that path any more" in capsys.readouterr().err
    assert len(ResultsDir(results).run_dirs()) == 1


def test_prediction_submission_is_rescored_identically(registered, tiny_covid_root, tmp_path, capsys):
    frame = registered.load_data(tiny_covid_root).frame
    test = frame.loc[frame["split"] == "test", ["image_id", *registered.labels]].copy()
    test[list(registered.labels)] = test[list(registered.labels)] * 0.8 + 0.2 / 3
    path = tmp_path / "p.csv"
    test.to_csv(path, index=False)
    results = tmp_path / "p-results"
    options = ["--task", "tinycovid", "--name", "pp", "--data-root", str(tiny_covid_root), "--results", str(results)]
    assert main(["submit", "--predictions", str(path), *options]) == 0
    run_id = _only_run(results)
    capsys.readouterr()
    assert main(["reproduce", run_id, "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "scored again" in out and "identical: all" in out
    assert _only_run(results) == run_id  # nothing new recorded
