"""Box scoring of saliency maps: box scaling, pointing game, IoU and the per-finding summary,
each against hand-computed values on generated maps whose lesion position is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmark.saliency.scoring import (
    box_mask,
    iou,
    peak_point,
    pointing_hit,
    scale_box,
    score_map,
    summarise,
    thresholded,
)

BOX = (2.0, 1.0, 5.0, 4.0)  # x0, y0, x1, y1: pixel centres inside are rows 1-3, columns 2-4


def test_nih_box_scales_from_the_original_png_to_the_map():
    # a 1024 px NIH image resized to the 64 px model input: factor 1/16
    assert scale_box(256, 512, 128, 256, (1024, 1024), (64, 64)) == (16.0, 32.0, 24.0, 48.0)
    # width and height scale separately (an image 2000 wide and 1000 high squashed to 50 x 100)
    assert scale_box(1000, 100, 500, 200, (2000, 1000), (50, 100)) == (50.0, 5.0, 75.0, 15.0)


def test_box_mask_holds_the_pixels_whose_centres_are_inside():
    expected = np.zeros((8, 8), dtype=bool)
    expected[1:4, 2:5] = True
    np.testing.assert_array_equal(box_mask(BOX, (8, 8)), expected)


def _map_with_peak(row: int, col: int, shape=(8, 8)) -> np.ndarray:
    saliency = np.full(shape, 0.1)
    saliency[row, col] = 1.0
    return saliency


def test_pointing_game_hit_and_miss():
    assert pointing_hit(_map_with_peak(3, 4), [BOX])  # centre (4.5, 3.5) inside
    assert not pointing_hit(_map_with_peak(6, 4), [BOX])  # centre (4.5, 6.5) below
    assert pointing_hit(_map_with_peak(6, 4), [BOX, (0.0, 6.0, 8.0, 8.0)])  # a second box of the finding


def test_pointing_tolerance_is_the_distance_to_the_box_in_map_pixels():
    below = _map_with_peak(6, 3)  # centre (3.5, 6.5): 2.5 px below the box edge y1 = 4
    assert not pointing_hit(below, [BOX], tolerance=2.0)
    assert pointing_hit(below, [BOX], tolerance=2.5)
    corner = _map_with_peak(7, 7)  # centre (7.5, 7.5): diagonal distance to corner (5, 4) is hypot(2.5, 3.5)
    assert not pointing_hit(corner, [BOX], tolerance=4.3)
    assert pointing_hit(corner, [BOX], tolerance=4.31)


def test_tied_maximum_points_at_the_centroid_and_a_flat_map_points_nowhere():
    plateau = np.zeros((8, 8))
    plateau[5:8, 5:8] = 1.0
    assert peak_point(plateau) == (6.5, 6.5)
    assert pointing_hit(plateau, [(6.0, 6.0, 7.0, 7.0)])
    assert not pointing_hit(plateau, [(0.0, 0.0, 5.0, 5.0)])
    for flat in (np.zeros((8, 8)), np.full((8, 8), -1.0), np.full((8, 8), np.nan)):
        assert peak_point(flat) is None
        assert score_map(flat, [BOX]) == {"hit": False, "iou": 0.0, "box_fraction": 9 / 64}


def test_iou_of_the_map_thresholded_at_half_its_maximum():
    saliency = np.full((8, 8), 0.4)
    saliency[1:3, 2:5] = 1.0  # 6 pixels >= 0.5 x max, all inside the 9-pixel box
    assert thresholded(saliency).sum() == 6
    assert score_map(saliency, [BOX]) == {"hit": True, "iou": pytest.approx(6 / 9), "box_fraction": 9 / 64}
    # at 0.3 x max every pixel passes: IoU = 9 / 64
    assert score_map(saliency, [BOX], fraction=0.3)["iou"] == pytest.approx(9 / 64)
    # an identical mask and box: IoU 1; disjoint: 0
    assert iou(box_mask(BOX, (8, 8)), box_mask(BOX, (8, 8))) == 1.0
    assert iou(box_mask(BOX, (8, 8)), box_mask((6.0, 6.0, 8.0, 8.0), (8, 8))) == 0.0


def _lesion_images(n: int, side: int, radius: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images with one bright disc each; returns images and disc centres (row, col)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 0.3, size=(n, side, side))
    centres = rng.integers(radius + 1, side - radius - 1, size=(n, 2))
    rows, cols = np.mgrid[:side, :side]
    for image, (r, c) in zip(images, centres, strict=True):
        image[(rows - r) ** 2 + (cols - c) ** 2 <= radius**2] += 1.0
    return images, centres


def test_pointing_game_on_generated_lesions():
    side, radius = 64, 4
    images, centres = _lesion_images(20, side, radius, seed=3)
    boxes = [(c - radius, r - radius, c + radius + 1.0, r + radius + 1.0) for r, c in centres]
    # a map that follows the lesion (the image itself, smoothed by a 3x3 mean) hits every time
    smoothed = [sum(np.roll(np.roll(im, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) for im in images]
    assert all(pointing_hit(m, [b]) for m, b in zip(smoothed, boxes, strict=True))
    # a map peaked at a fixed corner pixel (0, 0) hits only where a lesion box covers (0.5, 0.5): never here
    assert not any(pointing_hit(_map_with_peak(0, 0, (side, side)), [b]) for b in boxes)
    # the map of another image's lesion hits only when the two boxes contain each other's centre
    shifted = [pointing_hit(m, [b]) for m, b in zip(smoothed[1:], boxes[:-1], strict=True)]
    pairs = zip(centres[1:], centres[:-1], strict=True)
    expected = [abs(a[0] - b[0]) <= radius and abs(a[1] - b[1]) <= radius for a, b in pairs]
    assert shifted == expected


def _wilson(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_summary_hit_rate_wilson_interval_mean_iou_and_chance():
    mass_trials = [{"finding": "Mass", "hit": k < 7, "iou": 0.1 * k, "box_fraction": 0.05} for k in range(10)]
    nodule_trials = [{"finding": "Nodule", "hit": k == 0, "iou": 0.0, "box_fraction": 0.01} for k in range(2)]
    trials = pd.DataFrame(mass_trials + nodule_trials).assign(method="gradcam")
    summary = summarise(trials).set_index(["method", "finding"])
    mass = summary.loc[("gradcam", "Mass")]
    assert (mass["n"], mass["hits"], mass["hit_rate"]) == (10, 7, 0.7)
    assert (mass["ci_low"], mass["ci_high"]) == pytest.approx(_wilson(7, 10))
    assert (round(mass["ci_low"], 4), round(mass["ci_high"], 4)) == (0.3968, 0.8922)  # published Wilson 7/10
    assert mass["mean_iou"] == pytest.approx(0.45) and mass["chance"] == pytest.approx(0.05)
    pooled = summary.loc[("gradcam", "all")]
    assert (pooled["n"], pooled["hits"]) == (12, 8)
    assert (pooled["ci_low"], pooled["ci_high"]) == pytest.approx(_wilson(8, 12))
    assert pooled["mean_iou"] == pytest.approx(4.5 / 12) and pooled["chance"] == pytest.approx(0.52 / 12)
    assert summarise(trials.iloc[:0]).empty
