"""chexpert3: CheXpert-v1.0-small CSVs -> frontal images, three labels, uncertainty policies, pinned split.

Expected figures come from pandas reading the real CSVs directly (never through the adapter), or
from the published sizes of CheXpert's validation set.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark.data.dataset import TaskData
from benchmark.data.sources import SOURCES
from benchmark.errors import ConfigError, DataFormatError, DatasetNotFoundError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.tasks import TASKS, Task, task_from_dict
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.chexpert.make import make_chexpert_dataset

LABELS = ["Pleural Effusion", "Edema", "Cardiomegaly"]
POLICIES = ("u_zeros", "u_ones", "u_ignore")


def _with_source(task: Task, **source: object) -> Task:
    return task_from_dict({**task.__dict__, "source": {**task.source, **source}}, "test")


def _raw(path: Path) -> pd.DataFrame:
    """A CheXpert CSV as pandas reads it by default (blank -> NaN), frontal rows only, id = Path minus release."""
    frame = pd.read_csv(path)
    frame = frame[frame["Frontal/Lateral"] == "Frontal"]
    return frame.assign(image_id=frame["Path"].str.split("/", n=1).str[1])


def _expected_counts(raw: pd.DataFrame, policy: str) -> dict[str, tuple[int, int, int]]:
    """(positive, negative, unknown) per label: blank -> 0, -1 -> 0 / 1 / unknown by policy."""
    counts = {}
    for label in LABELS:
        value = raw[label]
        pos, neg, blank, uncertain = (value == 1).sum(), (value == 0).sum(), value.isna().sum(), (value == -1).sum()
        counts[label] = {
            "u_zeros": (pos, neg + blank + uncertain, 0),
            "u_ones": (pos + uncertain, neg + blank, 0),
            "u_ignore": (pos, neg + blank, uncertain),
        }[policy]
    return {k: tuple(int(x) for x in v) for k, v in counts.items()}


def _counts(frame: pd.DataFrame) -> dict[str, tuple[int, int, int]]:
    return {
        label: (int((frame[label] == 1).sum()), int((frame[label] == 0).sum()), int(frame[label].isna().sum()))
        for label in LABELS
    }


# --- the real CSVs in ../shared/data/chexpert ----------------------------------------------------------


@pytest.fixture(scope="module")
def real_dir(shared_data: Path) -> Path:
    return shared_data / "chexpert" / "CheXpert-v1.0-small"


@pytest.fixture(scope="module")
def real_data(shared_data: Path) -> TaskData:
    """chexpert3 as pinned, loaded from the real CSVs (verify=True: hash, image and patient counts)."""
    return TASKS.get("chexpert3").load_data(shared_data / "chexpert")


@pytest.fixture(scope="module")
def real_frames(real_data: TaskData, shared_data: Path) -> dict[str, pd.DataFrame]:
    """The adapter's frame for each uncertainty policy."""
    task = TASKS.get("chexpert3")
    frames = {"u_zeros": real_data.index.frame}
    for policy in ("u_ones", "u_ignore"):
        source = {**task.source, "uncertainty": policy}
        frames[policy] = SOURCES.get("chexpert")(shared_data / "chexpert", source, LABELS, "multilabel").frame
    return frames


def test_real_valid_set_sizes(real_dir):
    valid = pd.read_csv(real_dir / "valid.csv")
    assert len(valid) == 234 and (valid["Frontal/Lateral"] == "Frontal").sum() == 202
    assert valid["Path"].str.extract(r"(patient\d+)")[0].nunique() == 200
    assert not valid[LABELS].isin([-1]).any().any() and not valid[LABELS].isna().any().any()


def test_pinned_split_matches_real_data(real_data, real_dir):
    """Test is exactly valid.csv's frontal images; train+val exactly train.csv's, carved by patient."""
    task = TASKS.get("chexpert3")
    frame = real_data.frame
    assert real_data.split_hash == task.split_sha256
    assert real_data.report.counts == task.expected_counts
    assert real_data.patient_counts() == task.expected_patients
    train_csv, valid_csv = _raw(real_dir / "train.csv"), _raw(real_dir / "valid.csv")
    by_split = {s: set(frame.loc[frame["split"] == s, "image_id"]) for s in ("train", "val", "test")}
    assert by_split["test"] == set(valid_csv["image_id"]) and len(by_split["test"]) == 202
    assert by_split["train"] | by_split["val"] == set(train_csv["image_id"])
    assert not by_split["train"] & by_split["val"]
    patients = {s: set(frame.loc[frame["split"] == s, "patient_id"]) for s in by_split}
    assert not patients["train"] & patients["val"] and not patients["train"] & patients["test"]
    assert abs(len(by_split["val"]) / len(train_csv) - 0.1) < 0.005
    assert real_data.report.removed_duplicates == []  # content is not hashed: nothing is a duplicate


def test_real_metadata_columns(real_data, real_dir):
    valid = _raw(real_dir / "valid.csv").set_index("image_id")
    test = real_data.frame[real_data.frame["split"] == "test"].set_index("image_id").loc[valid.index]
    assert (test["sex"] == valid["Sex"]).all() and (test["age"] == valid["Age"]).all()
    assert (test["view"] == "Frontal").all() and (test["view_position"] == valid["AP/PA"]).all()
    assert (test["study_id"] == test.index.str.extract(r"(patient\d+/study\d+)", expand=False)).all()
    assert test["patient_id"].tolist() == valid.index.str.extract(r"(patient\d+)", expand=False).tolist()


@pytest.mark.parametrize("policy", POLICIES)
def test_label_counts_per_policy_match_pandas(policy, real_frames, real_dir):
    frame = real_frames[policy]
    for name, split in (("train.csv", "train"), ("valid.csv", "test")):
        expected = _expected_counts(_raw(real_dir / name), policy)
        assert _counts(frame[frame["official_split"] == split]) == expected, (policy, name)


def test_label_counts_per_carved_split_match_pandas(real_data, real_dir):
    """u_zeros, the pinned policy: counts in train / val / test equal pandas' on the same image ids."""
    raw = pd.concat([_raw(real_dir / "train.csv"), _raw(real_dir / "valid.csv")]).set_index("image_id")
    frame = real_data.frame
    for split in ("train", "val", "test"):
        ids = frame.loc[frame["split"] == split, "image_id"]
        assert _counts(frame[frame["split"] == split]) == _expected_counts(raw.loc[ids], "u_zeros"), split


def test_laterals_are_kept_when_asked(shared_data, tmp_path):
    root = make_chexpert_dataset(tmp_path, real=shared_data / "chexpert" / "CheXpert-v1.0-small")
    source = {**TASKS.get("chexpert3").source, "frontal_only": False}
    frame = SOURCES.get("chexpert")(root, source, LABELS, "multilabel").frame
    assert (frame["official_split"] == "test").sum() == 234
    assert set(frame["view"]) == {"Frontal", "Lateral"}


# --- training on generated train images, evaluating on the real validation images ----------------------


def test_one_epoch_on_fixture_evaluates_on_real_valid_images(shared_data, tmp_path):
    real = shared_data / "chexpert" / "CheXpert-v1.0-small"
    root = make_chexpert_dataset(tmp_path / "data", real=real)
    task = pinned_copy(TASKS.get("chexpert3"), root, expected_patients=None, bootstrap={"n_resamples": 100, "seed": 0})
    run_dir = run_benchmark(
        RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=tmp_path / "r", overrides={"epochs": 1})
    )
    record = RunRecord.load(run_dir / RECORD_FILE)
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    valid = _raw(real / "valid.csv").set_index("image_id")
    assert record.n_test == len(valid) == 202
    assert sorted(predictions["image_id"]) == sorted(valid.index)
    aligned = predictions.set_index("image_id").loc[valid.index]
    for label in LABELS:
        assert (aligned[f"true:{label}"] == valid[label]).all()
        assert aligned[f"score:{label}"].between(0, 1).all()
    assert (aligned["sex"] == valid["Sex"]).all() and (aligned["view_position"] == valid["AP/PA"]).all()
    assert set(record.thresholds) == set(LABELS)
    assert {f"auroc/{label}" for label in LABELS} <= set(record.metrics)


def test_u_ignore_masks_uncertain_labels_in_training_and_validation(tmp_path):
    root = make_chexpert_dataset(tmp_path / "data")
    task = pinned_copy(_with_source(TASKS.get("chexpert3"), uncertainty="u_ignore"), root, expected_patients=None)
    raw = _raw(root / "CheXpert-v1.0-small" / "train.csv")
    uncertain = {label: int((raw[label] == -1).sum()) for label in LABELS}
    frame = task.load_data(root).frame
    assert {label: int(frame[label].isna().sum()) for label in LABELS} == uncertain
    assert all(n > 0 for n in uncertain.values())
    run_dir = run_benchmark(
        RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=tmp_path / "r", overrides={"epochs": 1})
    )
    record = RunRecord.load(run_dir / RECORD_FILE)
    epoch = record.training.history[0]
    assert math.isfinite(epoch["train_loss"]) and math.isfinite(epoch["val_loss"])  # NaN targets masked
    val = pd.read_parquet(run_dir / "val_predictions.parquet")
    val_frame = frame[frame["split"] == "val"]
    assert [int(val[f"true:{label}"].isna().sum()) for label in LABELS] == [
        int(val_frame[label].isna().sum()) for label in LABELS
    ]
    assert all(math.isfinite(t) for t in record.thresholds.values())


# --- where the data is, and bad input -----------------------------------------------------------------


@pytest.fixture()
def tiny_root(tmp_path: Path) -> Path:
    return make_chexpert_dataset(tmp_path / "data")


def test_root_may_be_the_release_folder_or_a_parent(tiny_root, tmp_path):
    adapter, source = SOURCES.get("chexpert"), TASKS.get("chexpert3").source
    expected = adapter(tiny_root, source, LABELS, "multilabel").frame
    parent = tmp_path / "datasets"
    parent.mkdir()
    (parent / "chexpert").symlink_to(tiny_root, target_is_directory=True)
    for root in (tiny_root / "CheXpert-v1.0-small", parent):
        frame = adapter(root, source, LABELS, "multilabel").frame
        assert frame["image_id"].tolist() == expected["image_id"].tolist()


def test_indexing_needs_no_images_but_decoding_names_the_missing_file(tiny_root):
    shutil.rmtree(tiny_root / "CheXpert-v1.0-small" / "train")
    index = SOURCES.get("chexpert")(tiny_root, TASKS.get("chexpert3").source, LABELS, "multilabel")
    row = index.frame[index.frame["official_split"] == "train"].iloc[0]
    with pytest.raises(DatasetNotFoundError, match=rf"{row['image_id']}.*missing"):
        index.load(row)


def test_missing_release_folder_says_what_to_download_and_where(tmp_path):
    results = tmp_path / "results"
    expected = rf"expected CheXpert-v1\.0-small under {tmp_path} .*download CheXpert-v1\.0-small.*--data-root"
    with pytest.raises(DatasetNotFoundError, match=expected):
        run_benchmark(RunRequest(task="chexpert3", model="lotko_cnn", data_root=str(tmp_path), results=results))
    assert not results.exists()


def test_missing_csv_is_named(tiny_root):
    (tiny_root / "CheXpert-v1.0-small" / "valid.csv").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"valid\.csv'\]; the dataset at .* is incomplete"):
        TASKS.get("chexpert3").load_data(tiny_root)


def test_valid_csv_missing_a_label_column(tiny_root):
    path = tiny_root / "CheXpert-v1.0-small" / "valid.csv"
    pd.read_csv(path, dtype=str).drop(columns="Edema").to_csv(path, index=False)
    with pytest.raises(DataFormatError, match=rf"{path}.* lacks the columns \['Edema'\]"):
        TASKS.get("chexpert3").load_data(tiny_root)


@pytest.mark.parametrize("value", ["2.0", "uncertain", "nan"])
def test_label_value_outside_the_allowed_set(tiny_root, value):
    path = tiny_root / "CheXpert-v1.0-small" / "train.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[6, "Cardiomegaly"] = value
    frame.to_csv(path, index=False)
    with pytest.raises(DataFormatError, match=rf"{path}: row 7 \(line 8\) has 'Cardiomegaly' = '{value}'"):
        TASKS.get("chexpert3").load_data(tiny_root)


def test_bad_value_in_a_lateral_row_is_not_skipped(tiny_root):
    path = tiny_root / "CheXpert-v1.0-small" / "train.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    lateral = int(frame.index[frame["Frontal/Lateral"] == "Lateral"][0])
    frame.loc[lateral, "Edema"] = "-2.0"
    frame.to_csv(path, index=False)
    with pytest.raises(DataFormatError, match=rf"row {lateral + 1} .*'Edema' = '-2.0'"):
        TASKS.get("chexpert3").load_data(tiny_root)


def test_path_without_patient_and_study(tiny_root):
    path = tiny_root / "CheXpert-v1.0-small" / "valid.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "Path"] = "CheXpert-v1.0-small/valid/view1_frontal.jpg"
    frame.to_csv(path, index=False)
    with pytest.raises(DataFormatError, match=r"valid\.csv: row 1 \(line 2\) has Path .*patientNNNNN/studyN"):
        TASKS.get("chexpert3").load_data(tiny_root)


def test_unknown_uncertainty_policy_lists_the_allowed_ones(tiny_root):
    task = _with_source(TASKS.get("chexpert3"), uncertainty="u_maybe")
    with pytest.raises(ConfigError, match=r"'u_maybe'.*allowed: u_zeros, u_ones, u_ignore"):
        task.load_data(tiny_root, verify=False)


def test_misspelt_source_option_is_not_ignored(tiny_root):
    task = _with_source(TASKS.get("chexpert3"), uncertainity="u_ones")
    with pytest.raises(ConfigError, match=r"\['uncertainity'\] are not CheXpert options"):
        task.load_data(tiny_root, verify=False)
