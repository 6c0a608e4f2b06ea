"""leaderboard.gallery: reading saliency caches only from inside the results root, overlays with
box outlines, the grid rows and the per-model score table, on hand-made caches."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from benchmark.errors import RunNotFoundError, SaliencyCacheError
from benchmark.saliency.cache import MAPS_FILE, cache_dir, write_cache
from leaderboard.gallery import (
    NULL_COLUMNS,
    SCORE_COLUMNS,
    cell_overlay,
    colourise,
    grid_table,
    load_saliency,
    null_score_table,
    overlay,
    runs_with_saliency,
    score_table,
    with_null_columns,
)
from tests.fixtures.runs.make import ToyModel, toy_task, write_saliency_cache, write_task_runs
from tests.leaderboard.test_app import app

BOX = (2.0, 1.0, 5.0, 4.0)  # pixel centres inside: rows 1-3, columns 2-4
TURBO_LOW, TURBO_HIGH = (48, 18, 59), (122, 4, 2)  # the end colours of plotly's Turbo scale: #30123b, #7a0402
GREEN = (0, 255, 0)


def _index(run_id: str, scores: bool = True) -> dict:
    image = {
        "image_id": "a.png",
        "patient_id": "1",
        "true": ["Mass"],
        "predicted": ["Nodule"],
        "probabilities": {"Mass": 0.3, "Nodule": 0.8},
        "boxes": [{"finding": "Mass", "x0": BOX[0], "y0": BOX[1], "x1": BOX[2], "y1": BOX[3]}],
    }
    entries = [
        {
            "map": 0,
            "image": 0,
            "class": "Mass",
            "method": "gradcam",
            "reasons": ["true", "box"],
            "hit": True,
            "iou": 0.5,
        },
        {
            "map": 1,
            "image": 0,
            "class": "Mass",
            "method": "occlusion",
            "reasons": ["true", "box"],
            "hit": False,
            "iou": 0.0,
        },
        {"map": 2, "image": 0, "class": "Nodule", "method": "gradcam", "reasons": ["predicted"]},
        {"map": 3, "image": 0, "class": "Nodule", "method": "occlusion", "reasons": ["predicted"]},
    ]
    score = {"n": 1, "finding": "Mass", "ci_low": 0.2, "ci_high": 1.0, "mean_iou": 0.5, "chance": 9 / 64}
    return {
        "run_id": run_id,
        "task": {"name": "nih14", "hash": "0" * 64, "problem": "multilabel"},
        "model": {"name": "lotko_cnn", "family": "custom_cnn", "target_layer": "features.2.0"},
        "classes": ["Mass", "Nodule"],
        "methods": ["gradcam", "occlusion"],
        "images": [image],
        "entries": entries,
        "scores": [
            {"method": "gradcam", "hits": 1, "hit_rate": 1.0, **score},
            {"method": "occlusion", "hits": 0, "hit_rate": 0.0, **score},
        ]
        if scores
        else None,
    }


def _make_run(root, run_id: str, scores: bool = True):
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "record.json").write_text(json.dumps({"run_id": run_id}))
    maps = np.zeros((4, 8, 8), dtype=np.float32)
    for k in range(4):
        maps[k, k, k] = 1.0  # map k peaks at pixel (k, k)
    write_cache(run_dir, _index(run_id, scores), np.full((1, 8, 8), 100, dtype=np.uint8), maps)
    return run_dir


def test_colour_scale_ends_and_overlay_pixels():
    np.testing.assert_array_equal(colourise(np.array([[0.0, 1.0]])), [[TURBO_LOW, TURBO_HIGH]])
    image = np.full((8, 8), 100, dtype=np.uint8)
    saliency = np.zeros((8, 8))
    saliency[6, 6] = 1.0
    result = overlay(image, saliency, [BOX], alpha=0.5)
    assert result.shape == (8, 8, 3) and result.dtype == np.uint8
    assert tuple(result[0, 0]) == (100, 100, 100)  # no evidence: the X-ray unchanged
    expected = 0.5 * 100 + 0.5 * np.array(TURBO_HIGH)  # (111, 52, 51)
    np.testing.assert_array_equal(result[6, 6], expected)
    border = np.zeros((8, 8), dtype=bool)
    border[1:4, 2:5] = True
    border[2, 3] = False  # the box's one interior pixel
    assert (result[border] == GREEN).all() and (result[~border & (saliency == 0)] == 100).all()
    assert tuple(overlay(image, saliency, alpha=1.0)[6, 6]) == TURBO_HIGH


def test_load_saliency_grid_and_cells(tmp_path):
    _make_run(tmp_path, "20260101T000000Z-nih14-lotko_cnn-s0-aaaaaa")
    view = load_saliency(tmp_path, "20260101T000000Z-nih14")  # a unique prefix
    assert view.images.shape == (1, 8, 8) and view.maps.shape == (4, 8, 8)
    grid = grid_table(view).set_index("class")
    assert list(grid.index) == ["Mass", "Nodule"]
    mass, nodule = grid.loc["Mass"], grid.loc["Nodule"]
    assert (mass["map:gradcam"], mass["map:occlusion"], nodule["map:gradcam"], nodule["map:occlusion"]) == (0, 1, 2, 3)
    assert mass["hit:gradcam"] == True and mass["hit:occlusion"] == False  # noqa: E712  (numpy/object bools)
    assert mass["iou:gradcam"] == 0.5 and np.isnan(nodule["hit:gradcam"])
    assert (mass["is_true"], mass["is_predicted"], nodule["is_true"], nodule["is_predicted"]) == (
        True,
        False,
        False,
        True,
    )
    assert mass["reasons"] == "true, box" and nodule["probability"] == 0.8

    boxed = cell_overlay(view, 0, "Mass", "gradcam", alpha=1.0)
    assert tuple(boxed[1, 2]) == GREEN and tuple(boxed[0, 0]) == TURBO_HIGH  # map 0 peaks at (0, 0)
    unboxed = cell_overlay(view, 0, "Nodule", "occlusion", alpha=1.0)
    assert tuple(unboxed[3, 3]) == TURBO_HIGH and tuple(unboxed[1, 2]) == (100, 100, 100)
    with pytest.raises(KeyError, match="no gradcam\\+\\+ map"):
        cell_overlay(view, 0, "Mass", "gradcam++")


def test_reads_only_inside_the_results_root(tmp_path):
    root, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    outside = _make_run(elsewhere, "run-outside")
    _make_run(root, "run-inside")
    with pytest.raises(RunNotFoundError, match="outside the results root"):
        load_saliency(root, "../elsewhere/run-outside")
    with pytest.raises(RunNotFoundError):
        load_saliency(root, str(outside))  # an absolute path is not a run id under the root
    linked = root / "run-linked"
    linked.mkdir()
    (linked / "record.json").write_text("{}")
    os.symlink(cache_dir(outside), cache_dir(linked))
    with pytest.raises(RunNotFoundError, match="outside the results root"):
        load_saliency(root, "run-linked")
    assert runs_with_saliency(root) == ["run-inside"]


def test_maps_that_do_not_match_the_index_are_refused(tmp_path):
    run_dir = _make_run(tmp_path, "run-a")
    np.savez_compressed(cache_dir(run_dir) / MAPS_FILE, images=np.zeros((1, 8, 8)), maps=np.zeros((4, 8, 8)))
    with pytest.raises(SaliencyCacheError, match=r"does not match .*index\.json"):
        load_saliency(tmp_path, "run-a")
    (tmp_path / "run-b").mkdir()
    (tmp_path / "run-b" / "record.json").write_text("{}")
    with pytest.raises(SaliencyCacheError, match=r"has no saliency cache.*benchmark saliency run-b"):
        load_saliency(tmp_path, "run-b")


def test_score_table_has_one_row_per_run_method_and_finding(tmp_path):
    _make_run(tmp_path, "run-a")
    _make_run(tmp_path, "run-b")
    _make_run(tmp_path, "run-c", scores=False)  # a task without boxes
    table = score_table(tmp_path)
    assert list(table.columns) == SCORE_COLUMNS
    assert sorted(zip(table["run_id"], table["method"], strict=True)) == [
        ("run-a", "gradcam"),
        ("run-a", "occlusion"),
        ("run-b", "gradcam"),
        ("run-b", "occlusion"),
    ]
    assert set(table["model"]) == {"lotko_cnn"} and set(table["finding"]) == {"Mass"}
    assert table.set_index(["run_id", "method"]).loc[("run-a", "occlusion"), "hit_rate"] == 0.0
    assert list(score_table(tmp_path, ["run-b"])["run_id"]) == ["run-b", "run-b"]
    assert score_table(tmp_path / "empty").empty


def test_null_scores_sit_beside_each_model_row_of_the_same_run_and_finding(tmp_path):
    _make_run(tmp_path, "run-a")
    _make_run(tmp_path, "run-c", scores=False)  # no boxes: no null rows either
    nulls = null_score_table(tmp_path)
    assert list(nulls.columns) == ["run_id", "finding", *NULL_COLUMNS]
    assert sorted(zip(nulls["run_id"], nulls["finding"], strict=True)) == [("run-a", "Mass"), ("run-a", "all")]
    mass = nulls.set_index("finding").loc["Mass"]
    # 8 x 8 maps (the cached images' shape): the centre (4, 4) lies on the edge of BOX (2, 1, 5, 4): a hit
    assert (mass["centre_hits"], mass["centre_hit_rate"]) == (1, 1.0)
    low, high = proportion_confint(1, 1, alpha=0.05, method="wilson")
    assert (mass["centre_ci_low"], mass["centre_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert mass["random_expected_rate"] == pytest.approx(9 / 64)  # 3 x 3 pixel centres inside BOX
    assert mass["random_hits"] in (0, 1) and 0 <= mass["random_ci_low"] <= mass["random_ci_high"] <= 1
    merged = with_null_columns(score_table(tmp_path), nulls)
    assert len(merged) == 2 and (merged["centre_hit_rate"] == 1.0).all()  # gradcam and occlusion rows
    assert list(merged.columns) == [*SCORE_COLUMNS, *NULL_COLUMNS]


def test_gallery_page_shows_the_null_maps_beside_the_model(tmp_path, monkeypatch):
    results = tmp_path / "results"
    rng = np.random.default_rng(3)
    task = toy_task("multiclass", ("covid", "normal", "viral"), "d" * 64, name="other")
    run_id = write_task_runs(results, task, [ToyModel("m", 1.0, seeds=(0,))], 20, rng)[0]
    write_saliency_cache(results, run_id, rng, n_images=5)
    at = app(results, monkeypatch, "views/gallery.py", run=run_id)
    shown = at.dataframe[0].value.set_index(["method", "finding"])
    expected = null_score_table(results).set_index("finding")
    for (_, finding), row in shown.iterrows():
        for column in NULL_COLUMNS:
            assert row[column] == pytest.approx(expected.loc[finding, column])
    assert "centre" in "\n".join(c.value for c in at.caption)
