"""`benchmark robustness RUN_ID` on a real short run (the tiny generated COVID set, lotko_cnn, 2 epochs):
the derived file beside the run, its numbers against scikit-learn on the same corrupted images, its reuse,
the CLI, the errors (nothing written), and the leaderboard page reading it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, roc_auc_score
from streamlit.testing.v1 import AppTest

from benchmark.cli import main
from benchmark.errors import ConfigError, ReadOnlyStoreError, RunDamagedError, RunNotFoundError
from benchmark.reference.board import REFERENCE_ENV, shipped_results
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.robustness.corruptions import CORRUPTIONS, corrupt
from benchmark.robustness.run import NoWeightsError, ReferenceRunError, RobustnessRequest, run_robustness
from benchmark.saliency.run import load_run_model
from benchmark.training.runner import RunRequest, run_benchmark
from leaderboard import data
from tests.conftest import REPO, cli_env

MODEL_SIZE = 64  # lotko_cnn's input


@pytest.fixture(scope="module")
def covid_run(tiny_covid_task, tiny_covid_root, tmp_path_factory):
    """(results root, run dir) of a 2-epoch lotko_cnn run on the tiny COVID set."""
    results = tmp_path_factory.mktemp("robustness") / "results"
    run_dir = run_benchmark(
        RunRequest(
            task=tiny_covid_task,
            model="lotko_cnn",
            data_root=str(tiny_covid_root),
            results=results,
            overrides={"epochs": 2},
        )
    )
    return results, run_dir


@pytest.fixture(scope="module")
def computed(covid_run, tiny_covid_task):
    results, run_dir = covid_run
    record_bytes = (run_dir / RECORD_FILE).read_bytes()
    done = run_robustness(RobustnessRequest(run_id=run_dir.name, results=results, task=tiny_covid_task))
    assert (run_dir / RECORD_FILE).read_bytes() == record_bytes  # the record is never rewritten
    return done


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_result_is_written_beside_the_run_with_its_inputs(covid_run, computed):
    _, run_dir = covid_run
    assert not computed.reused
    assert computed.path == run_dir / "derived" / "robustness" / "corruptions-s0.json"
    payload = json.loads(computed.path.read_text())
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert payload["inputs"]["weights_sha256"] == _sha256(run_dir / "best_model.pt") == record.files["best_model.pt"]
    settings = payload["inputs"]["settings"]
    assert settings["corruptions"] == list(CORRUPTIONS) and settings["severities"] == [1, 2, 3, 4, 5]
    assert settings["seed"] == 0 and settings["bootstrap"]["n_resamples"] == 200
    rows = payload["result"]["rows"]
    assert len(rows) == 2 * (1 + 7 * 5)  # auroc and accuracy, clean and every (corruption, severity)
    assert {r["metric"] for r in rows} == {"auroc", "accuracy"}
    assert set(rows[0]) == {"corruption", "severity", "metric", "value", "ci_low", "ci_high", "relative_drop"}


def test_clean_rows_are_the_recorded_test_metrics(covid_run, computed):
    _, run_dir = covid_run
    record = RunRecord.load(run_dir / RECORD_FILE)
    clean = {r["metric"]: r for r in computed.payload["result"]["rows"] if r["severity"] == 0}
    for metric in ("auroc", "accuracy"):
        recorded = record.metrics[metric]
        got = clean[metric]
        assert (got["value"], got["ci_low"], got["ci_high"]) == pytest.approx(
            (recorded.value, recorded.ci_low, recorded.ci_high), abs=1e-6
        )
        assert got["relative_drop"] == 0


def test_corrupted_values_are_sklearns_on_the_corrupted_images(covid_run, computed, tiny_covid_task):
    """Independent of the scoring path: the corrupted images through the model, then scikit-learn."""
    _, run_dir = covid_run
    record = RunRecord.load(run_dir / RECORD_FILE)
    net, recipe, _ = load_run_model(run_dir, record, tiny_covid_task)
    test = tiny_covid_task.load_data(record.task.data_root).prepare("test", MODEL_SIZE)
    clean = test.images[test.rows]
    truth = test.targets.numpy().argmax(axis=1)
    rows = {(r["corruption"], r["severity"], r["metric"]): r for r in computed.payload["result"]["rows"]}
    mean = torch.tensor(recipe.normalize_mean).view(1, -1, 1, 1)
    std = torch.tensor(recipe.normalize_std).view(1, -1, 1, 1)
    for corruption, severity in (("gaussian_noise", 5), ("jpeg", 5), ("rotation", 3), ("contrast", 5)):
        images = torch.from_numpy(corrupt(clean, corruption, severity, seed=0)).float()[:, None] / 255
        with torch.no_grad():
            probabilities = torch.softmax(net.eval()((images.expand(-1, recipe.in_chans, -1, -1) - mean) / std), 1)
        p = probabilities.numpy()
        expected_auroc = roc_auc_score(np.eye(3)[truth], p, average="macro")
        assert rows[corruption, severity, "auroc"]["value"] == pytest.approx(expected_auroc, abs=1e-6)
        assert rows[corruption, severity, "accuracy"]["value"] == pytest.approx(accuracy_score(truth, p.argmax(1)))
        for metric in ("auroc", "accuracy"):
            row, base = rows[corruption, severity, metric], rows["none", 0, metric]
            assert row["relative_drop"] == pytest.approx((base["value"] - row["value"]) / base["value"])
            assert row["ci_low"] <= row["value"] <= row["ci_high"]
    summary = computed.payload["result"]["summary"]
    noise = [rows["gaussian_noise", s, "auroc"]["relative_drop"] for s in range(1, 6)]
    assert summary["mean_relative_drop"]["gaussian_noise"] == pytest.approx(np.mean(noise))
    means = [summary["mean_relative_drop"][c] for c in CORRUPTIONS]
    assert summary["mean_relative_drop"]["overall"] == pytest.approx(np.mean(means))


def test_same_settings_reuse_the_file_others_recompute(covid_run, computed, tiny_covid_task):
    results, run_dir = covid_run
    stamp = computed.path.stat().st_mtime_ns
    again = run_robustness(RobustnessRequest(run_id=run_dir.name[:30], results=results, task=tiny_covid_task))
    assert again.reused and again.path == computed.path and computed.path.stat().st_mtime_ns == stamp
    assert again.payload == json.loads(computed.path.read_text())
    subset = RobustnessRequest(
        run_id=run_dir.name, results=results, task=tiny_covid_task, corruptions=("jpeg",), severities=(5, 1), seed=3
    )
    other = run_robustness(subset)
    assert not other.reused and other.path != computed.path and other.path.name.startswith("corruptions-s3-")
    assert [(r["corruption"], r["severity"]) for r in other.payload["result"]["rows"][::2]] == [
        ("none", 0),
        ("jpeg", 1),
        ("jpeg", 5),
    ]
    assert run_robustness(subset).reused
    forced = run_robustness(RobustnessRequest(**{**subset.__dict__, "force": True}))
    assert not forced.reused and forced.payload["result"]["rows"] == other.payload["result"]["rows"]


def test_cli_writes_the_result_and_prints_the_table(covid_run, tiny_covid_task, tmp_path):
    """One subprocess (the reuse is checked in-process above): the command as a user types it."""
    results, run_dir = covid_run
    command = [sys.executable, "-m", "benchmark.cli", "robustness", run_dir.name, "--results", str(results)]
    command += ["--corruptions", "downsample", "--severities", "4", "--n-resamples", "50"]
    env = cli_env(tmp_path / "tasks", tiny_covid_task)  # the pinned copy replaces covid3
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("computed ") and "downsample" in done.stdout and "mean relative drop" in done.stdout
    path = Path(done.stdout.split()[1])
    assert path.parent == run_dir / "derived" / "robustness" and path.is_file()
    rows = json.loads(path.read_text())["result"]["rows"]
    assert {(r["corruption"], r["severity"]) for r in rows} == {("none", 0), ("downsample", 4)}


def _derived_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("derived"))


def test_a_run_without_weights_or_with_other_weights_is_refused(covid_run, tiny_covid_task, tmp_path):
    _, run_dir = covid_run
    for case in ("missing", "altered"):
        copy = tmp_path / case / run_dir.name
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("derived"))
        weights = copy / "best_model.pt"
        if case == "missing":
            weights.unlink()
            expected, match = NoWeightsError, r"has no best_model\.pt .* restore it, or re-run"
        else:
            raw = bytearray(weights.read_bytes())
            raw[-1] ^= 0xFF
            weights.write_bytes(bytes(raw))
            expected, match = RunDamagedError, r"best_model\.pt has sha256 .* but its record holds"
        with pytest.raises(expected, match=match):
            run_robustness(RobustnessRequest(run_id=run_dir.name, results=tmp_path / case, task=tiny_covid_task))
        assert not _derived_files(tmp_path / case)
    assert issubclass(NoWeightsError, RunNotFoundError)


def test_reference_runs_are_read_only(covid_run, tiny_covid_task, tmp_path, monkeypatch):
    _, run_dir = covid_run
    board = tmp_path / "board"
    shutil.copytree(run_dir, board / run_dir.name, ignore=shutil.ignore_patterns("derived"))
    monkeypatch.setenv(REFERENCE_ENV, str(board))
    mine = tmp_path / "mine"
    mine.mkdir()
    for results in (mine, board):
        with pytest.raises(ReferenceRunError, match=r"read-only.*copy the run folder.*benchmark reproduce"):
            run_robustness(RobustnessRequest(run_id=run_dir.name, results=results, task=tiny_covid_task))
    assert not _derived_files(board) and not _derived_files(mine)
    assert issubclass(ReferenceRunError, ReadOnlyStoreError)
    # the shipped board is refused whatever $CXRBENCH_REFERENCE says (tests set it to none)
    monkeypatch.setenv(REFERENCE_ENV, "none")
    shipped = sorted(p.name for p in shipped_results().iterdir() if "covid3-lotko_cnn" in p.name)[0]
    with pytest.raises(ReferenceRunError, match=f"run {shipped} is a run of the reference board"):
        run_robustness(RobustnessRequest(run_id=shipped, results=mine))
    assert not _derived_files(shipped_results())


def test_bad_corruption_or_severity_exit_2_and_write_nothing(covid_run, capsys):
    results, run_dir = covid_run
    before = sorted(p.name for p in (run_dir / "derived" / "robustness").iterdir())
    assert main(["robustness", run_dir.name, "--results", str(results), "--corruptions", "snow", "blur"]) == 2
    assert "CorruptionError: unknown or no corruption(s) ['snow']; choose from" in capsys.readouterr().err
    assert main(["robustness", run_dir.name, "--results", str(results), "--severities", "0", "6"]) == 2
    assert "severity [0, 6] is not one of [1, 2, 3, 4, 5]" in capsys.readouterr().err
    assert main(["robustness", run_dir.name, "--results", str(results), "--n-resamples", "0"]) == 2
    assert sorted(p.name for p in (run_dir / "derived" / "robustness").iterdir()) == before
    with pytest.raises(ConfigError):  # the typed base the CLI reports
        run_robustness(RobustnessRequest(run_id=run_dir.name, results=results, severities=(9,)))


def test_leaderboard_page_shows_curves_and_drops(covid_run, computed, monkeypatch):
    results, run_dir = covid_run
    monkeypatch.setenv(data.RESULTS_ENV, str(results))
    at = AppTest.from_file(str(REPO / "leaderboard" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/robustness.py")
    at.run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    drops = at.dataframe[0].value
    expected = computed.payload["result"]["summary"]["mean_relative_drop"]
    assert drops.loc[0, "run_id"] == run_dir.name
    assert drops.loc[0, "overall"] == pytest.approx(100 * expected["overall"])
    assert drops.loc[0, "jpeg"] == pytest.approx(100 * expected["jpeg"])
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    assert [trace["name"] for trace in spec["data"]] == list(CORRUPTIONS)
    severities = at.dataframe[1].value
    assert list(severities["corruption"]) == [*CORRUPTIONS, "overall"]
