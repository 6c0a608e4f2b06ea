"""External sets end to end on short real runs: covid3 trained on a generated COVID set and scored at run time on
a generated Kermany test folder, then again with `benchmark evaluate --external`; refusals that write nothing;
the leaderboard's External page (nih14 -> CheXpert: test_nih_chexpert.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from benchmark.external.evaluate import EvaluateRequest, evaluate_external_set
from benchmark.external.report import export_section
from benchmark.external.results import external_results
from benchmark.external.spec import (
    ExternalDataMissingError,
    ExternalSetError,
    ReferenceRunError,
    RunWithoutWeightsError,
)
from benchmark.reference.board import REFERENCE_ENV
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.standings import task_standings
from benchmark.results.store import CHECKPOINT_FILE, ResultsDir
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import cli_env, pinned_copy
from tests.fixtures.covid_kaggle.make import make_covid_dataset
from tests.fixtures.kermany.make import TEST_NORMAL, TEST_PNEUMONIA, make_kermany_dataset

SHORT = {"epochs": 1, "steps_per_epoch": 1}
BOOTSTRAP = {"n_resamples": 50, "seed": 0}


@pytest.fixture(scope="module")
def covid_run(tmp_path_factory):
    """(task, data root, results, run dir) of a one-step covid3 run whose data root also holds a Kermany copy."""
    root = tmp_path_factory.mktemp("both")
    make_covid_dataset(root)
    make_kermany_dataset(root)
    task = pinned_copy(TASKS.get("covid3"), root, bootstrap=BOOTSTRAP)
    results = root.parent / f"{root.name}-results"
    run_dir = run_benchmark(
        RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=results, overrides=SHORT)
    )
    return task, root, results, run_dir


def _no_derived(run_dir):
    return not (run_dir / "derived").exists()


def test_run_records_the_kermany_viral_set_with_bacterial_images_left_out(covid_run):
    run_dir = covid_run[3]
    record = RunRecord.load(run_dir / RECORD_FILE)
    payload = record.external["kermany_viral"]
    viral = [n for n in TEST_PNEUMONIA if "_virus_" in n]
    settings = payload["settings"]
    assert settings["n_images"] == len(TEST_NORMAL) + len(viral) == 7
    assert settings["left_out"] == {"PNEUMONIA bacterial": len(TEST_PNEUMONIA) - len(viral)}
    assert settings["class_counts"] == {"NORMAL": 5, "PNEUMONIA bacterial": 2, "PNEUMONIA viral": 2}
    assert settings["absent_labels"] == ["Covid"] and settings["spec_hash"]
    assert settings["bootstrap"]["n_resamples"] == 50 and settings["bootstrap"]["unit"] == "patient"  # IM-0011 twice
    metrics = {row["metric"] for row in payload["rows"]}
    assert {"auroc", "auroc/Normal", "auroc/Viral Pneumonia", "accuracy"} <= metrics and "auroc/Covid" not in metrics
    assert payload["summary"]["metric"] == "auroc"
    assert _no_derived(run_dir)


def test_evaluate_command_writes_the_same_scores_as_a_derived_file(covid_run, tmp_path):
    task, root, results, run_dir = covid_run
    record_bytes = (run_dir / RECORD_FILE).read_bytes()
    command = [sys.executable, "-m", "benchmark.cli", "evaluate", run_dir.name[:30], "--external", "kermany_viral"]
    command += ["--results", str(results), "--data-root", str(root), "--device", "cpu"]
    done = subprocess.run(command, env=cli_env(tmp_path / "tasks", task), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    path = run_dir / "derived" / "external" / "kermany_viral.json"
    assert f"wrote {path}" in done.stdout and "| auroc |" in done.stdout
    derived = json.loads(path.read_text())
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert derived["inputs"]["weights_sha256"] == record.files[CHECKPOINT_FILE]
    assert derived["inputs"]["external_spec_hash"] == record.external["kermany_viral"]["settings"]["spec_hash"]
    assert derived["result"]["rows"] == record.external["kermany_viral"]["rows"]  # same weights, same images
    assert (run_dir / RECORD_FILE).read_bytes() == record_bytes  # the record is never rewritten
    merged = external_results(run_dir, record)
    assert merged["kermany_viral"]["origin"] == "derived"

    standings = task_standings(ResultsDir(results), "covid3", task.task_hash)
    markdown, rows = export_section(ResultsDir(results), standings, {})
    (row,) = rows
    assert row["external_set"] == "kermany_viral" and row["internal"] == record.metrics["auroc"].value
    assert row["drop"] == pytest.approx(row["internal"] - row["external"])
    assert "## External test sets (covid3)" in markdown and "kermany_viral" in markdown


def test_bad_requests_are_refused_and_write_nothing(covid_run, tiny_covid_root, tmp_path, monkeypatch):
    task, _, results, run_dir = covid_run
    base = {"run_id": run_dir.name, "results": results, "device": "cpu", "task": task}
    shutil.rmtree(run_dir / "derived", ignore_errors=True)

    with pytest.raises(ExternalSetError, match="declares no external set 'kermany'; its external sets: kermany_viral"):
        evaluate_external_set(EvaluateRequest(external="kermany", **base))
    with pytest.raises(
        ExternalDataMissingError,
        match=r"external set 'kermany_viral' of task covid3: its data is not "
        r"under .*expected chest_xray under .*chest_xray/test/\{NORMAL,PNEUMONIA\}/ exist",
    ):
        evaluate_external_set(EvaluateRequest(external="kermany_viral", data_root=str(tiny_covid_root), **base))
    assert _no_derived(run_dir)

    without = tmp_path / "without-weights"
    shutil.copytree(run_dir, without / run_dir.name)
    (without / run_dir.name / CHECKPOINT_FILE).unlink()
    with pytest.raises(
        RunWithoutWeightsError,
        match=r"has no model weights .* is listed in its record but missing\): "
        r"restore the run folder .* or re-run it with `benchmark run --task covid3",
    ):
        evaluate_external_set(EvaluateRequest(**{**base, "results": without}, external="kermany_viral"))
    assert not (without / run_dir.name / "derived").exists()

    board = tmp_path / "board"
    shutil.copytree(run_dir, board / run_dir.name)
    monkeypatch.setenv(REFERENCE_ENV, str(board))
    mine = tmp_path / "mine"
    with pytest.raises(ReferenceRunError, match=r"is a shipped reference run .* read-only.*Copy its folder"):
        evaluate_external_set(EvaluateRequest(**{**base, "results": mine}, external="kermany_viral"))
    assert not (board / run_dir.name / "derived").exists() and not mine.exists()


def test_run_without_the_external_data_records_it_skipped(tiny_covid_root, tmp_path):
    task = pinned_copy(TASKS.get("covid3"), tiny_covid_root, bootstrap=BOOTSTRAP)
    request = RunRequest(
        task=task, model="lotko_cnn", data_root=str(tiny_covid_root), results=tmp_path, overrides=SHORT
    )
    record = RunRecord.load(run_benchmark(request) / RECORD_FILE)
    payload = record.external["kermany_viral"]
    assert payload["rows"] == [] and "its data is not under" in payload["skipped"]


def test_leaderboard_page_shows_internal_beside_external(covid_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from leaderboard import data
    from tests.conftest import REPO

    _, _, results, run_dir = covid_run
    monkeypatch.setenv(data.RESULTS_ENV, str(results))
    at = AppTest.from_file(str(REPO / "leaderboard" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/external.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    record = RunRecord.load(run_dir / RECORD_FILE)
    (row,) = table.to_dict("records")
    assert row["external_set"] == "kermany_viral" and row["internal"] == pytest.approx(record.metrics["auroc"].value)
    assert row["drop"] == pytest.approx(row["internal"] - row["external"])
    assert "kermany_viral" in "\n".join(m.value for m in at.markdown)


def test_a_prediction_submission_has_no_weights_to_score_with(tmp_path):
    import numpy as np

    from tests.fixtures.runs.make import make_predictions, toy_task, write_run

    task = TASKS.get("covid3")
    y = np.eye(3)[np.arange(12) % 3]
    predictions = make_predictions(np.arange(12).astype(str), y, task.labels, np.full((12, 3), 1 / 3))
    spec = toy_task("multiclass", task.labels, task.task_hash, name="covid3")
    run_id = write_run(tmp_path, predictions, spec, "team_x", 0, origin="submission")
    with pytest.raises(RunWithoutWeightsError, match=r"is a submission without model weights .* Submit the model"):
        evaluate_external_set(EvaluateRequest(run_id, "kermany_viral", tmp_path, "/nonexistent", "cpu"))
    assert not (tmp_path / run_id / "derived").exists()


def test_run_summary_prints_each_external_set_scored_or_skipped(covid_run):
    from benchmark.commands.core import summary

    record = RunRecord.load(covid_run[3] / RECORD_FILE)
    row = next(r for r in record.external["kermany_viral"]["rows"] if r["metric"] == "auroc")
    text = summary(record)
    assert f"external kermany_viral: auroc {row['value']:.4f}" in text
    assert f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}] on 7 images" in text
    skipped = record.with_sections({"external": {"other": {"skipped": "no data under the data root"}}})
    assert "external other: no data under the data root" in summary(skipped)
