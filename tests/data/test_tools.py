"""`benchmark data check` and `benchmark data prepare` on generated data with planted defects."""

import json

import numpy as np
import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.data.cache import cache_dir, prepare_cache
from benchmark.errors import DataFormatError
from tests.fixtures.covid_kaggle.make import make_covid_dataset


@pytest.fixture
def planted(tmp_path):
    """Fixture data with a near-duplicate across splits and one corrupt image."""
    root = make_covid_dataset(tmp_path / "data")
    base = root / "Covid19-dataset"
    yy, xx = np.mgrid[0:64, 0:64]
    smooth = 200 * np.exp(-((xx - 20) ** 2 + (yy - 30) ** 2) / 300) + 40 * np.exp(-((xx - 50) ** 2) / 100)
    original = Image.fromarray(smooth.astype(np.uint8))
    original.save(base / "test" / "Normal" / "smooth.png")
    original.resize((40, 40)).save(base / "train" / "Normal" / "near-copy.jpeg", quality=85)  # re-encoded, resized
    corrupt = base / "train" / "Covid" / "004.jpg"
    corrupt.write_bytes(corrupt.read_bytes()[:50])
    return root


def test_check_reports_leaks_and_unreadable_files(planted, tiny_covid_task, capsys, monkeypatch):
    from benchmark.tasks import TASKS

    monkeypatch.setattr(TASKS, "get", lambda name: tiny_covid_task)
    assert main(["data", "check", "covid3", "--data-root", str(planted), "--json", "--workers", "2"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["split_matches_pin"] is False  # planted extra images
    assert [g["image_ids"] for g in report["near_identical_across_splits"]] == [
        ["test/Normal/smooth.png", "train/Normal/near-copy.jpeg"]
    ]
    assert [u["image_id"] for u in report["unreadable"]] == ["train/Covid/004.jpg"]
    assert len(report["removed_cross_split_duplicates"]) == 3  # the planted byte-identical leaks
    assert report["patients_in_two_splits"] == [] and report["missing"] == []
    images = sum(report["images"].values())
    assert images == sum(1 for p in (planted / "Covid19-dataset").rglob("*.*")) - 3
    assert report["labels"]["test"]["Covid"] == {"positive": 4, "negative": 9, "unknown": 0}
    assert main(["data", "check", "covid3", "--data-root", str(planted)]) == 1  # unreadable image: fails
    assert "near identical across splits: 1" in capsys.readouterr().out


def test_prepare_stops_on_unreadable_images_unless_skipped(planted, tiny_covid_task):
    data = tiny_covid_task.load_data(planted, verify=False)
    with pytest.raises(DataFormatError, match=r"(?s)004\.jpg.*--skip-corrupt"):
        prepare_cache(data, 32, workers=2)
    assert not cache_dir(data, 32).exists()
    cache = prepare_cache(data, 32, workers=2, skip_corrupt=True)
    assert [s["image_id"] for s in cache.skipped] == ["train/Covid/004.jpg"]
    train = data.prepare("train", 32)
    assert "train/Covid/004.jpg" not in train.image_ids
    assert [s["image_id"] for s in data.report.skipped_unreadable] == ["train/Covid/004.jpg"]


def test_cache_holds_the_decoded_grayscale_resized_image_and_is_reused(tiny_covid_root, tiny_covid_task):
    data = tiny_covid_task.load_data(tiny_covid_root)
    cache = prepare_cache(data, 24, workers=2)
    row = data.frame.iloc[5]
    expected = np.asarray(Image.open(row["location"]).convert("L").resize((24, 24), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(cache.images[cache.rows[row["image_id"]]], expected)
    stamp = (cache.path / "images.u8").stat().st_mtime_ns
    split = data.prepare("test", 24)
    assert (cache.path / "images.u8").stat().st_mtime_ns == stamp
    assert len(split) == tiny_covid_task.expected_counts["test"]
    images, _ = next(split.batches(4))
    assert images.shape == (4, 1, 24, 24) and images.dtype.is_floating_point is False
