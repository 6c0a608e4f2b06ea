"""Null saliency baselines: the centre-point and uniform random maps, scored as model maps are."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare
from statsmodels.stats.proportion import proportion_confint

from benchmark.errors import ConfigError
from benchmark.saliency.null_maps import (
    cache_null_scores,
    centre_map,
    null_scores,
    null_trials,
    random_map,
    task_boxes,
)
from benchmark.saliency.scoring import peak_point, pointing_hit
from benchmark.tasks import TASKS


def _boxes(rows: list[tuple[str, str, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["image_id", "label", "x", "y", "w", "h"])


@pytest.mark.parametrize("shape", [(8, 8), (9, 7), (1024, 1024)])
def test_centre_map_points_at_the_image_centre(shape):
    assert peak_point(centre_map(shape)) == (shape[1] / 2, shape[0] / 2)


def test_centre_map_hits_a_box_iff_it_contains_the_centre():
    saliency = centre_map((8, 8))
    assert pointing_hit(saliency, [(3.9, 3.9, 4.1, 4.1)])  # a tiny box on the centre
    assert pointing_hit(saliency, [(4.0, 0.0, 8.0, 4.0)])  # the centre on its corner (edges count)
    assert not pointing_hit(saliency, [(4.1, 0.0, 8.0, 8.0)])  # just right of the centre
    assert not pointing_hit(saliency, [(0.0, 0.0, 3.0, 3.0)])


def test_centre_rates_and_their_wilson_intervals_are_statsmodels():
    # images 64 x 64 (width, height); centre (32, 32). Three of four "A" boxes contain it.
    boxes = _boxes(
        [
            ("a", "A", 16, 16, 32, 32),
            ("b", "A", 0, 0, 40, 40),
            ("c", "A", 32, 10, 5, 30),
            ("d", "A", 0, 0, 10, 10),
            ("a", "B", 40, 40, 10, 10),
        ]
    )
    scores = null_scores(boxes, (64, 64)).set_index(["method", "finding"])
    for finding, hits, n in (("A", 3, 4), ("B", 0, 1), ("all", 3, 5)):
        row = scores.loc[("centre", finding)]
        low, high = proportion_confint(hits, n, alpha=0.05, method="wilson")
        assert (row["hits"], row["n"]) == (hits, n)
        assert row["hit_rate"] == pytest.approx(hits / n)
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # "a"'s centre box (16..48)^2 against the disc the map keeps at half its maximum (radius about d_max / 2)
    saliency = centre_map((64, 64))
    disc = saliency >= 0.5 * saliency.max()
    box = np.zeros((64, 64), dtype=bool)
    box[16:48, 16:48] = True
    a_iou = (disc & box).sum() / (disc | box).sum()
    trials = null_trials(boxes, (64, 64))
    assert trials.query("method == 'centre' and image_id == 'a' and finding == 'A'")["iou"].item() == pytest.approx(
        a_iou
    )


def test_random_map_hit_rate_is_the_box_share_of_the_image():
    # a box on the top-left quarter of 8 x 8 images: 16 of 64 pixel centres, a/A = 0.25
    n = 3000
    boxes = _boxes([(f"i{k}", "A", 0.0, 0.0, 4.0, 4.0) for k in range(n)])
    row = null_scores(boxes, (8, 8), seed=1).set_index(["method", "finding"]).loc[("random", "A")]
    assert row["chance"] == pytest.approx(0.25)  # the exact expected rate
    assert abs(row["hit_rate"] - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)  # the seeded simulation
    low, high = proportion_confint(row["hits"], n, alpha=0.05, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # thresholded at half its maximum a uniform map keeps about half the pixels: IoU ~ 0.25*0.5 / (0.25+0.75*0.5)
    assert row["mean_iou"] == pytest.approx(0.125 / 0.625, abs=0.02)


def test_random_maps_are_seeded():
    first, again = random_map((4, 4), np.random.default_rng(3)), random_map((4, 4), np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    boxes = _boxes([(f"i{k}", "A", 0.0, 0.0, 2.0, 2.0) for k in range(50)])
    assert null_trials(boxes, (8, 8), seed=5).equals(null_trials(boxes, (8, 8), seed=5))
    assert not null_trials(boxes, (8, 8), seed=5).equals(null_trials(boxes, (8, 8), seed=6))


def test_a_task_without_expert_boxes_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"pneumonia.*no expert boxes"):
        task_boxes(TASKS.get("pneumonia"), tmp_path)


def test_real_nih_boxes(shared_data):
    with gzip.open(shared_data / "nih14" / "BBox_List_2017.csv.gz", "rt") as handle:
        rows = list(csv.reader(handle))[1:]
    test_ids = set((shared_data / "nih14" / "test_list.txt").read_text().split())
    boxes, size = task_boxes(TASKS.get("nih14"), shared_data)
    assert size == (1024, 1024)
    assert len(boxes) == len(rows) == 984 and boxes["image_id"].nunique() == 880
    assert set(boxes["image_id"]) <= test_ids
    # maps of 64 x 64: the centre (32, 32) is the 1024 x 1024 image's (512, 512), so the centre map's
    # hits are the boxes that contain (512, 512), counted here from the CSV itself
    scores = null_scores(boxes, size, map_shape=(64, 64)).set_index(["method", "finding"])
    expected: dict[str, list[int]] = {}
    for _image_id, label, x, y, w, h, *_ in rows:
        x, y, w, h = (float(v) for v in (x, y, w, h))
        found = expected.setdefault("Infiltration" if label == "Infiltrate" else label, [0, 0])
        found[0] += int(x <= 512 <= x + w and y <= 512 <= y + h)
        found[1] += 1
    assert sorted(expected) == sorted(set(boxes["label"]))
    for finding, (hits, n) in expected.items():
        assert (scores.loc[("centre", finding), "hits"], scores.loc[("centre", finding), "n"]) == (hits, n)
    assert scores.loc[("centre", "all"), "n"] == scores.loc[("random", "all"), "n"] == 984
    assert scores.loc[("centre", "Cardiomegaly"), "hit_rate"] > 0.9  # why the baselines are needed


def _cache_index(scoring: dict | None = None) -> dict:
    """A saliency cache index on 16 x 16 maps: image a's Mass box holds the centre (8, 8), image b's
    does not; a's Nodule box was shown but not scored (no "hit"), so it is no null unit."""
    images = [
        {"image_id": "a", "boxes": [{"finding": "Mass", "x0": 6.0, "y0": 6.0, "x1": 10.0, "y1": 10.0},
                                    {"finding": "Nodule", "x0": 0.0, "y0": 0.0, "x1": 4.0, "y1": 4.0}]},
        {"image_id": "b", "boxes": [{"finding": "Mass", "x0": 0.0, "y0": 0.0, "x1": 4.0, "y1": 2.0}]},
    ]  # fmt: skip
    entries = [
        {"image": 0, "class": "Mass", "method": "gradcam", "hit": True, "iou": 0.1},
        {"image": 0, "class": "Mass", "method": "occlusion", "hit": False, "iou": 0.0},
        {"image": 0, "class": "Nodule", "method": "gradcam"},
        {"image": 1, "class": "Mass", "method": "gradcam", "hit": False, "iou": 0.0},
    ]
    index = {"images": images, "entries": entries}
    if scoring is not None:
        index["parameters"] = {"scoring": scoring}
    return index


def test_cache_null_scores_use_the_images_and_boxes_the_model_was_scored_on():
    scores = cache_null_scores(_cache_index(), (16, 16), seed=0).set_index(["method", "finding"])
    assert set(scores.index) == {(f"null: {m}", f) for m in ("centre", "random") for f in ("Mass", "all")}
    centre = scores.loc[("null: centre", "Mass")]
    assert (centre["hits"], centre["n"]) == (1, 2)  # a's box holds the centre, b's does not
    low, high = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert (centre["ci_low"], centre["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # pixel centres inside: a's box 4 x 4 = 16 of 256, b's 4 x 2 = 8 of 256 -> expected random rate 12 / 256
    assert scores.loc[("null: random", "Mass"), "chance"] == pytest.approx((16 + 8) / 2 / 256)


def test_cache_null_scores_follow_the_cache_scoring_settings():
    # b's box ends 6 px left of and 6 px above the centre: a hit once the tolerance reaches its distance
    far = float(np.hypot(8 - 4, 8 - 2))
    strict = cache_null_scores(_cache_index({"pointing_tolerance_px": far - 0.01}), (16, 16))
    loose = cache_null_scores(_cache_index({"pointing_tolerance_px": far + 0.01}), (16, 16))
    hits = {name: s.set_index(["method", "finding"]).loc[("null: centre", "Mass"), "hits"] for name, s in
            (("strict", strict), ("loose", loose))}  # fmt: skip
    assert hits == {"strict": 1, "loose": 2}
    assert cache_null_scores({"images": [], "entries": []}, (16, 16)).empty


def test_random_map_argmax_is_uniform_over_the_pixels():
    # the argmax of an i.i.d. uniform map is a uniformly random pixel: a chi-square test over 4 x 4 maps
    rng = np.random.default_rng(7)
    peaks = [peak_point(random_map((4, 4), rng)) for _ in range(4000)]  # (x, y) pixel centres, as scored
    counts = np.bincount([int(y - 0.5) * 4 + int(x - 0.5) for x, y in peaks], minlength=16)
    assert chisquare(counts).pvalue > 0.001


def test_saliency_command_prints_the_null_rows_beside_the_model_rows(tmp_path, monkeypatch, capsys):
    from benchmark.cli import main
    from benchmark.saliency import run as saliency_run
    from benchmark.saliency.cache import cache_dir
    from tests.fixtures.runs.make import ToyModel, toy_task, write_saliency_cache, write_task_runs

    rng = np.random.default_rng(5)
    task = toy_task("multiclass", ("covid", "normal", "viral"), "d" * 64, name="other")
    run_id = write_task_runs(tmp_path, task, [ToyModel("m", 1.0, seeds=(0,))], 20, rng)[0]
    index = write_saliency_cache(tmp_path, run_id, rng, n_images=6)  # 16 x 16 maps, one scored box per image
    monkeypatch.setattr(saliency_run, "run_saliency", lambda request: cache_dir(tmp_path / run_id))
    assert main(["saliency", run_id, "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    centre_hits = 0
    for image in index["images"]:
        (box,) = image["boxes"]
        centre_hits += box["x0"] <= 8 <= box["x1"] and box["y0"] <= 8 <= box["y1"]  # the 16 x 16 map's centre
    assert f"null: centre all                  pointing game {centre_hits}/6 " in out
    assert "null: random all" in out and "gradcam      all" in out
