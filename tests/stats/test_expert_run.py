"""The ``expert`` record section: a short nih14 run on a generated NIH copy whose data root holds a
generated Google 2019 expert label file, scored at run time and checked against scikit-learn."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.results.store import ResultsDir
from benchmark.stats.expert_labels import EXPERT_MAPPING, GOOGLE_LABELS_FILE, expert_section, run_expert
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.nih14.make import make_nih_dataset

SHORT = {"epochs": 1, "steps_per_epoch": 1}
GOOGLE_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],Fracture,Pneumothorax,Airspace opacity,"
    "Nodule or mass,Set Id"
)
N_UNLABELLED = 2  # test images the generated Google file leaves out


def write_google_file(folder: Path, seed: int = 0) -> pd.DataFrame:
    """A Google-format label file beside a generated NIH copy: seeded YES/NO on all but the last
    ``N_UNLABELLED`` test images (``Set Id`` test), plus three training images as ``val`` rows that must
    be ignored. Each finding gets both answers. Returns the ``test`` rows as written."""
    rng = np.random.default_rng(seed)
    test_ids = (folder / "test_list.txt").read_text().split()[:-N_UNLABELLED]
    train_ids = (folder / "train_val_list.txt").read_text().split()[:3]
    findings = ("Fracture", "Pneumothorax", "Airspace opacity", "Nodule or mass")
    rows = []
    for set_id, ids in (("test", test_ids), ("val", train_ids)):
        answers = rng.integers(0, 2, size=(len(ids), len(findings))).astype(bool)
        answers[0], answers[1] = True, False  # both answers present for every finding
        for image_id, yes in zip(ids, answers, strict=True):
            patient = str(int(image_id[:8]))
            values = ["YES" if v else "NO" for v in yes]
            rows.append([image_id, "No Finding", "0", patient, "40", "M", "PA", "2500", "2048", "0.168", "0.168",
                         *values, set_id])  # fmt: skip
    text = "\n".join([GOOGLE_HEADER, *(",".join(r) for r in rows)]) + "\n"
    (folder / GOOGLE_LABELS_FILE).write_bytes(gzip.compress(text.encode(), mtime=0))
    frame = pd.DataFrame(rows, columns=["Image Index", *range(10), *findings, "Set Id"])
    return frame[frame["Set Id"] == "test"].reset_index(drop=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """(results root, run dir, Google test rows) of a one-step lotko_cnn nih14 run with the Google file."""
    base = tmp_path_factory.mktemp("nih")
    folder = make_nih_dataset(base / "nih14", size=48)
    google = write_google_file(folder)
    task = pinned_copy(TASKS.get("nih14"), folder, expected_patients=None, bootstrap={"n_resamples": 50, "seed": 0})
    results = base / "results"
    request = RunRequest(task=task, model="lotko_cnn", data_root=str(base), results=results, overrides=SHORT)
    return results, run_benchmark(request), google


def test_the_run_records_expert_aurocs_equal_to_scikit_learn(trained: tuple[Path, Path, pd.DataFrame]) -> None:
    results, run_dir, google = trained
    store = ResultsDir(results)
    record = store.load_record(run_dir.name)
    predictions = store.load_predictions(run_dir.name).set_index("image_id")
    assert record.expert is not None
    section = record.expert
    settings = section["settings"]
    assert settings["n_images"] == len(google) == len(predictions) - N_UNLABELLED
    assert settings["n_ignored"] == N_UNLABELLED and settings["unit"] == "patient"
    assert settings["n_patients"] == google[2].nunique()  # column 3 of the file: Patient ID
    assert settings["mapping"]["Nodule or mass"] == ["Nodule", "Mass"]
    assert (settings["n_resamples"], settings["seed"]) == (50, 0)  # the task's bootstrap
    ours = predictions.loc[google["Image Index"]]
    rows = {row["finding"]: row for row in section["rows"]}
    assert list(rows) == list(EXPERT_MAPPING)
    for finding, labels in EXPERT_MAPPING.items():
        truth = (google[finding] == "YES").to_numpy()
        score = ours[[f"score:{label}" for label in labels]].to_numpy().max(axis=1)
        text_truth = ours[[f"true:{label}" for label in labels]].to_numpy().max(axis=1)
        row = rows[finding]
        assert row["auroc"] == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
        assert (row["n_positive"], row["n_negative"]) == (truth.sum(), (~truth).sum())
        assert row["text_n_positive"] == text_truth.sum()
        if 0 < text_truth.sum() < len(text_truth):
            assert row["text_auroc"] == pytest.approx(roc_auc_score(text_truth, score), abs=1e-12)
        assert row["ci_low"] <= row["auroc"] <= row["ci_high"]
    # the reader gives the record's section while no derived file exists
    assert run_expert(run_dir, record)["source"] == "record"


def test_no_section_without_the_google_file_or_for_another_task(
    trained: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    results, run_dir, _ = trained
    predictions = ResultsDir(results).load_predictions(run_dir.name)
    nih14 = TASKS.get("nih14")
    data_root = run_dir.parent.parent  # the fixture's data root: nih14/ with the Google file
    assert expert_section(SimpleNamespace(task=nih14, data=SimpleNamespace(root=data_root), predictions=predictions))
    empty = SimpleNamespace(task=nih14, data=SimpleNamespace(root=tmp_path), predictions=predictions)
    assert expert_section(empty) is None
    other = SimpleNamespace(task=TASKS.get("chestmnist"), data=SimpleNamespace(root=data_root), predictions=predictions)
    assert expert_section(other) is None
