"""NIH ChestX-ray14 (task nih14): the official patient-wise split of the real metadata, the box
list, the full-size PNG decode path, bad input, and one training epoch on a generated copy."""

import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.data.sources.nih14 import read_nih_boxes
from benchmark.errors import DataFormatError, DatasetNotFoundError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.nih14.make import LABELS, make_nih_dataset

FINDINGS14 = [label for label in LABELS if label != "No Finding"]


@pytest.fixture(scope="module")
def real(shared_data):
    """The real metadata, loaded through the pinned task (verify=True checks hash, counts, patients)."""
    return TASKS.get("nih14").load_data(shared_data)


@pytest.fixture(scope="module")
def csv_frame(shared_data):
    return pd.read_csv(shared_data / "nih14" / "Data_Entry_2017_v2020.csv.gz")


def _listed(path: Path) -> set[str]:
    return set(path.read_text().split())


def test_task_spec():
    task = TASKS.get("nih14")
    assert task.labels == LABELS and task.problem == "multilabel"
    assert task.macro_subsets == {"findings14": tuple(FINDINGS14)}
    assert task.threshold == "max_f1" and task.native_image_size == 224  # report 004 states no size
    assert set(task.metadata) == {"age", "sex", "view_position", "follow_up"}


def test_official_test_list_kept_whole_and_no_patient_in_two_splits(real, csv_frame, shared_data):
    test_ids = _listed(shared_data / "nih14" / "test_list.txt")
    train_val_ids = _listed(shared_data / "nih14" / "train_val_list.txt")
    patient = dict(zip(csv_frame["Image Index"], csv_frame["Patient ID"], strict=True))
    test_patients = {patient[i] for i in test_ids}
    train_val_patients = {patient[i] for i in train_val_ids}
    # The published figures, computed here from the CSV and the list files alone.
    assert (len(test_ids), len(test_patients)) == (25_596, 2_797)
    assert (len(train_val_ids), len(train_val_patients)) == (86_524, 28_008)
    assert not test_patients & train_val_patients

    frame = real.frame
    ids = {s: set(frame.loc[frame["split"] == s, "image_id"]) for s in ("train", "val", "test")}
    assert ids["test"] == test_ids
    assert ids["train"] | ids["val"] == train_val_ids and not ids["train"] & ids["val"]
    patients = {s: set(frame.loc[frame["split"] == s, "patient_id"].astype(int)) for s in ids}
    assert patients["test"] == test_patients
    assert patients["train"] | patients["val"] == train_val_patients
    assert not patients["train"] & patients["val"]  # the validation carve is patient-wise
    assert 0.09 < len(ids["val"]) / len(train_val_ids) < 0.11
    assert real.report.counts == {"train": len(ids["train"]), "val": len(ids["val"]), "test": 25_596}


def test_label_counts_per_split_match_the_csv(real, csv_frame):
    findings = csv_frame.set_index("Image Index")["Finding Labels"].str.split("|").explode()
    split_of = real.frame.set_index("image_id")["split"]
    expected = findings.groupby([findings.index.map(split_of), findings]).size()
    for split in ("train", "val", "test"):
        rows = real.frame[real.frame["split"] == split]
        found = {label: int(rows[label].sum()) for label in LABELS}
        assert found == {label: int(expected.get((split, label), 0)) for label in LABELS}
    assert (real.frame[list(LABELS)].sum(axis=1) >= 1).all()  # "No Finding" is a label too
    validation = real.frame[real.frame["split"] == "val"]
    for label in LABELS:  # stratified carve: each label's share in val is close to train's
        train_share = real.frame.loc[real.frame["split"] == "train", label].mean()
        assert abs(validation[label].mean() - train_share) < 0.02


def test_metadata_columns_are_the_csvs(real, csv_frame):
    merged = real.frame.merge(csv_frame, left_on="image_id", right_on="Image Index", validate="one_to_one")
    assert len(merged) == 112_120
    assert (merged["age"] == merged["Patient Age"]).all()
    assert (merged["sex"] == merged["Patient Gender"]).all()
    assert (merged["view_position"] == merged["View Position"]).all()
    assert (merged["follow_up"] == merged["Follow-up #"]).all()
    assert (merged["patient_id"].astype(int) == merged["Patient ID"]).all()
    assert real.frame["content_hash"].isna().all()  # 112k images are never hashed at load time


def test_read_nih_boxes(shared_data):
    with gzip.open(shared_data / "nih14" / "BBox_List_2017.csv.gz", "rt") as handle:
        rows = [row[:6] for row in list(csv.reader(handle))[1:]]
    boxes = read_nih_boxes(shared_data)
    assert list(boxes.columns) == ["image_id", "label", "x", "y", "w", "h"]
    assert len(boxes) == len(rows) == 984 and boxes["image_id"].nunique() == 880
    assert boxes["image_id"].tolist() == [r[0] for r in rows]
    expected_labels = ["Infiltration" if r[1] == "Infiltrate" else r[1] for r in rows]
    assert boxes["label"].tolist() == expected_labels and set(expected_labels) <= set(LABELS)
    np.testing.assert_allclose(boxes[["x", "y", "w", "h"]].to_numpy(), [[float(v) for v in r[2:]] for r in rows])


def test_boxes_are_on_test_images_with_that_finding(real, shared_data):
    boxes = read_nih_boxes(shared_data)
    frame = real.frame.set_index("image_id")
    assert (frame.loc[boxes["image_id"], "split"] == "test").all()
    # a box is drawn on a finding that image's labels carry (NIH's lists agree on all but a few)
    agrees = [frame.at[i, label] == 1 for i, label in zip(boxes["image_id"], boxes["label"], strict=True)]
    assert np.mean(agrees) > 0.9


def test_real_full_size_pngs_decode(real, shared_data):
    on_disk = sorted(p.name for p in (shared_data / "nih14" / "images").glob("*.png"))
    frame = real.index.frame
    present = frame[frame["location"].map(lambda p: Path(p).is_file())]
    assert sorted(present["image_id"]) == on_disk and len(on_disk) == 7
    for _, row in present.iterrows():
        image = real.index.load(row)
        pixels = np.asarray(image)
        assert image.size == (1024, 1024) and image.mode == "L"
        assert pixels.std() > 20 and int(pixels.max()) - int(pixels.min()) > 150  # a radiograph, not a blank
    hernia = present.set_index("image_id").loc["00000003_000.png", list(LABELS)]
    assert hernia.to_dict() == {label: float(label == "Hernia") for label in LABELS}
    absent = frame[frame["image_id"] == "00000001_000.png"].iloc[0]
    with pytest.raises(DatasetNotFoundError, match=r"00000001_000\.png.*missing"):
        real.index.load(absent)


@pytest.mark.parametrize(("release", "compress"), [("v2020_box", False), ("2017", False), ("v2020", True)])
def test_every_release_of_the_csv_gives_the_same_index(tmp_path, release, compress):
    def index(folder):
        frame = TASKS.get("nih14").load_data(folder, verify=False).index.frame
        return frame.drop(columns="location")

    reference = index(make_nih_dataset(tmp_path / "reference"))
    other = index(make_nih_dataset(tmp_path / release, release=release, compress=compress))
    pd.testing.assert_frame_equal(reference, other)
    assert reference.loc[0, "age"] == 31.0 and reference.loc[0, "sex"] == "F"  # "031Y" in the 2017 file


def test_flat_layout_and_absent_images(tmp_path):
    folder = make_nih_dataset(tmp_path / "nih14", layout="flat")
    (folder / "images" / "00000004_001.png").unlink()
    data = TASKS.get("nih14").load_data(tmp_path, verify=False)  # a parent holding nih14/ works too
    frame = data.index.frame.set_index("image_id", drop=False)
    assert frame.at["00000004_001.png", "location"] == str(folder / "images" / "00000004_001.png")
    assert data.index.load(frame.loc["00000004_000.png"]).size == (48, 48)
    with pytest.raises(DatasetNotFoundError, match=r"00000004_001\.png"):
        data.index.load(frame.loc["00000004_001.png"])


def test_csv_missing_a_column_names_file_and_column(tmp_path):
    folder = make_nih_dataset(tmp_path)
    path = folder / "Data_Entry_2017_v2020.csv"
    path.write_text(path.read_text().replace("Finding Labels,", "Findings,", 1))
    with pytest.raises(DataFormatError, match=r"Data_Entry_2017_v2020\.csv lacks the column 'Finding Labels'"):
        TASKS.get("nih14").load_data(folder, verify=False)


def test_unknown_finding_is_named(tmp_path):
    folder = make_nih_dataset(tmp_path)
    path = folder / "Data_Entry_2017_v2020.csv"
    path.write_text(path.read_text().replace(",Hernia,", ",Tuberculosis,", 1))
    with pytest.raises(DataFormatError, match=r"Data_Entry_2017_v2020\.csv: Finding Labels has \['Tuberculosis'\]"):
        TASKS.get("nih14").load_data(folder, verify=False)


@pytest.mark.parametrize("list_file", ["train_val_list.txt", "test_list.txt"])
def test_listed_image_absent_from_csv(tmp_path, list_file):
    folder = make_nih_dataset(tmp_path)
    with open(folder / list_file, "a") as handle:
        handle.write("\n00009999_000.png")
    with pytest.raises(DataFormatError, match=rf"{list_file} lists 1 image\(s\) absent from .*00009999_000\.png"):
        TASKS.get("nih14").load_data(folder, verify=False)


def test_missing_list_file(tmp_path):
    folder = make_nih_dataset(tmp_path)
    (folder / "test_list.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"test_list\.txt"):
        TASKS.get("nih14").load_data(folder, verify=False)


def test_one_epoch_on_generated_nih(tmp_path, monkeypatch):
    monkeypatch.setenv("CXRBENCH_CACHE", str(tmp_path / "cache"))
    folder = make_nih_dataset(tmp_path / "nih14")
    task = pinned_copy(TASKS.get("nih14"), folder, expected_patients=None, bootstrap={"n_resamples": 50, "seed": 0})
    run_dir = run_benchmark(
        RunRequest(task=task, model="lotko_cnn", data_root=str(folder), results=tmp_path / "r", overrides={"epochs": 1})
    )
    record = RunRecord.load(run_dir / RECORD_FILE)
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    assert len(predictions) == record.n_test == 18

    metrics = {name: value.value for name, value in record.metrics.items()}
    for label in LABELS:  # every label has positives and negatives among the 18 test images
        expected = roc_auc_score(predictions[f"true:{label}"], predictions[f"score:{label}"])
        assert metrics[f"auroc/{label}"] == pytest.approx(expected)
    assert metrics["auroc[findings14]"] == pytest.approx(np.mean([metrics[f"auroc/{f}"] for f in FINDINGS14]))
    assert metrics["auroc"] == pytest.approx(np.mean([metrics[f"auroc/{label}"] for label in LABELS]))
    assert {"sensitivity/Effusion", "specificity", "precision", "f1"} <= set(metrics)

    # thresholds were chosen on validation: each maximises F1 there (0.5 where val has one class only)
    validation = pd.read_parquet(run_dir / "val_predictions.parquet")
    assert set(record.thresholds) == set(LABELS)
    tuned = 0
    for label, threshold in record.thresholds.items():
        y, score = validation[f"true:{label}"].to_numpy() == 1, validation[f"score:{label}"].to_numpy()
        if y.all() or not y.any():
            assert threshold == 0.5
            continue
        f1 = {t: 2 * (y & (score >= t)).sum() / (y.sum() + (score >= t).sum()) for t in score}
        assert f1[threshold] == pytest.approx(max(f1.values()))
        tuned += 1
    assert tuned >= 3
    metadata = predictions.set_index("image_id").loc["00000021_001.png", ["age", "sex", "view_position"]]
    assert metadata.tolist() == [52.0, "F", "AP"]  # as the generated CSV writes them
