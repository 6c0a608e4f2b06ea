"""Bad input raises a typed error naming the file and the fix, and nothing is written."""

import shutil

import numpy as np
import pytest

from benchmark.errors import DataFormatError, DatasetNotFoundError, SplitMismatchError
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.fixtures.covid_kaggle.make import make_covid_dataset
from tests.fixtures.medmnist.make import make_medmnist_npz


def _run(task, root, results):
    return run_benchmark(RunRequest(task=task, model="lotko_cnn", data_root=str(root), results=results))


def _assert_nothing_written(results):
    assert not results.exists() or not any(results.iterdir())


def test_missing_root_names_expected_files_and_how_to_get_them(tmp_path):
    results = tmp_path / "results"
    with pytest.raises(DatasetNotFoundError, match=r"pneumoniamnist\.npz.*zenodo.*benchmark data download"):
        _run("pneumoniamnist", tmp_path, results)
    with pytest.raises(DatasetNotFoundError, match=r"Covid19-dataset.*Kaggle"):
        _run("covid3", tmp_path, results)
    _assert_nothing_written(results)


def test_no_data_root_at_all_says_how_to_set_it(monkeypatch, tmp_path):
    monkeypatch.delenv("CXRBENCH_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match=r"--data-root.*CXRBENCH_DATA"):
        TASKS.get("covid3").load_data(None)


def test_data_root_from_environment(monkeypatch, tiny_covid_root, tiny_covid_task):
    monkeypatch.setenv("CXRBENCH_DATA", str(tiny_covid_root))
    assert tiny_covid_task.load_data(None).report.counts == tiny_covid_task.expected_counts


def test_incomplete_class_folders(tmp_path):
    root = make_covid_dataset(tmp_path)
    shutil.rmtree(root / "Covid19-dataset" / "test" / "Normal")
    with pytest.raises(DatasetNotFoundError, match=r"test/Normal.*incomplete"):
        TASKS.get("covid3").load_data(root)


def test_wrong_label_folder(tmp_path):
    root = make_covid_dataset(tmp_path)
    (root / "Covid19-dataset" / "train" / "Tuberculosis").mkdir()
    with pytest.raises(DataFormatError, match=r"Tuberculosis.*not labels of this task"):
        TASKS.get("covid3").load_data(root)


def test_corrupt_image_names_the_file(tmp_path, tiny_covid_task):
    root = make_covid_dataset(tmp_path)
    bad = root / "Covid19-dataset" / "test" / "Covid" / "001.jpg"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated JPEG
    results = tmp_path / "results"
    data = tiny_covid_task.load_data(root, verify=False)
    with pytest.raises(DataFormatError, match=r"(?s)1 image\(s\).*001\.jpg.*corrupt.*--skip-corrupt"):
        data.prepare("test", 64)
    with pytest.raises(DataFormatError, match=r"001\.jpg"):
        run_benchmark(RunRequest(task=tiny_covid_task, model="lotko_cnn", data_root=str(root), results=results))
    _assert_nothing_written(results)


def test_split_mismatch_prints_both_hashes_and_counts(tmp_path):
    make_medmnist_npz(tmp_path / "pneumoniamnist" / "pneumoniamnist.npz")
    results = tmp_path / "results"
    pinned = TASKS.get("pneumoniamnist").split_sha256
    with pytest.raises(SplitMismatchError) as caught:
        _run("pneumoniamnist", tmp_path, results)
    message = str(caught.value)
    assert pinned in message and "computed split sha256" in message
    assert "'train': 60" in message and "'train': 4698" in message
    _assert_nothing_written(results)


def test_npz_missing_array(tmp_path):
    make_medmnist_npz(tmp_path / "pneumoniamnist.npz", corrupt={"test_labels": None})
    with pytest.raises(DataFormatError, match=r"pneumoniamnist\.npz lacks the arrays \['test_labels'\]"):
        TASKS.get("pneumoniamnist").load_data(tmp_path)


def test_npz_wrong_label_value(tmp_path):
    labels = np.zeros((60, 1), np.uint8)
    labels[7] = 3
    make_medmnist_npz(tmp_path / "pneumoniamnist.npz", corrupt={"train_labels": labels})
    with pytest.raises(DataFormatError, match=r"train_labels row 7 has value \[3\]"):
        TASKS.get("pneumoniamnist").load_data(tmp_path)
