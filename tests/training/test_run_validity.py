"""Nothing wrong gets recorded: a run whose scores are not finite, or that trained nothing, is refused
(InvalidRunError) with no run directory written; a recipe, seed or epoch count that would make a run
degenerate is a ConfigError before any data is read; a plugin whose output shape depends on the batch
size is stopped by the build check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from benchmark.cli import main
from benchmark.data.dataset import TaskData
from benchmark.data.prepared import PreparedSplit
from benchmark.errors import ConfigError, InvalidRunError, SubmissionError
from benchmark.models.registry import ModelInputs, ModelSpec
from benchmark.recipe import Recipe
from benchmark.results.store import RESUME_FILE, ResultsDir
from benchmark.submission.plugin import load_plugin
from benchmark.training.loop import FitOptions, fit
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import REPO

TINY = Recipe(image_size=16, in_chans=1, epochs=1, batch_size=8, eval_batch_size=64)
TEMPLATE = REPO / "submissions" / "_template"


class NaNNet(nn.Module):
    """Trains (its parameters get gradients) and outputs NaN for every image."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.head = nn.Linear(1, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(dim=(1, 2, 3)).unsqueeze(1)) * float("nan")


def build_nan_net(inputs: ModelInputs) -> nn.Module:
    return NaNNet(inputs.num_outputs)


NAN_SPEC = ModelSpec("nan_net", build_nan_net, TINY, "test", "outputs NaN")


def written(results: Path) -> list[Path]:
    """What a run leaves under ``results`` besides its work folder: run dirs, staging, records."""
    if not results.exists():
        return []
    return [p for p in results.iterdir() if p.name != ".work"] + list(results.rglob("record.json"))


def test_a_model_with_nan_scores_is_refused_and_its_checkpoint_kept(tiny_covid_task, tiny_covid_root, tmp_path):
    results = tmp_path / "results"
    request = RunRequest(task=tiny_covid_task, model=NAN_SPEC, data_root=str(tiny_covid_root), results=results)
    with pytest.raises(InvalidRunError) as caught:
        run_benchmark(request)
    message = str(caught.value)
    counts = tiny_covid_task.load_data(tiny_covid_root).frame["split"].value_counts()  # the images scored
    assert counts["test"] == 12 and counts["val"] > 0
    assert "task covid3, model nan_net, seed 0" in message
    assert f"{counts['val']} of {counts['val']} validation images, 12 of 12 test images" in message
    assert "lower lr (this run: 0.001)" in message
    # the run's work folder (found, not recomputed: the run key hashes source files others may be editing)
    [checkpoint] = (results / ".work").glob(f"*/{RESUME_FILE}")
    assert checkpoint.parent == ResultsDir(results).work_dir(checkpoint.parent.name)
    assert str(checkpoint) in message
    assert not all(torch.isfinite(t).all() for t in torch.load(checkpoint)["model"].values())
    assert ResultsDir(results).run_dirs() == [] and written(results) == []
    assert not list(results.glob(".tmp-*"))


def test_an_empty_train_split_is_refused_before_training(tiny_covid_task, tiny_covid_root, tmp_path, monkeypatch):
    """Every training image left out (as --skip-corrupt does with unreadable ones): no step can be taken."""
    prepare = TaskData.prepare

    def no_train_images(self: TaskData, split: str, size: int, skip_corrupt: bool = False) -> PreparedSplit:
        prepared = prepare(self, split, size, skip_corrupt)
        if split != "train":
            return prepared
        return PreparedSplit([], [], prepared.images, prepared.rows[:0], prepared.targets[:0])

    monkeypatch.setattr(TaskData, "prepare", no_train_images)
    results = tmp_path / "results"
    request = RunRequest(
        task=tiny_covid_task, model=NAN_SPEC, data_root=str(tiny_covid_root), results=results, skip_corrupt=True
    )
    with pytest.raises(InvalidRunError, match=r"seed 0 has no image to train on .* once --skip-corrupt left out"):
        run_benchmark(request)
    assert not results.exists()


def test_the_loop_refuses_an_epoch_that_took_no_step(tmp_path):
    """``fit`` called directly (not through the runner) on a split that gives no batch."""
    empty = PreparedSplit([], [], np.zeros((0, 16, 16), np.uint8), np.zeros(0, np.int64), torch.zeros(0, 3))
    val = PreparedSplit(["v"], ["p"], np.zeros((1, 16, 16), np.uint8), np.zeros(1, np.int64), torch.eye(3)[:1])
    with pytest.raises(InvalidRunError, match="epoch 1 took no optimizer step: the 0 training image"):
        fit(NaNNet(3), TINY, "multiclass", empty, val, FitOptions(tmp_path / "ckpt.pt", seed=0))
    assert not (tmp_path / "ckpt.pt").exists()


@pytest.mark.parametrize(
    ("overrides", "seed", "message"),
    [
        ({"epochs": 0}, 0, "epochs must be a whole number >= 1, got 0"),
        ({"epochs": -1}, 0, "epochs must be a whole number >= 1, got -1"),
        ({"steps_per_epoch": 0}, 0, "steps_per_epoch must be a whole number >= 1, got 0"),
        ({"lr": -1}, 0, r"lr must be a finite number > 0, got -1\.0"),
        ({"lr": "nan"}, 0, "lr must be a finite number > 0, got nan"),
        ({"batch_size": 0}, 0, "batch_size must be a whole number >= 1, got 0"),
        ({}, 2**64, r"seed must be a whole number with 0 <= seed < 2\*\*32, got 18446744073709551616"),
    ],
)
def test_degenerate_settings_are_refused_before_any_data_is_read(tmp_path, overrides, seed, message):
    """The data root does not exist: reading it would raise DatasetNotFoundError instead."""
    results = tmp_path / "results"
    request = RunRequest(
        task="covid3",
        model=NAN_SPEC,
        data_root=str(tmp_path / "no-data"),
        seed=seed,
        overrides=overrides,
        results=results,
    )
    with pytest.raises(ConfigError, match=message):
        run_benchmark(request)
    assert not results.exists()


def test_cli_settings_are_refused_as_typed_errors(tmp_path, capsys):
    """`--set` reaches the recipe's checks (ConfigError, exit 2); `--seed` is checked as it is parsed."""
    base = ["run", "--task", "covid3", "--model", "lotko_cnn", "--data-root", str(tmp_path / "no-data")]
    assert main([*base, "--set", "lr=-1", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "error: ConfigError: lr must be a finite number > 0, got -1.0" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:
        main([*base, "--seed", str(2**64)])
    assert exited.value.code == 2
    assert "argument --seed: seed must be a whole number with 0 <= seed < 2**32" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_epochs_zero_exits_non_zero_without_a_traceback(tmp_path):
    results = tmp_path / "results"
    command = ["run", "--task", "covid3", "--model", "lotko_cnn", "--epochs", "0", "--results", str(results)]
    process = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *command],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert process.returncode == 2
    assert "argument --epochs: epochs must be a whole number >= 1, got 0" in process.stderr
    assert "Traceback" not in process.stderr and not results.exists()


def make_submission(tmp_path: Path, model_source: str) -> Path:
    """The template submission for covid3 with ``model_source`` as its model.py."""
    folder = tmp_path / "submissions" / "team_v"
    shutil.copytree(TEMPLATE, folder)
    (folder / "model.py").write_text(textwrap.dedent(model_source))
    spec = yaml.safe_load((folder / "submission.yaml").read_text())
    (folder / "submission.yaml").write_text(yaml.safe_dump({**spec, "name": "team_v", "tasks": ["covid3"]}))
    return folder


def test_a_plugin_recipe_with_a_wrongly_typed_field_names_it(tmp_path):
    source = """
        from torch import nn

        from benchmark.recipe import Recipe

        RECIPE = Recipe(image_size=16, in_chans=1, lr="fast")


        def build_model(inputs):
            return nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, inputs.num_outputs))
        """
    with pytest.raises(ConfigError, match="lr expects float, got 'fast'"):
        Recipe(image_size=16, in_chans=1, lr="fast")
    folder = make_submission(tmp_path, source)
    with pytest.raises(SubmissionError) as caught:
        load_plugin(folder, "covid3")
    assert isinstance(caught.value.__cause__, ConfigError)
    assert str(folder / "model.py") in str(caught.value) and "lr expects float, got 'fast'" in str(caught.value)


def test_a_plugin_whose_output_shape_is_wrong_only_for_larger_batches_is_refused(tmp_path):
    source = """
        from torch import nn

        from benchmark.recipe import Recipe

        RECIPE = Recipe(image_size=16, in_chans=1, epochs=1, batch_size=8)


        class FirstTwo(nn.Module):
            def __init__(self, outputs):
                super().__init__()
                self.head = nn.Linear(16 * 16, outputs)

            def forward(self, x):
                return self.head(x.flatten(1))[:2]  # right for a batch of 2, wrong for any larger one


        def build_model(inputs):
            return FirstTwo(inputs.num_outputs)
        """
    folder = make_submission(tmp_path, source)
    namespace: dict = {}
    exec(textwrap.dedent(source), namespace)  # the fault: a batch of 2, all the check used to run, passes
    assert namespace["build_model"](ModelInputs(3, 1, 16))(torch.zeros(2, 1, 16, 16)).shape == (2, 3)
    with pytest.raises(SubmissionError) as caught:
        load_plugin(folder, "covid3")
    message = str(caught.value)
    assert "gives outputs of shape (2, 3) for a batch of 3; task covid3 needs (3, 3)" in message
    assert str(folder / "model.py") in message
