"""Null saliency baselines: the pointing game and IoU of maps that know nothing of the image.

A model's pointing-game rate means little alone: a map that always points at the image centre
hits every box that contains the centre (most cardiomegaly boxes). Two maps, scored by
``benchmark.saliency.scoring`` exactly as model maps are (same hit rule, same threshold for IoU):

- ``centre``: 1 - d / d_max, d the distance of a pixel centre from the image centre and d_max
  that of a corner. Its maximum is the image centre (an even side ties the two middle pixels,
  whose centroid is the centre), so it hits a box iff the box contains the centre; thresholded
  at 0.5 x the maximum it is about the disc of radius d_max / 2 (its IoU depends on that choice of shape).
- ``random``: i.i.d. uniform values from a seeded generator, one map per (image, finding). Its
  argmax is a uniformly random pixel, so its expected hit rate is the boxes' share of the image
  (``chance`` in ``summarise``, computed exactly); ``hits`` / ``hit_rate`` and the Wilson interval
  are those of this seeded simulation. Thresholded at 0.5 x its maximum it keeps about half the
  pixels at random.

The unit is an (image, finding) pair scored against the union of that finding's boxes, as for
model maps; on NIH's box list each pair has exactly one box, so pairs and boxes coincide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.data.sources.nih14 import read_nih_boxes
from benchmark.errors import ConfigError
from benchmark.saliency.scoring import DEFAULT_FRACTION, DEFAULT_TOLERANCE, scale_box, score_map, summarise
from benchmark.tasks import Task

NULL_METHODS = ("centre", "random")
NULL_PREFIX = "null: "  # how the null rows are named beside a model's methods
# Source kind -> (reader of its expert boxes, the (width, height) of the images they are drawn on).
# NIH's box list is in pixels of its 1024 x 1024 PNGs.
BOX_SOURCES: dict[str, tuple[Callable[[Path, str], pd.DataFrame], tuple[int, int]]] = {
    "nih14": (read_nih_boxes, (1024, 1024)),
}


def centre_map(shape: tuple[int, int]) -> np.ndarray:
    """(rows, columns) map falling linearly from 1 at the image centre to 0 at the corners."""
    rows, cols = np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5
    distance = np.hypot(rows[:, None] - shape[0] / 2, cols[None, :] - shape[1] / 2)
    return 1.0 - distance / np.hypot(shape[0] / 2, shape[1] / 2)


def random_map(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(rows, columns) i.i.d. uniform [0, 1) values."""
    return rng.random(shape)


def null_trials(
    boxes: pd.DataFrame,
    image_size: tuple[int, int],
    map_shape: tuple[int, int] | None = None,
    seed: int = 0,
    tolerance: float = DEFAULT_TOLERANCE,
    fraction: float = DEFAULT_FRACTION,
) -> pd.DataFrame:
    """One row per (null method, image, finding): method, finding, image_id, hit, iou, box_fraction.

    ``boxes``: image_id, label, x, y, w, h in pixels of images of ``image_size`` (width, height);
    the maps are ``map_shape`` (rows, columns), default the image itself.
    """
    shape = map_shape or (image_size[1], image_size[0])
    centre = centre_map(shape)
    rng = np.random.default_rng(seed)
    rows = []
    for (image_id, finding), group in boxes.groupby(["image_id", "label"], sort=True):
        scaled = [scale_box(b.x, b.y, b.w, b.h, image_size, shape) for b in group.itertuples()]
        for method, saliency in (("centre", centre), ("random", random_map(shape, rng))):
            scores = score_map(saliency, scaled, tolerance, fraction)
            rows.append({"method": method, "finding": finding, "image_id": image_id, **scores})
    return pd.DataFrame(rows, columns=["method", "finding", "image_id", "hit", "iou", "box_fraction"])


def null_scores(boxes: pd.DataFrame, image_size: tuple[int, int], **kwargs: object) -> pd.DataFrame:
    """``summarise`` of ``null_trials``: per (method, finding) and over all findings, the hits out of
    n (image, finding) pairs with a Wilson 95% interval, mean IoU, and ``chance`` (the exact expected
    hit rate of the random map)."""
    return summarise(null_trials(boxes, image_size, **kwargs))  # type: ignore[arg-type]


def cache_boxes(index: dict[str, Any]) -> pd.DataFrame:
    """The boxes of the (image, finding) pairs a saliency cache scored (``benchmark.saliency.run``'s index),
    as image_id, label, x, y, w, h in pixels of its maps."""
    scored = sorted({(entry["image"], entry["class"]) for entry in index.get("entries", []) if "hit" in entry})
    rows = []
    for image, finding in scored:
        entry = index["images"][image]
        for box in entry["boxes"]:
            if box["finding"] == finding:
                width, height = box["x1"] - box["x0"], box["y1"] - box["y0"]
                rows.append((entry["image_id"], finding, box["x0"], box["y0"], width, height))
    return pd.DataFrame(rows, columns=["image_id", "label", "x", "y", "w", "h"])


def cache_null_scores(index: dict[str, Any], map_shape: tuple[int, int], seed: int = 0) -> pd.DataFrame:
    """``null_scores`` on exactly the images and boxes a saliency cache scored its model maps on, with
    the cache's scoring settings, on maps of the cache's ``map_shape`` (rows, columns); methods are
    named ``null: centre`` and ``null: random``. Empty when the cache scored nothing."""
    boxes = cache_boxes(index)
    if boxes.empty:
        return summarise(pd.DataFrame())
    scoring = (index.get("parameters") or {}).get("scoring") or {}
    tolerance = float(scoring.get("pointing_tolerance_px", DEFAULT_TOLERANCE))
    fraction = float(scoring.get("iou_threshold_fraction_of_max", DEFAULT_FRACTION))
    size = (map_shape[1], map_shape[0])  # the boxes are in map pixels already: no scaling
    scores = null_scores(boxes, size, map_shape=map_shape, seed=seed, tolerance=tolerance, fraction=fraction)
    return scores.assign(method=NULL_PREFIX + scores["method"])


def task_boxes(task: Task, root: Path) -> tuple[pd.DataFrame, tuple[int, int]]:
    """The expert boxes of ``task``'s source under data root ``root`` (findings the task labels) and
    the size of the images they are drawn on."""
    kind = task.source["kind"]
    if kind not in BOX_SOURCES:
        raise ConfigError(
            f"task {task.name} (source {kind}) has no expert boxes; null saliency baselines need a source "
            f"with boxes: {', '.join(sorted(BOX_SOURCES))}"
        )
    reader, size = BOX_SOURCES[kind]
    boxes = reader(root, task.source.get("folder", kind))
    return boxes[boxes["label"].isin(task.labels)].reset_index(drop=True), size


def _rate(row: pd.Series) -> str:
    return f"{row['hit_rate']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def format_scores(scores: pd.DataFrame) -> list[str]:
    """Markdown table: per finding, n, the centre map's and the random map's hits, rates, CIs and IoU."""
    lines = [
        "| finding | boxes | centre hits | centre rate [95% CI] | centre IoU | random hits | "
        "random rate [95% CI] | random expected rate | random IoU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by = scores.set_index(["method", "finding"])
    findings = [*sorted(set(scores["finding"]) - {"all"}), "all"]
    for finding in findings:
        c, r = by.loc[("centre", finding)], by.loc[("random", finding)]
        lines.append(
            f"| {finding} | {int(c['n'])} | {int(c['hits'])} | {_rate(c)} | {c['mean_iou']:.3f} "
            f"| {int(r['hits'])} | {_rate(r)} | {r['chance']:.3f} | {r['mean_iou']:.3f} |"
        )
    return lines
