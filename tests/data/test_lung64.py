"""lung3_64: building the three-class 64x64 npz from real NIH images and metadata, reading it
(with and without id arrays), bad input, and one epoch on the pinned task."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.data.build.lung64 import build_lung3_64
from benchmark.errors import DataFormatError, DatasetNotFoundError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy

LABELS = ("healthy", "pre-existing condition", "effusion or mass")


@pytest.fixture(scope="module")
def real_images(shared_data) -> dict[str, Path]:
    return {p.name: p for p in (shared_data / "nih14_64px").rglob("*.png")}


@pytest.fixture(scope="module")
def built(shared_data, tmp_path_factory) -> Path:
    """The npz built from the real data, in the folder the task expects (``<root>/lung3_64/``)."""
    root = tmp_path_factory.mktemp("lung")
    out = build_lung3_64(
        TASKS.get("lung3_64"), shared_data, shared_data / "nih14_64px", root / "lung3_64" / "lung3_64.npz"
    )
    assert out == root / "lung3_64" / "lung3_64.npz"
    return out


def _expected_classes(shared_data: Path, names: list[str]) -> pd.Series:
    """Class index per image from the CSV by the task's rules, computed here with pandas."""
    csv = pd.read_csv(shared_data / "nih14" / "Data_Entry_2017_v2020.csv.gz").set_index("Image Index")
    findings = csv.loc[sorted(names), "Finding Labels"]
    effusion_or_mass = findings.str.contains(r"(?:^|\|)(?:Effusion|Mass)(?:\||$)")
    healthy = findings == "No Finding"
    return pd.Series(np.where(effusion_or_mass, 2, np.where(healthy, 0, 1)), index=findings.index)


def test_build_from_real_nih_gives_the_csvs_classes(built, shared_data, real_images):
    expected = _expected_classes(shared_data, list(real_images))
    with np.load(built) as npz:
        arrays = {key: npz[key] for key in npz.files}
    assert set(arrays) == {"images", "labels", "image_ids", "patient_ids"}
    assert arrays["image_ids"].tolist() == sorted(real_images) and len(real_images) == 1000
    assert arrays["labels"].tolist() == expected.tolist()
    counts = np.bincount(arrays["labels"], minlength=3).tolist()
    assert counts == [int((expected == k).sum()) for k in range(3)] == [499, 303, 198]
    csv = pd.read_csv(shared_data / "nih14" / "Data_Entry_2017_v2020.csv.gz").set_index("Image Index")
    assert arrays["patient_ids"].tolist() == [str(p) for p in csv.loc[sorted(real_images), "Patient ID"]]
    assert arrays["images"].shape == (1000, 64, 64) and arrays["images"].dtype == np.uint8
    for k in (0, 500, 999):  # the RGB/RGBA 64x64 files, as grayscale
        name = arrays["image_ids"][k]
        reference = np.asarray(Image.open(real_images[name]).convert("L"))
        np.testing.assert_array_equal(arrays["images"][k], reference)


def test_build_is_deterministic(built, shared_data, tmp_path):
    again = build_lung3_64(TASKS.get("lung3_64"), shared_data, shared_data / "nih14_64px", tmp_path / "again.npz")
    assert again.read_bytes() == built.read_bytes()
    assert os.listdir(tmp_path) == ["again.npz"]  # no temporary file left behind


def test_pinned_task_on_the_built_npz_trains_one_epoch(built, tmp_path, monkeypatch):
    monkeypatch.setenv("CXRBENCH_CACHE", str(tmp_path / "cache"))
    task = TASKS.get("lung3_64")
    assert task.labels == LABELS and task.problem == "multiclass" and task.native_image_size == 64
    data = task.load_data(built.parent.parent)  # verify=True: the pinned hash, counts and patients
    frame = data.frame
    patients = [set(frame.loc[frame["split"] == s, "patient_id"]) for s in ("train", "val", "test")]
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    for label in LABELS:  # stratified 60/20/20
        share = frame[label].mean()
        assert all(abs(frame.loc[frame["split"] == s, label].mean() - share) < 0.05 for s in ("train", "val", "test"))

    run_dir = run_benchmark(
        RunRequest(
            task=task,
            model="lotko_cnn",
            data_root=str(built.parent.parent),
            results=tmp_path / "r",
            overrides={"epochs": 1},
        )
    )
    record = RunRecord.load(run_dir / RECORD_FILE)
    assert record.task.split_sha256 == task.split_sha256 and record.n_test == task.expected_counts["test"]
    assert {f"auroc/{label}" for label in LABELS} | {"auroc", "balanced_accuracy"} <= set(record.metrics)
    assert np.array(record.confusion_matrix.matrix).sum() == task.expected_counts["test"]


def _write_npz(path: Path, n: int = 60, **arrays: object) -> Path:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    images = rng.integers(0, 60, size=(n, 64, 64), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i, 20 * label : 20 * label + 20] += 150
    content: dict[str, object] = {"images": images, "labels": labels.astype(np.uint8), **arrays}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{k: v for k, v in content.items() if v is not None})
    return path


def test_without_id_arrays_ids_come_from_content(tmp_path):
    task = TASKS.get("lung3_64")
    path = _write_npz(tmp_path / "a" / "lung3_64.npz")
    with np.load(path) as npz:
        images, labels = npz["images"], npz["labels"]
    order = np.random.default_rng(1).permutation(len(labels))
    _write_npz(tmp_path / "b" / "lung3_64.npz", images=images[order], labels=labels[order])
    first = pinned_copy(task, tmp_path / "a", expected_patients=None)
    second = first.load_data(tmp_path / "b")  # a re-ordered copy gives the same ids and the same split
    frame = second.frame
    assert (frame["patient_id"] == frame["image_id"]).all() and frame["image_id"].str.startswith("lung3_64-").all()
    assert second.report.counts == {"train": 36, "val": 12, "test": 12}
    by_id = frame.set_index("image_id")
    for position in (0, 17):
        row = by_id.loc[frame["image_id"].iloc[position]]
        k = int(row["array_index"])
        assert row[list(LABELS)].tolist() == [float(labels[order][k] == c) for c in range(3)]


def test_patient_ids_group_the_split(tmp_path):
    patients = np.array([f"p{i // 4}" for i in range(60)])
    ids = np.array([f"img{i:03d}" for i in range(60)])
    _write_npz(tmp_path / "lung3_64.npz", image_ids=ids, patient_ids=patients)
    frame = pinned_copy(TASKS.get("lung3_64"), tmp_path, expected_patients=None).load_data(tmp_path).frame
    assert sorted(frame["image_id"]) == ids.tolist()
    assert (frame.groupby("patient_id")["split"].nunique() == 1).all()


@pytest.mark.parametrize("missing", ["images", "labels"])
def test_missing_array_is_named(tmp_path, missing):
    _write_npz(tmp_path / "lung3_64.npz", **{missing: None})
    with pytest.raises(DataFormatError, match=rf"lung3_64\.npz lacks the arrays \['{missing}'\]"):
        TASKS.get("lung3_64").load_data(tmp_path, verify=False)


def test_wrong_label_value_is_named(tmp_path):
    labels = np.arange(60) % 3
    labels[7] = 3
    _write_npz(tmp_path / "lung3_64.npz", labels=labels)
    with pytest.raises(DataFormatError, match=r"lung3_64\.npz: array labels row 7 has value 3"):
        TASKS.get("lung3_64").load_data(tmp_path, verify=False)


def test_absent_npz_says_how_to_build_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"lung3_64\.npz.*benchmark data build lung3_64"):
        TASKS.get("lung3_64").load_data(tmp_path, verify=False)


def test_builder_refuses_two_copies_of_one_image(shared_data, real_images, tmp_path):
    images = tmp_path / "images"
    for name in sorted(real_images)[:3]:
        for copy in ("a", "b"):
            (images / copy).mkdir(parents=True, exist_ok=True)
            (images / copy / name).write_bytes(real_images[name].read_bytes())
    with pytest.raises(DataFormatError, match=r"NIH image 00000\d{3}_\d{3}\.png is both"):
        build_lung3_64(TASKS.get("lung3_64"), shared_data, images, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
