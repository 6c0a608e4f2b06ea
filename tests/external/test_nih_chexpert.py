"""nih14 -> CheXpert: a one-step nih14 run on a generated NIH-layout copy scores the 202 real CheXpert frontal
validation images (../shared/data) at run time, with counts checked against valid.csv read independently."""

from __future__ import annotations

import pandas as pd

from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.nih14.make import make_nih_dataset

SHORT = {"epochs": 1, "steps_per_epoch": 1}
BOOTSTRAP = {"n_resamples": 50, "seed": 0}


def test_nih14_model_is_scored_on_the_202_real_chexpert_frontal_validation_images(shared_data, tmp_path):
    root = tmp_path / "root"
    make_nih_dataset(root / "nih14", size=32)
    (root / "chexpert").symlink_to(shared_data / "chexpert", target_is_directory=True)
    task = pinned_copy(TASKS.get("nih14"), root, expected_patients=None, bootstrap=BOOTSTRAP)
    request = RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=tmp_path / "r", overrides=SHORT)
    record = RunRecord.load(run_benchmark(request) / RECORD_FILE)
    payload = record.external["chexpert_valid"]

    valid = pd.read_csv(shared_data / "chexpert" / "CheXpert-v1.0-small" / "valid.csv")
    frontal = valid[valid["Frontal/Lateral"] == "Frontal"]
    patients = frontal["Path"].str.extract(r"(patient\d+)")[0]
    settings = payload["settings"]
    assert settings["n_images"] == len(frontal) == 202 and settings["n_patients"] == patients.nunique() == 200
    assert settings["positives"] == {
        "Cardiomegaly": int((frontal["Cardiomegaly"] == 1).sum()),
        "Effusion": int((frontal["Pleural Effusion"] == 1).sum()),
        "Edema": int((frontal["Edema"] == 1).sum()),
    }
    assert settings["scored_labels"] == ["Cardiomegaly", "Effusion", "Edema"]
    assert settings["bootstrap"]["unit"] == "patient" and settings["bootstrap"]["n_units"] == 200
    metrics = {row["metric"] for row in payload["rows"]}
    assert {"auroc", "auroc/Effusion", "auroc/Edema", "auroc/Cardiomegaly"} <= metrics
    assert not any("Atelectasis" in m or m.startswith("auroc[") for m in metrics)
