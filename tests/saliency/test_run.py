"""`benchmark saliency RUN_ID` on real short runs: a generated NIH copy with expert boxes (multilabel,
scored) and the tiny COVID set through the CLI (multiclass); the cache, its reuse and bad input."""

from __future__ import annotations

import csv
import dataclasses
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.errors import ConfigError, RunNotFoundError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.saliency.cache import read_cache
from benchmark.saliency.run import SaliencyRequest, run_saliency
from benchmark.saliency.scoring import pointing_hit
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from leaderboard.gallery import BOX_COLOUR, cell_overlay, grid_table, load_saliency, score_table
from tests.conftest import cli_env, pinned_copy
from tests.fixtures.nih14.make import band_box, make_nih_dataset

SHORT = {"epochs": 1, "steps_per_epoch": 1}
NIH_SIZE, MODEL_SIZE = 48, 64  # fixture PNGs, lotko_cnn input


@pytest.fixture(scope="module")
def nih(tmp_path_factory):
    """(task, data folder, results root, run dir) of a one-step lotko_cnn run on a generated NIH copy with boxes."""
    base = tmp_path_factory.mktemp("nih")
    folder = make_nih_dataset(base / "nih14", size=NIH_SIZE, boxes=True)
    task = pinned_copy(TASKS.get("nih14"), folder, expected_patients=None, bootstrap={"n_resamples": 20, "seed": 0})
    results = base / "results"
    run_dir = run_benchmark(
        RunRequest(task=task, model="lotko_cnn", data_root=str(folder), results=results, overrides=SHORT)
    )
    return task, folder, results, run_dir


def _fixture_boxes(folder):
    """image id -> {finding: (x, y, w, h)} as the generated BBox_List_2017.csv writes them."""
    boxes: dict[str, dict[str, tuple[float, ...]]] = {}
    with open(folder / "BBox_List_2017.csv") as handle:
        for row in list(csv.reader(handle))[1:]:
            finding = "Infiltration" if row[1] == "Infiltrate" else row[1]
            boxes.setdefault(row[0], {})[finding] = tuple(float(v) for v in row[2:6])
    return boxes


def _fixture_findings(folder):
    with open(folder / "Data_Entry_2017_v2020.csv") as handle:
        return {row["Image Index"]: set(row["Finding Labels"].split("|")) for row in csv.DictReader(handle)}


def test_nih_run_gets_maps_for_boxed_images_first_and_scores(nih):
    task, folder, results, run_dir = nih
    record_before = (run_dir / "record.json").read_bytes()
    run_saliency(SaliencyRequest(run_id=run_dir.name, results=results, task=task, n=8))
    cache = read_cache(run_dir)
    index = cache.index
    boxes, findings = _fixture_boxes(folder), _fixture_findings(folder)
    assert len(boxes) == 6  # test images 0, 2, 4, 6, 12, 16 carry a boxable finding

    ids = [image["image_id"] for image in index["images"]]
    assert len(ids) == 8 and set(ids[:6]) == set(boxes) and not set(ids[6:]) & set(boxes)
    assert cache.images.shape == (8, MODEL_SIZE, MODEL_SIZE) and cache.images.dtype == np.uint8
    assert cache.maps.shape == (len(index["entries"]), MODEL_SIZE, MODEL_SIZE)
    assert index["model"]["target_layer"] == "features.2.0" and index["classes"] == list(task.labels)

    scale = MODEL_SIZE / NIH_SIZE
    for j, image in enumerate(index["images"]):
        expected_boxes = boxes.get(image["image_id"], {})
        assert set(image["true"]) == findings[image["image_id"]]
        shown = {e["class"] for e in index["entries"] if e["image"] == j}
        assert shown == findings[image["image_id"]] | set(expected_boxes)  # positives, plus boxed findings
        for box in image["boxes"]:
            x, y, w, h = band_box(box["finding"], NIH_SIZE)
            assert expected_boxes[box["finding"]] == (x, y, w, h)
            assert (box["x0"], box["y0"], box["x1"], box["y1"]) == pytest.approx(
                (x * scale, y * scale, (x + w) * scale, (y + h) * scale)
            )
            # the stored image is the one the box belongs to: its finding's band is the bright one
            rows = cache.images[j][int(box["y0"]) : int(box["y1"])]
            assert rows.mean() > cache.images[j].mean() + 40

    for method in ("gradcam", "gradcam++", "occlusion"):
        scored = [e for e in index["entries"] if e["method"] == method and "hit" in e]
        assert len(scored) == 8  # one per (image, boxed finding)
        for entry in scored:
            box = next(b for b in index["images"][entry["image"]]["boxes"] if b["finding"] == entry["class"])
            corners = (box["x0"], box["y0"], box["x1"], box["y1"])
            assert entry["hit"] == pointing_hit(cache.maps[entry["map"]].astype(np.float64), [corners])
            assert 0.0 <= entry["iou"] <= 1.0
        pooled = next(s for s in index["scores"] if s["method"] == method and s["finding"] == "all")
        assert pooled["n"] == 8 and pooled["hits"] == sum(e["hit"] for e in scored)
        assert pooled["chance"] == pytest.approx(4 * MODEL_SIZE / MODEL_SIZE**2)  # 4 of 64 rows: 1/16
        assert pooled["ci_low"] <= pooled["hit_rate"] <= pooled["ci_high"]
    assert (run_dir / "record.json").read_bytes() == record_before  # the record stays as published


def test_cache_is_reused_unless_forced_or_arguments_change(nih):
    task, _, results, run_dir = nih
    request = SaliencyRequest(run_id=run_dir.name, results=results, task=task, n=3, methods=("gradcam",))
    run_saliency(request)
    first = read_cache(run_dir).index
    run_saliency(request)
    assert read_cache(run_dir).index["created_at"] == first["created_at"]
    run_saliency(dataclasses.replace(request, force=True))
    assert read_cache(run_dir).index["created_at"] != first["created_at"]
    run_saliency(dataclasses.replace(request, n=2))
    assert len(read_cache(run_dir).index["images"]) == 2


def test_bad_requests_are_named(nih, tmp_path):
    task, _, results, run_dir = nih
    with pytest.raises(ConfigError, match=r"was made with task nih14 of hash .* use the task version the run used"):
        run_saliency(SaliencyRequest(run_id=run_dir.name, results=results, n=1))  # the real nih14, not the fixture
    with pytest.raises(ConfigError, match=r"--n must be at least 1"):
        run_saliency(SaliencyRequest(run_id=run_dir.name, results=results, task=task, n=0))
    broken = tmp_path / "results"
    shutil.copytree(run_dir, broken / run_dir.name)
    (broken / run_dir.name / "best_model.pt").unlink()
    with pytest.raises(RunNotFoundError, match=r"has no best_model\.pt"):
        run_saliency(SaliencyRequest(run_id=run_dir.name, results=broken, task=task))


def test_cli_errors_exit_2_with_the_error(tmp_path, capsys):
    assert main(["saliency", "no-such-run", "--results", str(tmp_path)]) == 2
    assert "RunNotFoundError: no run 'no-such-run'" in capsys.readouterr().err
    assert main(["saliency", "x", "--methods", "gradcam", "lime", "--results", str(tmp_path)]) == 2
    assert "ConfigError: unknown or no saliency method(s) ['lime']" in capsys.readouterr().err


def test_cli_on_a_multiclass_covid_run(tiny_covid_task, tiny_covid_root, tmp_path):
    results = tmp_path / "results"
    run_dir = run_benchmark(  # 2 epochs, not the recipe's 100 (early stopping after 11 or more): maps need a run
        RunRequest(
            task=tiny_covid_task,
            model="lotko_cnn",
            data_root=str(tiny_covid_root),
            results=results,
            overrides={"epochs": 2},
        )
    )
    command = [sys.executable, "-m", "benchmark.cli", "saliency", run_dir.name[:30], "--results", str(results)]
    command += ["--n", "4", "--methods", "gradcam", "occlusion"]
    env = cli_env(tmp_path / "tasks", tiny_covid_task)  # the pinned copy replaces covid3
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "4 images" in done.stdout and str(run_dir / "saliency") in done.stdout

    index = read_cache(run_dir).index
    assert index["scores"] is None and index["methods"] == ["gradcam", "occlusion"]
    predictions = pd.read_parquet(run_dir / "predictions.parquet").set_index("image_id")
    labels = list(tiny_covid_task.labels)
    for j, image in enumerate(index["images"]):
        true = image["image_id"].split("/")[1]  # test/<class>/<file>
        published = predictions.loc[image["image_id"], [f"score:{c}" for c in labels]].to_numpy()
        predicted = labels[int(np.argmax(published))]
        assert image["true"] == [true] and image["predicted"] == [predicted]
        entries = [e for e in index["entries"] if e["image"] == j]
        assert {(e["class"], e["method"]) for e in entries} == {
            (c, m) for c in {true, predicted} for m in ("gradcam", "occlusion")
        }
        reasons = {e["class"]: set(e["reasons"]) for e in entries}
        assert "true" in reasons[true] and "predicted" in reasons[predicted]
    assert RunRecord.load(run_dir / RECORD_FILE).run_id == run_dir.name


def test_gallery_reads_the_computed_cache(nih):
    task, _, results, run_dir = nih
    methods = ("gradcam", "occlusion")
    run_saliency(SaliencyRequest(run_id=run_dir.name, results=results, task=task, n=4, methods=methods))
    view = load_saliency(results, run_dir.name)
    grid = grid_table(view)
    assert len(grid) == len({(e["image"], e["class"]) for e in view.index["entries"]})
    boxed = grid[grid["hit:gradcam"].notna()].iloc[0]
    box = next(b for b in view.index["images"][boxed["image"]]["boxes"] if b["finding"] == boxed["class"])
    cell = cell_overlay(view, int(boxed["image"]), boxed["class"], "occlusion")
    assert cell.shape == (MODEL_SIZE, MODEL_SIZE, 3)
    assert tuple(cell[int(box["y0"]), 0]) == BOX_COLOUR  # the band's top-left pixel is on the outline
    table = score_table(results)
    assert set(table["run_id"]) == {run_dir.name} and set(table["model"]) == {"lotko_cnn"}
    assert set(table["method"]) == {"gradcam", "occlusion"} and "all" in set(table["finding"])
