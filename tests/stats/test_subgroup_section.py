"""The ``subgroups`` record section of a short lung3_64 run (npz built from the real NIH 64 px images, NIH's
real Data_Entry CSV in the data root), its recomputation from the saved predictions, and the export section."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.data.build.lung64 import build_lung3_64
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from benchmark.stats.subgroup_report import subgroups_export
from benchmark.stats.subgroups import run_subgroups
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy

N_RESAMPLES = 40


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(results, run dir, data root) of a one-step lotko_cnn lung3_64 run; the root holds the npz and NIH's CSV."""
    root = tmp_path_factory.mktemp("lung")
    build_lung3_64(TASKS.get("lung3_64"), shared_data, shared_data / "nih14_64px", root / "lung3_64" / "lung3_64.npz")
    (root / "nih14").mkdir()
    os.symlink(shared_data / "nih14" / "Data_Entry_2017_v2020.csv.gz", root / "nih14" / "Data_Entry_2017_v2020.csv.gz")
    task = pinned_copy(TASKS.get("lung3_64"), root, bootstrap={"n_resamples": N_RESAMPLES, "seed": 0})
    results = root / "results"
    request = RunRequest(
        task=task,
        model="lotko_cnn",
        data_root=str(root),
        results=results,
        overrides={"epochs": 1, "steps_per_epoch": 1},
    )
    return results, run_benchmark(request), root


def _expected(predictions: pd.DataFrame, shared_data: Path) -> dict[tuple[str, str], tuple[int, float]]:
    """(attribute, group) -> (n_images, macro one-vs-rest AUROC), from the CSV with pandas and scikit-learn."""
    csv = pd.read_csv(shared_data / "nih14" / "Data_Entry_2017_v2020.csv.gz").set_index("Image Index")
    meta = csv.loc[predictions["image_id"]]
    ages = meta["Patient Age"].to_numpy(float)
    bands = np.select([ages < 18, ages < 40, ages < 60, ages < 80], ["<18", "18-39", "40-59", "60-79"], "80+")
    y = predictions[[c for c in predictions if c.startswith("true:")]].to_numpy().argmax(axis=1)
    s = predictions[[c for c in predictions if c.startswith("score:")]].to_numpy()
    out = {}
    for attribute, values in (
        ("sex", meta["Patient Gender"].to_numpy()),
        ("age_band", bands),
        ("view_position", meta["View Position"].to_numpy()),
    ):
        for group in np.unique(values):
            mask = values == group
            defined = len(np.unique(y[mask])) == 3
            auc = roc_auc_score(y[mask], s[mask], multi_class="ovr", average="macro") if defined else np.nan
            out[(attribute, str(group))] = (int(mask.sum()), auc)
    return out


def test_the_run_records_subgroups_of_nihs_metadata(trained, shared_data):
    results, run_dir, _ = trained
    store = ResultsDir(results)
    record = store.load_record(run_dir.name)
    predictions = store.load_predictions(run_dir.name)
    assert "sex" not in predictions  # lung3_64 keeps no metadata: NIH's is joined at analysis time
    section = record.subgroups
    assert section is not None
    settings = section["settings"]
    assert (settings["n_resamples"], settings["seed"], settings["unit"]) == (N_RESAMPLES, 0, "patient")
    assert settings["metadata"].startswith("NIH") and settings["n_images_without_metadata"] == 0
    expected = _expected(predictions, shared_data)
    rows = {(r["attribute"], r["group"]): r for r in section["rows"]}
    assert set(rows) == set(expected)
    for key, (n_images, auc) in expected.items():
        assert rows[key]["n_images"] == n_images
        if np.isnan(auc):
            assert rows[key]["value"] is None
        else:
            assert rows[key]["value"] == pytest.approx(auc, abs=1e-12)
            assert rows[key]["ci_low"] <= rows[key]["value"] <= rows[key]["ci_high"] or rows[key]["ci_low"] is None
    gaps = {g["attribute"]: g for g in section["summary"]["gaps"]}
    assert set(gaps) == {"sex", "age_band", "view_position"}
    for attribute, gap in gaps.items():
        high, low = rows[(attribute, gap["high_group"])], rows[(attribute, gap["low_group"])]
        assert gap["gap"] == pytest.approx(high["value"] - low["value"], abs=1e-12) and gap["gap"] >= 0
        assert min(high["n_patients"], low["n_patients"]) >= settings["min_patients_for_gap"]


def test_recomputed_from_predictions_equals_the_recorded_section(trained, monkeypatch):
    results, run_dir, root = trained
    monkeypatch.delenv("CXRBENCH_DATA", raising=False)
    store = ResultsDir(results)
    record = store.load_record(run_dir.name)
    again = run_subgroups(record, store.load_predictions(run_dir.name))  # the root the run recorded
    assert again == record.subgroups
    assert run_subgroups(record, store.load_predictions(run_dir.name), data_root=root) == record.subgroups


def test_export_section_names_a_missing_csv_instead_of_failing(trained, tmp_path, monkeypatch):
    results, run_dir, _ = trained
    monkeypatch.delenv("CXRBENCH_DATA", raising=False)
    store = ResultsDir(results)
    standings = task_standings(store, "lung3_64")
    markdown, rows = subgroups_export(store, standings)
    assert "## Subgroups of lung3_64" in markdown and "| sex | F |" in markdown and "largest gap" in markdown
    assert {r["kind"] for r in rows} == {"group", "gap"}

    # The same run read where its recorded data root no longer holds NIH's CSV.
    record_file = run_dir / "record.json"
    moved = tmp_path / "results"
    moved.mkdir()
    copy = moved / run_dir.name
    copy.mkdir()
    for path in run_dir.iterdir():
        if path.is_file():
            text = path.read_bytes()
            if path == record_file:
                text = text.replace(str(run_dir.parent.parent).encode(), str(tmp_path / "gone").encode())
            (copy / path.name).write_bytes(text)
    moved_store = ResultsDir(moved)
    markdown, rows = subgroups_export(moved_store, task_standings(moved_store, "lung3_64"))
    assert "Not computed" in markdown and "CXRBENCH_DATA" in markdown
    assert rows[0]["kind"] == "unavailable"
