"""Plugin submissions: strict metadata, paths kept inside the folder, weights hashes, code that runs only
when asked, and the example submission end to end on the real covid3 data."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn import metrics as skm

from benchmark.cli import main
from benchmark.errors import SubmissionError
from benchmark.models.registry import ENTRY_POINT_GROUP
from benchmark.models.source import PROJECT_ROOT, SourceRoot, hash_sources, import_closure
from benchmark.results.index import RunFilter
from benchmark.results.record import RECORD_FILE, PackageInfo, RunRecord, SubmittedWeights
from benchmark.results.store import ResultsDir
from benchmark.submission.metadata import load_submission
from benchmark.submission.plugin import load_plugin
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import REPO, cli_env

TEMPLATE = REPO / "submissions" / "_template"
EXAMPLE = REPO / "submissions" / "example_tinycnn"

MARKER_MODEL = textwrap.dedent(
    """
    import os
    from collections import OrderedDict
    from pathlib import Path

    from torch import nn

    from benchmark.models.registry import ModelInputs
    from benchmark.recipe import Recipe

    Path(os.environ["CXR_TEST_MARKER"]).write_text("imported")  # proves when submitted code ran

    RECIPE = Recipe(image_size=16, in_chans=1, epochs=1, batch_size=8)


    def build_model(inputs: ModelInputs) -> nn.Module:
        features = inputs.image_size**2 * inputs.in_chans
        return nn.Sequential(OrderedDict(flat=nn.Flatten(), head=nn.Linear(features, inputs.num_outputs)))
    """
)


@pytest.fixture
def marker(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "model-was-imported"
    monkeypatch.setenv("CXR_TEST_MARKER", str(path))
    return path


def make_submission(tmp_path: Path, tasks: tuple[str, ...] | None = ("covid3",), **changes: object) -> Path:
    """A copy of the template whose model.py leaves a marker file when imported; ``changes`` edit
    submission.yaml (None deletes a key)."""
    folder = tmp_path / "submissions" / "team_a"
    shutil.copytree(TEMPLATE, folder)
    (folder / "model.py").write_text(marker_model())
    spec = yaml.safe_load((folder / "submission.yaml").read_text())
    spec["name"] = "team_a"
    if tasks is not None:
        spec["tasks"] = list(tasks)
    else:
        del spec["tasks"]
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    return folder


def marker_model() -> str:
    """MARKER_MODEL with the marker's path written in: `benchmark submit` runs it in a child process that
    gets none of the test's environment (benchmark.submission.isolation)."""
    path = os.environ.get("CXR_TEST_MARKER")
    return MARKER_MODEL.replace('os.environ["CXR_TEST_MARKER"]', repr(path)) if path else MARKER_MODEL


def folder_source_hash(folder: Path) -> str:
    """The source hash of a submission's model.py: it and the folder's and project's modules it imports."""
    return hash_sources(import_closure(folder / "model.py", (PROJECT_ROOT, SourceRoot(folder.resolve()))))


def cli(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "benchmark.cli", *args], env=env, check=True, capture_output=True)


def rejected(folder: Path, task: str = "covid3") -> str:
    with pytest.raises(SubmissionError) as caught:
        load_plugin(folder, task)
    return str(caught.value)


def test_template_and_example_validate():
    for folder in (TEMPLATE, EXAMPLE):
        submission = load_submission(folder)
        assert "covid3" in submission.tasks and submission.model.file.name == "model.py"
        assert submission.extra_training_data == ()


def test_missing_and_unknown_keys_are_named(tmp_path, marker):
    folder = make_submission(tmp_path, licence=None, license="MIT", team="x")
    message = rejected(folder)
    assert "missing required key licence" in message
    assert "unknown key license (did you mean licence?)" in message
    assert "unknown key team" in message
    assert str(folder / "submission.yaml") in message
    assert not marker.exists()


def test_every_required_key_is_required(tmp_path, marker):
    for key in ("name", "authors", "contact", "licence", "tasks", "model", "extra_training_data"):
        message = rejected(make_submission(tmp_path / key, **{key: None}))
        assert f"missing required key {key}" in message
    assert not marker.exists()


def test_paper_or_url_and_field_types(tmp_path, marker):
    folder = make_submission(tmp_path, paper=None, url=None, authors="Ada", name="Team A!", extra_training_data="none")
    message = rejected(folder)
    assert "give `paper` (a citation) or `url`" in message
    assert "authors must be a list of non-empty strings" in message
    assert "name 'Team A!' must be 2-64 characters" in message
    assert "extra_training_data must be a list of non-empty strings ([] for none)" in message
    assert not marker.exists()


def test_model_keys_are_checked(tmp_path, marker):
    folder = make_submission(tmp_path, model={"file": "model.py", "factroy": "build_model"})
    assert "unknown key model.factroy (did you mean model.factory?)" in rejected(folder)
    assert not marker.exists()


def test_unknown_and_undeclared_tasks(tmp_path, marker):
    assert "unknown task 'covid4'" in rejected(make_submission(tmp_path / "a", tasks=("covid4",)))
    message = rejected(make_submission(tmp_path / "b", tasks=("pneumonia",)), task="covid3")
    assert "task 'covid3' is not among the submission's tasks ['pneumonia']" in message
    assert not marker.exists()


def test_yaml_is_loaded_safely(tmp_path, marker):
    folder = make_submission(tmp_path)
    side_effect = tmp_path / "pwned"
    (folder / "submission.yaml").write_text(f"name: !!python/object/apply:os.system ['touch {side_effect}']\n")
    assert "not valid YAML" in rejected(folder)
    assert not side_effect.exists() and not marker.exists()
    (folder / "submission.yaml").write_text("- just\n- a list\n")
    assert "must be a mapping" in rejected(folder)


def test_paths_cannot_leave_the_submission_folder(tmp_path, marker):
    outside = tmp_path / "outside.py"
    outside.write_text(MARKER_MODEL)
    absolute = make_submission(tmp_path / "abs", model={"file": str(outside)})
    assert f"model.file {str(outside)!r} is an absolute path" in rejected(absolute)
    dotdot = make_submission(tmp_path / "dots", model={"file": "../../../outside.py"})
    assert "model.file '../../../outside.py' contains '..'" in rejected(dotdot)
    linked = make_submission(tmp_path / "link", model={"file": "linked.py"})
    (linked / "linked.py").symlink_to(outside)
    assert "model.file 'linked.py' is a symlink to" in rejected(linked)
    weights_out = make_submission(tmp_path / "w", weights={"file": "w.pt", "sha256": "0" * 64})
    (weights_out / "w.pt").symlink_to(outside)
    assert "weights.file 'w.pt' is a symlink to" in rejected(weights_out)
    missing = make_submission(tmp_path / "missing", model={"file": "nope.py"})
    assert "model.file 'nope.py' does not exist" in rejected(missing)
    assert not marker.exists()


def test_weights_hash_is_checked_before_any_code_runs(tmp_path, marker):
    folder = make_submission(tmp_path)
    weights = folder / "weights.pt"
    torch.save({"head.weight": torch.zeros(3, 256), "head.bias": torch.zeros(3)}, weights)
    actual = hashlib.sha256(weights.read_bytes()).hexdigest()
    spec = yaml.safe_load((folder / "submission.yaml").read_text())
    spec["weights"] = {"file": "weights.pt", "sha256": "a" * 64}
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    message = rejected(folder)
    assert f"weights file weights.pt has sha256 {actual}, but weights.sha256 declares {'a' * 64}" in message
    spec["weights"] = {"file": "weights.pt", "sha256": "not-a-hash"}
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    assert "weights.sha256 'not-a-hash' must be 64 lowercase hex digits" in rejected(folder)
    assert not marker.exists()
    spec["weights"] = {"file": "weights.pt", "sha256": actual}
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    built, metadata = load_plugin(folder, "covid3")
    assert built.recipe.pretrained_weights == str(weights.resolve())
    assert metadata.weights == SubmittedWeights(file="weights.pt", sha256=actual)


def test_model_file_problems_are_named(tmp_path, marker):
    folder = make_submission(tmp_path, model={"file": "model.py", "factory": "make_net", "recipe": "TRAINING"})
    message = rejected(folder)
    assert "model.factory 'make_net' is not a function in model.py" in message
    assert "model.recipe 'TRAINING' in model.py must be a benchmark.recipe.Recipe, got nothing" in message
    (folder / "model.py").write_text("import not_a_module_anywhere\n")
    message = rejected(folder)
    assert "failed on import (ModuleNotFoundError" in message and "not_a_module_anywhere" in message


def test_a_model_that_does_not_build_for_the_task_is_named(tmp_path, marker):
    folder = make_submission(tmp_path)
    source = (folder / "model.py").read_text()
    (folder / "model.py").write_text(source.replace("inputs.num_outputs)))", "5)))"))
    message = rejected(folder)
    assert "gives outputs of shape (2, 5) for a batch of 2; task covid3 needs (2, 3)" in message
    (folder / "model.py").write_text(source.replace("flat=nn.Flatten()", "conv=nn.Conv2d(3, 4, 3), flat=nn.Flatten()"))
    message = rejected(folder)
    assert "running it on a batch of shape (2, 1, 16, 16) failed (RuntimeError" in message
    assert str(folder / "model.py") in message


def test_uninstalled_entry_point_is_named(tmp_path, marker):
    folder = make_submission(tmp_path, model={"entry_point": "no_such_model"})
    assert "no installed package declares model 'no_such_model'" in rejected(folder)


def test_rejected_submit_exits_non_zero_and_records_nothing(tmp_path, marker, capsys):
    folder = make_submission(tmp_path, licence=None)
    results = tmp_path / "results"
    code = main(["submit", str(folder), "--task", "covid3", "--data-root", str(tmp_path), "--results", str(results)])
    assert code == 2
    assert "SubmissionError" in capsys.readouterr().err
    assert not results.exists() and not marker.exists()


@pytest.mark.slow  # nine `benchmark` processes
def test_submitted_code_runs_only_on_submit_or_run(tmp_path, marker, tiny_covid_task, tiny_covid_root):
    """Listing, indexing and citing never import a submission; `benchmark submit` does."""
    env = {**cli_env(tmp_path / "tasks", tiny_covid_task, name="tinycovid"), "CXR_TEST_MARKER": str(marker)}
    folder = make_submission(tmp_path, tasks=("tinycovid",))
    results = tmp_path / "results"
    for command in (["tasks"], ["models"], ["runs"], ["index"]):
        cli(*command, *(["--results", str(results)] if command[0] in ("runs", "index") else []), env=env)
    assert not marker.exists()
    options = ["--data-root", str(tiny_covid_root), "--results", str(results)]
    cli("submit", str(folder), "--task", "tinycovid", *options, env=env)
    assert marker.read_text() == "imported"
    marker.unlink()
    (run_id,) = [p.name for p in ResultsDir(results).run_dirs()]
    for command in (["runs"], ["show", run_id], ["cite", run_id], ["index", "--rebuild"]):
        cli(*command, "--results", str(results), env=env)
    assert not marker.exists()
    record = ResultsDir(results).load_record(run_id)
    assert record.origin == "submission" and record.model.name == "submission:team_a"
    assert record.model.source_hash == folder_source_hash(folder)
    assert record.submission.model_sha256 == hashlib.sha256((folder / "model.py").read_bytes()).hexdigest()
    assert record.submission.folder == str(folder.resolve())


def test_run_accepts_a_submission_folder(tmp_path, marker, tiny_covid_task, tiny_covid_root):
    env = {**cli_env(tmp_path / "tasks", tiny_covid_task, name="tinycovid"), "CXR_TEST_MARKER": str(marker)}
    folder = make_submission(tmp_path, tasks=("tinycovid",))
    results = tmp_path / "results"
    options = ["--data-root", str(tiny_covid_root), "--results", str(results)]
    cli("run", "--task", "tinycovid", "--model", str(folder), *options, env=env)
    (run,) = ResultsDir(results).query(RunFilter(origin="submission"))
    assert run.model_name == "submission:team_a" and run.submission_name == "team_a"


def test_installed_package_submission_through_the_entry_point_group(
    tmp_path, monkeypatch, tiny_covid_task, tiny_covid_root
):
    site = tmp_path / "site"
    site.mkdir()
    (site / "team_pkg_model.py").write_text(
        textwrap.dedent(
            """
            from torch import nn
            from benchmark.models.registry import ModelSpec
            from benchmark.recipe import Recipe

            def build(inputs):
                features = inputs.image_size**2 * inputs.in_chans
                return nn.Sequential(nn.Flatten(), nn.Linear(features, inputs.num_outputs))

            def spec():
                return ModelSpec("team_pkg_net", build, Recipe(image_size=16, in_chans=1, epochs=1), "pkg", "card")
            """
        )
    )
    dist = site / "team_pkg-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: team-pkg\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nteam_pkg_net = team_pkg_model:spec\n")
    monkeypatch.syspath_prepend(str(site))
    folder = make_submission(tmp_path, model={"entry_point": "team_pkg_net"})
    (folder / "model.py").unlink()
    spec, metadata = load_plugin(folder, "covid3")
    assert spec.name == "submission:team_a" and spec.family == "pkg"
    assert metadata.kind == "entry_point" and metadata.package == PackageInfo(name="team-pkg", version="1.2")
    request = RunRequest(
        task=tiny_covid_task,
        model=spec,
        data_root=str(tiny_covid_root),
        results=tmp_path / "results",
        origin="submission",
        extra={"submission": metadata},
    )
    record = RunRecord.load(run_benchmark(request) / RECORD_FILE)
    assert record.origin == "submission" and record.submission.package.version == "1.2"
    assert record.model.source_hash == spec.source_hash
    assert "team_pkg_model.py" in [f.name for f in spec.source_files]  # its own file, named without site/


@pytest.mark.slow
def test_example_submission_runs_end_to_end_on_real_covid3(shared_data, tmp_path, capsys):
    results = tmp_path / "results"
    options = ["--task", "covid3", "--seeds", "0", "--epochs", "1", "--data-root", str(shared_data)]
    assert main(["submit", str(EXAMPLE), *options, "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "unranked until it has 3" in out
    (run_dir,) = ResultsDir(results).run_dirs()
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert record.origin == "submission" and record.model.name == "submission:example_tinycnn"
    assert record.model.source_hash == folder_source_hash(EXAMPLE)
    assert record.submission.name == "example_tinycnn" and record.submission.licence == "MIT"
    assert record.task.split_sha256 == "a7af7263f8d1210c42428c6f09acc1dc8aeaf4ce0869d61e06dea11b5072ddfb"
    assert record.recipe["image_size"] == 96 and record.recipe["epochs"] == 1 and record.n_test == 66
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    labels = ["Covid", "Normal", "Viral Pneumonia"]
    truth = predictions["image_id"].str.split("/").str[1].map(labels.index).to_numpy()  # test/<class>/<file>
    score = predictions[[f"score:{c}" for c in labels]].to_numpy()
    assert sorted(predictions["image_id"]) == sorted(
        f"test/{c}/{f.name}" for c in labels for f in (shared_data / "covid19/Covid19-dataset/test" / c).iterdir()
    )
    assert record.metrics["auroc"].value == pytest.approx(skm.roc_auc_score(truth, score, multi_class="ovr"))
    assert record.metrics["accuracy"].value == pytest.approx(skm.accuracy_score(truth, score.argmax(1)))
    assert np.isfinite(score).all() and (run_dir / "best_model.pt").is_file()
    assert os.path.isfile(results / "index.sqlite3")
    (indexed,) = ResultsDir(results).query(RunFilter(origin="submission", task="covid3"))
    assert indexed.run_id == record.run_id and indexed.submission_name == "example_tinycnn"
