"""Task files validate and their pinned splits match the real data in ../shared/data."""

import csv
from collections import defaultdict

import numpy as np
import pytest

from benchmark.errors import ConfigError
from benchmark.tasks import TASKS, load_task_file, tasks_dir

DATA_ROOTS = {"pneumoniamnist": "", "covid3": "covid19", "pneumonia": "kermany"}


def test_every_task_file_validates():
    files = sorted(tasks_dir().glob("*.yaml"))
    assert {f.stem for f in files} == set(TASKS.names()) >= {"pneumoniamnist", "covid3"}
    for path in files:
        task = load_task_file(path)
        assert task.primary_metric in task.metrics
        assert len(task.task_hash) == 64


@pytest.mark.parametrize("name", sorted(DATA_ROOTS))
def test_pinned_split_matches_real_data(name, shared_data):
    task = TASKS.get(name)
    data = task.load_data(shared_data / DATA_ROOTS[name])
    assert data.split_hash == task.split_sha256
    assert data.report.counts == task.expected_counts


def test_pneumoniamnist_keeps_the_official_split(shared_data):
    data = TASKS.get("pneumoniamnist").load_data(shared_data)
    with np.load(shared_data / "pneumoniamnist" / "pneumoniamnist.npz") as npz:
        official = {s: len(npz[f"{s}_labels"]) for s in ("train", "val", "test")}
    assert official == {"train": 4708, "val": 524, "test": 624}  # MedMNIST's published sizes
    removed = data.report.removed_duplicates
    assert data.report.counts == {**official, "train": official["train"] - len(removed)}
    assert all(r["split"] == "train" for r in removed)


def test_covid3_removes_exactly_the_train_images_identical_to_test_ones(shared_data):
    """Expected leaks come from the publisher's MANIFEST.csv sha256 column, not from our hashing."""
    with open(shared_data / "covid19" / "MANIFEST.csv") as handle:
        manifest = list(csv.DictReader(handle))
    test_hashes = {row["sha256"] for row in manifest if row["split"] == "test"}
    expected = sorted(
        row["path"].removeprefix("Covid19-dataset/")
        for row in manifest
        if row["split"] == "train" and row["sha256"] in test_hashes
    )
    data = TASKS.get("covid3").load_data(shared_data / "covid19")
    removed = sorted(r["image_id"] for r in data.report.removed_duplicates)
    assert removed == expected and len(expected) == 6
    test_ids = set(data.frame.loc[data.frame["split"] == "test", "image_id"])
    assert {r["duplicate_of"] for r in data.report.removed_duplicates} <= test_ids
    # the official test folder is kept whole
    assert len(test_ids) == sum(row["split"] == "test" for row in manifest) == 66
    # identical images inside train stay on one side of the train/val carve
    by_hash = defaultdict(set)
    for _, row in data.frame.iterrows():
        by_hash[row["content_hash"]].add(row["split"])
    assert all(len(splits) == 1 for splits in by_hash.values())


def test_covid3_validation_is_stratified(shared_data):
    frame = TASKS.get("covid3").load_data(shared_data / "covid19").frame
    for label in TASKS.get("covid3").labels:
        train_share = frame.loc[frame.split == "train", label].mean()
        val_share = frame.loc[frame.split == "val", label].mean()
        assert abs(train_share - val_share) < 0.05


def test_bad_task_file_names_the_problem(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nversion: 1\nproblem: regression\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: missing keys \[.*'labels'"):
        load_task_file(path)


def test_task_hash_changes_with_meaning_not_prose():
    import dataclasses

    task = TASKS.get("covid3")
    assert dataclasses.replace(task, description="reworded").task_hash == task.task_hash
    assert dataclasses.replace(task, threshold=0.4).task_hash != task.task_hash
    assert dataclasses.replace(task, split_sha256="0" * 64).task_hash != task.task_hash


@pytest.mark.parametrize(
    ("task", "wrong_root"),
    [
        ("nih14", "kermany"),
        ("chexpert3", "nih14"),
        ("pneumonia", "covid19"),
        ("covid3", "chexpert"),
        ("pneumoniamnist", "kermany"),
        ("chestmnist", "nih14"),
        ("lung3_64", "nih14"),
    ],
)
def test_data_root_of_another_task_is_a_typed_error_naming_what_is_expected(task, wrong_root, shared_data):
    from benchmark.errors import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="expected"):
        TASKS.get(task).load_data(shared_data / wrong_root)
