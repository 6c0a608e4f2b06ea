"""The `pneumonia` task (Kermany chest_xray): official test kept whole, patient-wise validation carve,
duplicate removal, threshold chosen on validation, end to end on the real images and on a fixture."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest
import torch
from sklearn.metrics import recall_score

from benchmark.data.dataset import TaskData
from benchmark.errors import DataFormatError, DatasetNotFoundError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.tasks import TASKS, Task
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.kermany.make import TEST_LEAK, make_kermany_dataset

# Written independently of the adapter: one pattern for the whole set, patient = the id part of the name.
NAME = re.compile(
    r"(?P<normal>(NORMAL2-)?IM-[0-9]+)-[0-9]+(-[0-9]+)?\.jpeg"
    r"|(?P<sick>person[0-9]+_(bacteria|virus))_[0-9]+(_[0-9]+)?\.jpeg"
)


def _listing(base: Path) -> pd.DataFrame:
    """Every image under ``base`` (a chest_xray folder) with its folder split, class, patient and sha256."""
    rows = []
    for folder, _, files in os.walk(base):
        for name in files:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            split, class_dir = path.relative_to(base).parts[:2]
            match = NAME.fullmatch(name)
            assert match, f"{path} follows no Kermany name pattern"
            rows.append(
                {
                    "image_id": path.relative_to(base).as_posix(),
                    "folder": split,
                    "class_dir": class_dir,
                    "patient": match["normal"] or match["sick"],
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                }
            )
    return pd.DataFrame(rows)


def _expected_removed(listing: pd.DataFrame) -> list[str]:
    """Training-side files (train/ and the folded-in val/) whose bytes equal a test file's."""
    test_hashes = set(listing.loc[listing.folder == "test", "sha256"])
    return sorted(listing.loc[(listing.folder != "test") & listing.sha256.isin(test_hashes), "image_id"])


@pytest.fixture(scope="module")
def listing(shared_data: Path) -> pd.DataFrame:
    return _listing(shared_data / "kermany" / "chest_xray")


@pytest.fixture(scope="module")
def real(shared_data: Path) -> TaskData:
    """The pinned task on the real data (load_data verifies the pinned hash, counts and patients)."""
    return TASKS.get("pneumonia").load_data(shared_data / "kermany")


@pytest.fixture
def one_thread():
    """Train on one intra-op thread: on a small CPU shared with other jobs, torch's worker threads
    wait on each other and one epoch takes several times longer (timing only; results are unchanged)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_official_test_folder_is_kept_whole(real, listing):
    test_files = listing[listing.folder == "test"]
    assert Counter(test_files.class_dir) == {"NORMAL": 234, "PNEUMONIA": 390}
    test_rows = real.frame[real.frame.split == "test"]
    assert sorted(test_rows.image_id) == sorted(test_files.image_id)
    truth = dict(zip(listing.image_id, listing.class_dir == "PNEUMONIA", strict=True))
    assert (real.frame.image_id.map(truth).astype(float) == real.frame.PNEUMONIA).all()


def test_train_and_val_are_the_rest_minus_every_cross_split_duplicate(real, listing):
    expected = _expected_removed(listing)
    reported = real.report.to_dict()["removed_cross_split_duplicates"]
    assert sorted(r["image_id"] for r in reported) == expected
    counts = real.report.counts
    assert counts["train"] + counts["val"] == int((listing.folder != "test").sum()) - len(expected) == 5216
    assert counts == TASKS.get("pneumonia").expected_counts
    # identical files inside one split (30 groups in the real set) are listed, and stay on one side
    groups = listing[listing.sha256.duplicated(keep=False)].groupby("sha256").image_id.apply(frozenset)
    listed = {frozenset(d["image_ids"].split(", ")) for d in real.report.within_split_duplicates}
    assert listed == set(groups) and len(listed) == 30
    # after removal no content is on two sides of the split
    content = real.frame.image_id.map(dict(zip(listing.image_id, listing.sha256, strict=True)))
    assert (real.frame.assign(content=content).groupby("content").split.nunique() == 1).all()


def test_no_patient_in_two_splits(real, listing):
    patient = real.frame.image_id.map(dict(zip(listing.image_id, listing.patient, strict=True)))
    assert (real.frame.patient_id == patient).all()
    assert (real.frame.assign(p=patient).groupby("p").split.nunique() == 1).all()
    counts = real.frame.assign(p=patient).groupby("split").p.nunique().to_dict()
    assert counts == TASKS.get("pneumonia").expected_patients == {"train": 3289, "val": 365, "test": 428}


def test_validation_is_a_stratified_patient_wise_tenth_of_train(real, listing):
    pool = real.frame[real.frame.split != "test"]
    val = pool[pool.split == "val"]
    assert abs(len(val) / len(pool) - 0.1) < 0.01
    assert abs(val.patient_id.nunique() / pool.patient_id.nunique() - 0.1) < 0.01
    assert abs(val.PNEUMONIA.mean() - pool.PNEUMONIA.mean()) < 0.02


def test_pathogen_is_kept_from_the_file_name(real):
    pathogen = real.frame.image_id.str.extract(r"_(bacteria|virus)_")[0].fillna("none")
    assert (real.frame.pathogen == pathogen).all()
    test = real.frame[real.frame.split == "test"]
    assert Counter(test.pathogen) == {"none": 234, "bacteria": 242, "virus": 148}


def test_end_to_end_on_the_real_images(shared_data, listing, tmp_path, one_thread):
    run_dir = run_benchmark(
        RunRequest(
            task="pneumonia",
            model="lotko_cnn",
            data_root=str(shared_data / "kermany"),
            results=tmp_path,
            overrides={"epochs": 1, "image_size": 16, "batch_size": 256},  # about 5 s of training
        )
    )
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert record.n_test == 624
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    assert sorted(predictions.image_id) == sorted(listing.loc[listing.folder == "test", "image_id"])
    assert Counter(predictions.pathogen) == {"none": 234, "bacteria": 242, "virus": 148}
    threshold = record.thresholds["PNEUMONIA"]
    val = pd.read_parquet(run_dir / "val_predictions.parquet")
    assert len(val) == 522 and set(val.image_id).isdisjoint(predictions.image_id)
    sensitivity = recall_score(val["true:PNEUMONIA"], val["score:PNEUMONIA"] >= threshold)
    assert sensitivity >= 0.95
    # the test metrics use that same validation threshold
    y_test, flagged = predictions["true:PNEUMONIA"], predictions["score:PNEUMONIA"] >= threshold
    assert record.metrics["sensitivity"].value == pytest.approx(recall_score(y_test, flagged))
    assert record.metrics["specificity"].value == pytest.approx(recall_score(y_test, flagged, pos_label=0))


@pytest.fixture
def fixture_task(tmp_path) -> tuple[Task, Path]:
    root = make_kermany_dataset(tmp_path / "data")
    task = pinned_copy(TASKS.get("pneumonia"), root, expected_patients=None, bootstrap={"n_resamples": 100, "seed": 0})
    return task, root


def test_fixture_folds_official_val_into_train_and_trains(fixture_task, tmp_path, one_thread):
    task, root = fixture_task
    listing = _listing(root / "chest_xray")
    data = task.load_data(root)
    frame = data.frame.set_index("image_id")
    official_val = listing.loc[listing.folder == "val", "image_id"]
    assert len(official_val) == 4 and set(frame.loc[official_val, "split"]) <= {"train", "val"}
    assert (frame.loc[official_val, "official_split"] == "train").all()
    removed = sorted(r["image_id"] for r in data.report.removed_duplicates)
    assert removed == _expected_removed(listing) == [TEST_LEAK[0]]
    assert data.report.counts["test"] == int((listing.folder == "test").sum())
    assert sum(data.report.counts.values()) == len(listing) - 1
    by_patient = data.frame.groupby("patient_id").split.nunique()
    assert (by_patient == 1).all() and by_patient.index.isin(listing.patient).all()

    run_dir = run_benchmark(
        RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=tmp_path / "r", overrides={"epochs": 1})
    )
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert record.n_test == data.report.counts["test"] and len(record.training.history) == 1
    assert record.task.split_report.removed_cross_split_duplicates[0]["image_id"] == TEST_LEAK[0]


def test_unexpected_class_folder(tmp_path):
    root = make_kermany_dataset(tmp_path)
    (root / "chest_xray" / "train" / "COVID19").mkdir()
    with pytest.raises(DataFormatError, match=r"chest_xray/train has class folders \['COVID19'\].*move .*COVID19"):
        TASKS.get("pneumonia").load_data(root)


@pytest.mark.parametrize(
    "name", ["NORMAL/scan_0001.jpeg", "NORMAL/person3_bacteria_9.jpeg", "PNEUMONIA/IM-0200-0001.jpeg"]
)
def test_file_name_without_patient_id(tmp_path, name):
    root = make_kermany_dataset(tmp_path)
    bad = root / "chest_xray" / "test" / name
    shutil.copy(root / "chest_xray" / "test" / "NORMAL" / "IM-0001-0001.jpeg", bad)
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(bad))}: the file name gives no patient id.*Restore"):
        TASKS.get("pneumonia").load_data(root)


def test_missing_test_folder(tmp_path):
    root = make_kermany_dataset(tmp_path)
    shutil.rmtree(root / "chest_xray" / "test")
    with pytest.raises(DatasetNotFoundError, match=r"chest_xray/test .*incomplete.*Mendeley.*Kaggle"):
        TASKS.get("pneumonia").load_data(root)


def test_missing_dataset_says_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"expected chest_xray under .*kermany.*rscbjbr9sj"):
        TASKS.get("pneumonia").load_data(tmp_path)


def test_same_person_number_under_two_pathogens_is_two_patients(tmp_path):
    """Bacterial and viral cases are numbered separately (see benchmark/data/sources/kermany.py)."""
    root = make_kermany_dataset(tmp_path)
    frame = pinned_copy(TASKS.get("pneumonia"), root, expected_patients=None).load_data(root).frame
    ids = defaultdict(set)
    for image_id, patient in zip(frame.image_id, frame.patient_id, strict=True):
        ids[patient].add(image_id.rsplit("/", 1)[1])
    assert ids["person1_bacteria"] == {"person1_bacteria_1.jpeg", "person1_bacteria_2.jpeg"}
    assert ids["person1_virus"] == {"person1_virus_6.jpeg"}
    assert ids["IM-0429"] == {"IM-0429-0001-0001.jpeg", "IM-0429-0001-0002.jpeg"}
    assert ids["person447_virus"] == {"person447_virus_921_1.jpeg"}
