"""Ray: data-parallel runs, sweeps and tuning, each checked against the single-process runs it must reproduce.

One local Ray (2 CPUs here) serves the whole module. Ray workers get one CPU and so one torch
thread; CPU results depend on the thread count, so the single-process references run on one
thread too.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from benchmark.cli import main
from benchmark.data.prepared import PreparedSplit
from benchmark.errors import ConfigError
from benchmark.models.registry import MODELS, ModelInputs, ModelSpec
from benchmark.models.search_space import validate_search_space
from benchmark.ray.progress import SweepTable
from benchmark.recipe import Recipe
from benchmark.results.record import RECORD_FILE, DistributedSection, RunRecord
from benchmark.results.store import ResultsDir
from benchmark.tasks import TASKS
from benchmark.training.ddp import World
from benchmark.training.runner import RunRequest, execute_run
from tests.conftest import cli_env
from tests.ray.kill import KillOnce

FAST = {"epochs": 2, "image_size": 32, "batch_size": 4}  # 28 training images: 7 batches, even over 2 workers


def linear_probe(inputs: ModelInputs) -> nn.Module:
    """No batch norm, no dropout: DDP over two halves of a batch is then the same step as one process on it."""
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs.in_chans * inputs.image_size**2, inputs.num_outputs))


LINEAR = ModelSpec(
    "linear_probe",
    linear_probe,
    Recipe(image_size=32, in_chans=1, optimizer="sgd", lr=1e-4, batch_size=4, epochs=3),  # far from saturation
    family="test",
    card="logistic regression on pixels",
)


@contextmanager
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    from benchmark.ray.cluster import ray_session

    with ray_session():
        yield


@pytest.fixture(scope="module")
def request_for(tiny_covid_task, tiny_covid_root, tmp_path_factory):
    def make(model: str | ModelSpec = "lotko_cnn", seed: int = 0, overrides: dict | None = None, **kwargs):
        return RunRequest(
            task=tiny_covid_task,
            model=model,
            data_root=str(tiny_covid_root),
            seed=seed,
            overrides=FAST if overrides is None else overrides,
            results=kwargs.pop("results", tmp_path_factory.mktemp("results")),
            **kwargs,
        )

    return make


@pytest.fixture(scope="module")
def reference(request_for):
    """Single-process, one-thread runs (the plain ``benchmark run``), computed once per (model, seed)."""
    cache: dict[tuple[str, int], object] = {}

    def get(model: str | ModelSpec = "lotko_cnn", seed: int = 0):
        key = (model if isinstance(model, str) else model.name, seed)
        if key not in cache:
            with one_thread():
                cache[key] = execute_run(request_for(model, seed, overrides={} if model is LINEAR else None))
        return cache[key]

    return get


def _records(results: Path) -> list[RunRecord]:
    return ResultsDir(results).records()


def _metrics(record: RunRecord) -> dict[str, tuple[float, float, float, int]]:
    """Every metric as (value, ci_low, ci_high, n_degenerate): compared with NaN (undefined metric) equal to NaN."""
    return {name: dataclasses.astuple(metric) for name, metric in record.metrics.items()}


def _predictions(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "predictions.parquet")


# --- without Ray -------------------------------------------------------------------------------


def test_ranks_share_one_permutation_batch_by_batch():
    images = np.zeros((28, 2, 2), np.uint8)
    split = PreparedSplit([f"i{i}" for i in range(28)], ["p"] * 28, images, np.arange(28), torch.arange(28.0)[:, None])

    def batches(shard, batch_size):
        generator = torch.Generator().manual_seed(7)
        return [targets[:, 0].long().tolist() for _, targets in split.batches(batch_size, generator, shard)]

    whole = batches((0, 1), 4)
    assert sorted(i for batch in whole for i in batch) == list(range(28))
    ranks = [batches((rank, 2), 2) for rank in range(2)]
    assert [sorted(a + b) for a, b in zip(*ranks, strict=True)] == [sorted(b) for b in whole]
    uneven = [[i for batch in batches((rank, 3), 2) for i in batch] for rank in range(3)]  # 28 over 3: padded to 30
    assert {len(u) for u in uneven} == {10} and {i for u in uneven for i in u} == set(range(28))


def test_batch_size_must_split_over_the_workers(request_for):
    with pytest.raises(ConfigError, match="batch_size 4 does not split evenly over 3 workers"):
        World(0, 3).check_batch_size(4)
    from benchmark.ray.train import run_distributed

    with pytest.raises(ConfigError, match="multiple of 3"):
        run_distributed(request_for(), workers=3)


def test_search_spaces_are_checked_against_the_recipe():
    recipe = Recipe()
    with pytest.raises(ConfigError, match=r"field 'lrr'.*did you mean lr"):
        validate_search_space({"lrr": ("loguniform", 1e-4, 1e-2)}, recipe, "model x")
    with pytest.raises(ConfigError, match="batch_size expects int"):
        validate_search_space({"batch_size": ("choice", [16, "big"])}, recipe, "model x")
    with pytest.raises(ConfigError, match="low < high and low > 0"):
        validate_search_space({"lr": ("loguniform", 0, 1e-2)}, recipe, "model x")
    with pytest.raises(ConfigError, match="kind one of"):
        validate_search_space({"lr": ("normal", 0.0, 1.0)}, recipe, "model x")
    with pytest.raises(ConfigError, match="select_on cannot be searched"):
        validate_search_space({"select_on": ("choice", ["val_auroc"])}, recipe, "model x")
    with pytest.raises(ConfigError, match="model 'bad'"):
        ModelSpec("bad", linear_probe, recipe, "test", "card", search_space={"lr": ("uniform", 1.0, 0.1)})
    assert MODELS.get("lotko_cnn").search_space and MODELS.get("resnet18").search_space


def test_search_space_becomes_tune_distributions_within_its_bounds():
    from benchmark.ray.tune import tune_domains

    domains = tune_domains(MODELS.get("resnet18").search_space)
    rng = np.random.default_rng(0)
    lrs = domains["lr"].sample(size=200, random_state=rng)
    assert min(lrs) >= 1e-4 and max(lrs) <= 1e-2 and np.median(np.log10(lrs)) == pytest.approx(-3, abs=0.3)
    assert set(domains["batch_size"].sample(size=200, random_state=rng)) == {64, 128, 256}


def test_tune_needs_a_search_space(request_for):
    from benchmark.ray.tune import tune_run

    with pytest.raises(ConfigError, match="declares no search_space"):
        tune_run(request_for("matthews_cnn"), samples=2)
    with pytest.raises(ConfigError, match="--set lr fixes what the search space searches"):
        tune_run(request_for(overrides={"image_size": 32, "lr": 0.01}), samples=2)


def test_progress_table_is_quiet_off_a_terminal(caplog):
    stream = io.StringIO()
    table = SweepTable([("covid3", "lotko_cnn", 0), ("covid3", "lotko_cnn", 1)], stream)
    with caplog.at_level("INFO", logger="benchmark.ray.progress"):
        table.update(("covid3", "lotko_cnn", 1), "done", "auroc 0.9000 [0.8000, 1.0000]")
    assert stream.getvalue() == ""
    assert "covid3 lotko_cnn seed 1: done auroc 0.9000" in caplog.text
    lines = table.render().splitlines()
    assert lines[1].split()[:4] == ["covid3", "lotko_cnn", "0", "queued"]
    assert lines[-1] == "2 runs: 1 done, 1 queued"


def test_plain_commands_do_not_import_ray(tiny_covid_task, tiny_covid_root, tmp_path):
    script = (
        "import sys\nfrom benchmark.cli import main\n"
        "assert main(['tasks']) == 0\n"
        "assert main(sys.argv[1:]) == 0\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    run = ["run", "--task", "tinycovid", "--model", "lotko_cnn", "--data-root", str(tiny_covid_root), "--epochs", "1"]
    run += ["--set", "image_size=32", "--results", str(tmp_path / "results")]
    done = subprocess.run(
        [sys.executable, "-c", script, *run],
        env=cli_env(tmp_path / "tasks", tiny_covid_task, name="tinycovid"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(_records(tmp_path / "results")) == 1


def test_ray_flags_without_workers_are_a_typed_error(capsys):
    assert main(["run", "--task", "covid3", "--model", "lotko_cnn", "--gpus-per-worker", "1"]) == 2
    assert "ConfigError: --gpus-per-worker and --address go with --workers" in capsys.readouterr().err


# --- Ray Train ---------------------------------------------------------------------------------


@pytest.mark.slow  # starts Ray
def test_two_workers_take_the_same_steps_as_one_process_on_the_whole_batch(ray_local, request_for, reference):
    from benchmark.ray.train import run_distributed

    run_dir = run_distributed(request_for(LINEAR, overrides={}), workers=2)
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert record.distributed == DistributedSection(workers=2, gpus_per_worker=0.0, world_size=2, backend="gloo")
    expected = reference(LINEAR)
    history = pd.DataFrame(record.training.history)
    single = pd.DataFrame(expected.record.training.history)
    np.testing.assert_allclose(history[["train_loss", "val_loss"]], single[["train_loss", "val_loss"]], rtol=1e-5)
    scores = [c for c in expected.predictions if c.startswith("score:")]
    np.testing.assert_allclose(_predictions(run_dir)[scores], expected.predictions[scores], rtol=1e-4, atol=1e-6)


@pytest.mark.slow  # starts Ray
def test_one_worker_killed_mid_run_resumes_to_the_single_process_result(ray_local, request_for, reference, tmp_path):
    """Ray Train restarts the dead worker from its last reported checkpoint; with one worker the
    data-parallel path is the plain loop, so the run equals the single-process one exactly."""
    from benchmark.ray.train import run_distributed

    hook = KillOnce(tmp_path / "worker.pid", ray_train=True)  # the worker SIGKILLs itself in epoch 1
    run_dir = run_distributed(request_for(on_batch=hook), workers=1, max_failures=1)
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert record.distributed == DistributedSection(workers=1, gpus_per_worker=0.0, world_size=1, backend="gloo")
    assert hook.marker.exists() and record.training.resumed_from_epoch == 0
    assert record.hardware.torch_threads == 1  # the reference's thread count
    expected = reference()
    np.testing.assert_equal(_metrics(record), _metrics(expected.record))  # NaN (undefined metric) equals NaN
    pd.testing.assert_frame_equal(_predictions(run_dir), expected.predictions)


# --- sweeps ------------------------------------------------------------------------------------


@pytest.mark.slow  # starts Ray
def test_sweep_stopped_after_a_run_resumes_and_records_each_run_once(
    ray_local, request_for, reference, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(TASKS._items, "tinycovid_sweep", request_for().task)  # registered for this test only
    results = tmp_path / "results"
    args = ["sweep", "--tasks", "tinycovid_sweep", "--models", "lotko_cnn", "resnet18", "--seeds", "0", "1"]
    args += ["--data-root", request_for().data_root, "--results", str(results)]
    args += [f"--set={k}={v}" for k, v in FAST.items()]
    import benchmark.ray.sweep as sweep_module

    publish = sweep_module.publish_run

    def publish_then_interrupt(*publish_args):  # Ctrl-C once the first run is recorded (deterministic: a
        publish(*publish_args)  # signal from a thread raced the last runs on an idle machine)
        monkeypatch.setattr(sweep_module, "publish_run", publish)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "publish_run", publish_then_interrupt)
    assert main(args) == 130, capsys.readouterr().err[-3000:]
    first = {r.run_id for r in _records(results)}
    assert 1 <= len(first) < 4
    assert main(args) == 0, capsys.readouterr().err[-3000:]
    records = _records(results)
    runs = sorted((r.model.name, r.seed) for r in records)
    assert runs == [("lotko_cnn", 0), ("lotko_cnn", 1), ("resnet18", 0), ("resnet18", 1)]
    assert first <= {r.run_id for r in records}  # recorded runs were skipped, not run again
    for seed in (0, 1):
        (lotko,) = (r for r in records if r.model.name == "lotko_cnn" and r.seed == seed)
        np.testing.assert_equal(_metrics(lotko), _metrics(reference(seed=seed).record))
    assert main(args) == 0 and len(_records(results)) == 4  # a finished sweep runs nothing


@pytest.mark.slow  # starts Ray
def test_sweep_runs_a_reference_plan_into_its_folder(ray_local, request_for, reference, tmp_path, capsys, monkeypatch):
    """`sweep --plan`: the planned runs of the tasks whose data is here, origin reference, into the plan's
    folder; a task without its data is named and left out; a second call runs nothing."""
    monkeypatch.setitem(TASKS._items, "tinycovid_plan", request_for().task)
    plan = tmp_path / "plan.yaml"
    entries = [
        {"task": "tinycovid_plan", "models": ["lotko_cnn"], "seeds": [0], "overrides": FAST},
        {"task": "chexpert3", "models": ["densenet121"], "seeds": [0]},  # no CheXpert images under this root
    ]
    plan.write_text(json.dumps({"results": "board", "entries": entries}))  # JSON is YAML
    args = ["sweep", "--plan", str(plan), "--data-root", request_for().data_root]
    assert main(args) == 0, capsys.readouterr().err[-3000:]
    assert "plan: chexpert3 skipped, its data is not here" in capsys.readouterr().err
    (record,) = _records(tmp_path / "board")
    assert (record.origin, record.model.name, record.seed, record.overrides) == ("reference", "lotko_cnn", 0, FAST)
    np.testing.assert_equal(_metrics(record), _metrics(reference(seed=0).record))
    assert main(args) == 0 and len(_records(tmp_path / "board")) == 1


@pytest.mark.slow  # starts Ray
def test_sweep_with_a_killed_worker_records_each_run_once(ray_local, request_for, reference, tmp_path):
    from benchmark.ray.sweep import sweep

    hook = KillOnce(tmp_path / "worker.pid")  # the worker SIGKILLs itself in epoch 1 of seed 1's first attempt
    results = tmp_path / "results"
    requests = [request_for(seed=0), request_for(seed=1, on_batch=hook)]
    sweep(requests, results, max_retries=2, stream=io.StringIO())
    records = {r.seed: r for r in _records(results)}
    assert hook.marker.exists() and sorted(records) == [0, 1] and len(ResultsDir(results).run_dirs()) == 2
    assert records[1].training.resumed_from_epoch == 0  # Ray's retry continued from the checkpoint
    for seed, record in records.items():
        np.testing.assert_equal(_metrics(record), _metrics(reference(seed=seed).record))
    killed = ResultsDir(results).find(records[1].run_id)
    pd.testing.assert_frame_equal(_predictions(killed), reference(seed=1).predictions)


# --- tuning ------------------------------------------------------------------------------------


@pytest.mark.slow  # starts Ray
def test_tune_selects_on_validation_and_records_the_best_configuration(ray_local, request_for):
    from benchmark.ray.tune import tune_run

    overrides = {"epochs": 3, "image_size": 32}
    run_dir = tune_run(request_for(overrides=overrides), samples=4, scheduler="asha")
    record = RunRecord.load(run_dir / RECORD_FILE)
    tuning = record.tuning
    assert (tuning.samples, tuning.scheduler, tuning.metric, tuning.mode) == (4, "asha", "val_loss", "min")
    trials = tuning.trials
    assert len(trials) == 4 and len({json.dumps(t["config"], sort_keys=True) for t in trials}) == 4
    for trial in trials:
        assert 1e-4 <= trial["config"]["lr"] <= 1e-2 and trial["config"]["batch_size"] in (16, 32, 64)
        assert 1 <= trial["epochs"] <= 3 and trial["error"] is None
    best = min(trials, key=lambda t: t["best_val_loss"])
    assert tuning.best_config == best["config"]
    assert record.overrides == {**overrides, **best["config"]}
    assert {k: record.recipe[k] for k in best["config"]} == best["config"]
    # the final run retrains the best configuration from the same seed: the trial's validation scores recur
    history = record.training.history[: best["epochs"]]
    assert min(row["val_loss"] for row in history) == best["best_val_loss"]
