"""ChestMNIST: official split as published, index ids (md5-checked), multilabel end to end."""

import dataclasses
import hashlib

import numpy as np
import pytest

from benchmark.errors import DataFormatError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.medmnist.make import make_medmnist_npz


def test_pinned_split_is_the_published_listing():
    """Independent of our code: the listing of MedMNIST's published split sizes, hashed by hand."""
    task = TASKS.get("chestmnist")
    published = {"train": 78468, "val": 11219, "test": 22433}
    lines = sorted(f"chestmnist-{s}-{i:06d}\t{s}\n" for s, n in published.items() for i in range(n))
    assert task.split_sha256 == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert task.expected_counts == published and len(task.labels) == 14


def _fixture(tmp_path):
    rng = np.random.default_rng(0)
    labels = {
        f"{s}_labels": (rng.random((n, 14)) < 0.3).astype(np.uint8)
        for s, n in (("train", 60), ("val", 20), ("test", 20))
    }
    path = make_medmnist_npz(tmp_path / "chestmnist" / "chestmnist.npz", corrupt=labels)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    task = TASKS.get("chestmnist")
    return pinned_copy(task, tmp_path, source={**task.source, "md5": md5}, bootstrap={"n_resamples": 100, "seed": 0})


def test_multilabel_run_on_fixture(tmp_path):
    task = _fixture(tmp_path)
    run = run_benchmark(
        RunRequest(
            task=task,
            model="lotko_cnn",
            data_root=str(tmp_path),
            results=tmp_path / "r",
            overrides={"epochs": 1, "image_size": 32},
        )
    )
    record = RunRecord.load(run / RECORD_FILE)
    assert record.n_test == 20
    assert set(record.thresholds) == set(task.labels)
    assert {f"auroc/{label}" for label in task.labels} <= set(record.metrics)
    assert "f1/hernia" in record.metrics


def test_index_ids_need_the_published_file(tmp_path):
    _fixture(tmp_path)
    with pytest.raises(DataFormatError, match=r"md5 .* only that file will do"):
        TASKS.get("chestmnist").load_data(tmp_path)


def test_duplicates_across_splits_are_listed_not_removed(tmp_path):
    task = _fixture(tmp_path)
    path = tmp_path / "chestmnist" / "chestmnist.npz"
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["test_images"][0] = arrays["train_images"][5]
    np.savez_compressed(path, **arrays)
    task = dataclasses.replace(task, source={**task.source, "md5": hashlib.md5(path.read_bytes()).hexdigest()})
    data = task.load_data(tmp_path, verify=False)
    assert data.report.counts == {"train": 60, "val": 20, "test": 20}
    assert [(d["image_id"], d["duplicate_of"]) for d in data.report.kept_cross_split_duplicates] == [
        ("chestmnist-train-000005", "chestmnist-test-000000")
    ]
