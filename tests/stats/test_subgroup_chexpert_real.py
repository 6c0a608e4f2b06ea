"""chexpert3's recorded subgroups on CheXpert's 202 real frontal validation images (../shared/data).

A one-step chexpert3 run on a generated CheXpert-layout training set (the real valid.csv and valid/ images
linked in, the task re-pinned to that data) records a ``subgroups`` section. Its group sizes are checked
against valid.csv read with pandas, and its AUROCs against scikit-learn on the same images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.chexpert.make import FOLDER, make_chexpert_dataset

LABELS = ["Pleural Effusion", "Edema", "Cardiomegaly"]
SHORT = {"epochs": 1, "steps_per_epoch": 1, "image_size": 32}
BOOTSTRAP = {"n_resamples": 100, "seed": 0}


@pytest.fixture(scope="module")
def run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunRecord, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("chexpert_subgroups")
    root = make_chexpert_dataset(tmp / "data", real=shared_data / "chexpert" / FOLDER)
    task = pinned_copy(TASKS.get("chexpert3"), root, expected_patients=None, bootstrap=BOOTSTRAP)
    request = RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=tmp / "r", overrides=SHORT)
    run_dir = run_benchmark(request)
    return RunRecord.load(run_dir / RECORD_FILE), pd.read_parquet(run_dir / "predictions.parquet")


@pytest.fixture(scope="module")
def valid(shared_data: Path) -> pd.DataFrame:
    """valid.csv's frontal rows with the groups written out by hand: sex, age band, AP/PA, patient."""
    frame = pd.read_csv(shared_data / "chexpert" / FOLDER / "valid.csv")
    frame = frame[frame["Frontal/Lateral"] == "Frontal"].copy()
    bands = pd.cut(
        frame["Age"], [0, 18, 40, 60, 80, 200], right=False, labels=["<18", "18-39", "40-59", "60-79", "80+"]
    )
    return frame.assign(
        image_id=frame["Path"].str.split("/", n=1).str[1],  # the id is the path without the release folder
        patient=frame["Path"].str.extract(r"(patient\d+)", expand=False),
        sex=frame["Sex"],
        age_band=bands.astype(str),
        view_position=frame["AP/PA"],
    )


def _rows(record: RunRecord) -> pd.DataFrame:
    assert record.subgroups is not None, "chexpert3 runs carry sex, age and view: a subgroups section is expected"
    return pd.DataFrame(record.subgroups["rows"]).set_index(["attribute", "group"])


@pytest.mark.parametrize("attribute", ["sex", "age_band", "view_position"])
def test_groups_cover_the_202_real_images_with_valid_csv_counts(run, valid, attribute):
    record, _ = run
    rows = _rows(record).loc[attribute]
    expected = valid.groupby(attribute).agg(n_images=("image_id", "size"), n_patients=("patient", "nunique"))
    assert len(valid) == 202 and rows["n_images"].sum() == 202
    assert rows[["n_images", "n_patients"]].sort_index().to_dict() == expected.sort_index().to_dict()
    assert set(rows["metric"]) == {"auroc"}


def test_settings_name_the_patient_bootstrap_of_the_whole_test_set(run, valid):
    record, _ = run
    settings = record.subgroups["settings"]
    assert settings["unit"] == "patient" and settings["n_units"] == valid["patient"].nunique() == 200
    assert settings["n_resamples"] == BOOTSTRAP["n_resamples"] and settings["n_images_without_metadata"] == 0


def _sklearn_auroc(predictions: pd.DataFrame, valid: pd.DataFrame, attribute: str, group: str) -> float:
    """Macro AUROC of the group's images (chosen in valid.csv, labels from valid.csv) by scikit-learn."""
    ids = valid.loc[valid[attribute] == group, "image_id"]
    scores = predictions.set_index("image_id").loc[ids, [f"score:{label}" for label in LABELS]].to_numpy()
    truth = valid.set_index("image_id").loc[ids, LABELS].to_numpy()
    return float(roc_auc_score(truth, scores, average="macro"))


def test_group_auroc_and_sex_gap_equal_scikit_learn(run, valid):
    record, predictions = run
    rows = _rows(record)
    male, female = (_sklearn_auroc(predictions, valid, "sex", g) for g in ("Male", "Female"))
    assert rows.loc[("sex", "Male"), "value"] == pytest.approx(male, abs=1e-9)
    assert rows.loc[("sex", "Female"), "value"] == pytest.approx(female, abs=1e-9)
    age = _sklearn_auroc(predictions, valid, "age_band", "60-79")
    assert rows.loc[("age_band", "60-79"), "value"] == pytest.approx(age, abs=1e-9)
    gap = next(g for g in record.subgroups["summary"]["gaps"] if g["attribute"] == "sex")
    by_group = {"Male": male, "Female": female}
    assert {gap["high_group"], gap["low_group"]} == {"Male", "Female"}
    assert by_group[gap["high_group"]] >= by_group[gap["low_group"]]
    assert gap["gap"] == pytest.approx(abs(male - female), abs=1e-9)
    assert np.isfinite([gap["ci_low"], gap["ci_high"]]).all() and gap["ci_low"] < gap["ci_high"]
