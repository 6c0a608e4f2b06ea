"""The typed run record: records written by `benchmark run` and by a prediction submission read back to the
same JSON; a record with a missing, unknown or mistyped field, or of another schema version, is refused
with a RecordError naming its file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchmark.errors import RecordError
from benchmark.results.record import (
    RECORD_FILE,
    SCHEMA_VERSION,
    PackageInfo,
    PluginSubmission,
    PredictionsSubmission,
    RunRecord,
)
from benchmark.results.store import ResultsDir
from benchmark.submission.scoring import PredictionSubmission, score_submission
from benchmark.tasks import Task
from benchmark.training.runner import RunRequest, publish_run, run_benchmark


@pytest.fixture(scope="module")
def trained(tiny_covid_task: Task, tiny_covid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """record.json of lotko_cnn trained for one epoch on the generated covid3 dataset."""
    results = tmp_path_factory.mktemp("results")
    request = RunRequest(
        task=tiny_covid_task,
        model="lotko_cnn",
        data_root=str(tiny_covid_root),
        overrides={"epochs": 1, "image_size": 32},
        results=results,
    )
    return run_benchmark(request) / RECORD_FILE


@pytest.fixture(scope="module")
def submitted(tiny_covid_task: Task, tiny_covid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """record.json of a predictions file (scores leaning to the true class) scored on the same task."""
    folder = tmp_path_factory.mktemp("submission")
    frame = tiny_covid_task.load_data(str(tiny_covid_root)).frame
    labels = list(tiny_covid_task.labels)
    test = frame.loc[frame["split"] == "test", ["image_id", *labels]]
    scores = pd.DataFrame({"image_id": test["image_id"], **{c: test[c] * 0.7 + 0.1 for c in labels}})
    scores.to_csv(folder / "test.csv", index=False)
    submission = PredictionSubmission("team_r", tiny_covid_task, folder / "test.csv", data_root=str(tiny_covid_root))
    return publish_run(score_submission(submission), folder / "results") / RECORD_FILE


def _damaged(path: Path, tmp_path: Path, change: Any) -> Path:
    """A copy of the record at ``path`` with ``change(data)`` applied to its JSON, in a run folder of its own."""
    data = json.loads(path.read_text())
    change(data)
    copy = tmp_path / "damaged-run" / RECORD_FILE
    copy.parent.mkdir()
    copy.write_text(json.dumps(data))
    return copy


@pytest.mark.parametrize("which", ["trained", "submitted"])
def test_a_written_record_reads_back_to_the_same_json(which: str, request: pytest.FixtureRequest):
    path: Path = request.getfixturevalue(which)
    text = path.read_text()
    record = RunRecord.load(path)
    assert record.to_json() == text  # byte for byte, as publishing wrote it
    assert RunRecord.from_json(record.to_json(), "again") == record
    assert RunRecord.from_dict(json.loads(text), str(path)).to_dict() == json.loads(text)
    assert record.schema_version == SCHEMA_VERSION and record.run_id == path.parent.name
    assert ResultsDir(path.parent.parent).load_record(record.run_id) == record


def test_sections_of_a_trained_run(trained: Path, tiny_covid_task: Task):
    record = RunRecord.load(trained)
    assert record.task.labels == tiny_covid_task.labels and record.task.hash == tiny_covid_task.task_hash
    assert record.primary is record.metrics[tiny_covid_task.primary_metric]
    assert record.thresholds_list() == [record.thresholds[label] for label in tiny_covid_task.labels]
    assert record.model.input is not None and record.model.input.image_size == 32
    assert record.training is not None and record.training.epochs_run == 1
    assert record.weights is not None and record.weights.init == "random init"
    assert record.submission is None and record.confusion_matrix is not None
    assert set(record.files or {}) == {"best_model.pt", "predictions.parquet", "val_predictions.parquet"}
    assert "submission" not in record.to_dict() and "tuning" not in record.to_dict()  # absent, not null


def test_sections_of_a_prediction_submission(submitted: Path):
    record = RunRecord.load(submitted)
    assert isinstance(record.submission, PredictionsSubmission) and record.submission.name == "team_r"
    assert record.origin == "submission" and record.model.name == "submission:team_r"
    assert record.training is None and record.recipe is None and record.weights is None
    assert record.durations_s.train is None and "train" not in record.to_dict()["durations_s"]
    assert record.to_dict()["training"] is None  # a section that does not apply is null where it always was


def test_a_plugin_submission_section_round_trips(trained: Path):
    plugin = PluginSubmission(
        kind="entry_point", name="team_a", authors=("A. Author",), contact="a@example.org", paper=None,
        url="https://example.org", licence="MIT", tasks=("covid3",), extra_training_data=("PadChest",),
        folder="/submissions/team_a", metadata_sha256="d" * 64, model_file=None, model_sha256=None,
        entry_point="team_net", weights=None, package=PackageInfo(name="team-pkg", version="1.2"), source_hash="e" * 64,
    )  # fmt: skip
    record = RunRecord.load(trained).with_sections({"submission": plugin, "reproduces": "an-earlier-run"})
    again = RunRecord.from_json(record.to_json(), "memory")
    assert again == record and again.submission == plugin and again.reproduces == "an-earlier-run"
    as_dict = RunRecord.load(trained).with_sections({"submission": plugin.to_dict()})
    assert as_dict.submission == plugin  # a JSON-shaped section becomes the typed one
    with pytest.raises(RecordError, match="sections \\['comment'\\] do not exist"):
        record.with_sections({"comment": "not a section"})


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("bootstrap"), "the record has missing field(s) ['bootstrap']"),
        (lambda r: r["task"].pop("split_report"), "task has missing field(s) ['split_report']"),
        (lambda r: r.update(seed="0"), "seed is str '0'; expected int"),
        (lambda r: r["task"].update(labels="Covid"), "task.labels is str 'Covid'; expected a list"),
        (lambda r: r["metrics"]["auroc"].update(value=None), "metrics.auroc.value is null; expected float"),
        (lambda r: r["training"].update(history={}), "training.history is dict {}; expected a list"),
        (lambda r: r.update(origin="upload"), "origin is 'upload'; expected one of ['baseline', 'submission', 're"),
        (lambda r: r.update(notes="hand-edited"), "the record has unknown field(s) ['notes']"),
        (lambda r: r.update(submission={"kind": "email"}), "submission.kind is 'email'"),
        (lambda r: r.update(model=None), "model is null"),
    ],
)
def test_a_damaged_record_is_refused_naming_the_file_and_the_field(trained, tmp_path, change, problem):
    path = _damaged(trained, tmp_path, change)
    with pytest.raises(RecordError) as caught:
        RunRecord.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a readable run record") and problem in message
    assert "restore it, or move its folder out of the results directory" in message
    with pytest.raises(RecordError, match="is not a readable run record"):
        ResultsDir(tmp_path).records()


def test_a_file_that_is_not_a_record_is_refused(tmp_path):
    path = tmp_path / RECORD_FILE
    for text, problem in [("{not json", "JSONDecodeError"), ("[1, 2]", "a JSON list, not an object")]:
        path.write_text(text)
        with pytest.raises(RecordError, match=f"is not a readable run record \\({problem}"):
            RunRecord.load(path)
    with pytest.raises(RecordError, match="FileNotFoundError"):
        RunRecord.load(tmp_path / "missing" / RECORD_FILE)


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, None])
def test_the_schema_version_is_checked(trained, tmp_path, version):
    path = _damaged(trained, tmp_path, lambda r: r.update(schema_version=version))
    with pytest.raises(RecordError) as caught:
        RunRecord.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path} has schema_version {version!r}")
    assert f"this CXR-Bench reads version {SCHEMA_VERSION}" in message


def test_a_record_is_frozen(trained):
    record = RunRecord.load(trained)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.seed = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.task.name = "other"  # type: ignore[misc]
