"""Scoring saliency maps against expert boxes: the pointing game and the IoU of the thresholded map.

Coordinates: a map pixel (row r, column c) covers [c, c + 1) x [r, r + 1); a box is
(x0, y0, x1, y1) in the same continuous coordinates, and a pixel belongs to it when its
centre (c + 0.5, r + 0.5) lies inside (edges included).

- Pointing game (Zhang et al. 2016): a hit when the map's maximum lies in a box of the finding
  (any of them when there are several), or within ``tolerance`` map pixels of one (Euclidean
  distance from the pixel centre to the box; default 0). Several pixels tied at the maximum
  point at their centroid. A map without positive evidence points nowhere: a miss.
- IoU: the map thresholded at ``fraction`` x its maximum (default 0.5) against the union of the
  finding's boxes. A rule relative to the maximum works for Grad-CAM and occlusion alike (their
  units differ) and does not impose an area, which a top-k% rule would (with top 5%, IoU with a
  cardiomegaly box covering 18% of the image could not exceed 0.28).
- Per (method, finding), and over all findings: hit rate with a Wilson 95% interval, mean IoU,
  and the chance hit rate, the mean box area / image area (a uniformly random point's rate).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in map pixels

DEFAULT_TOLERANCE = 0.0
DEFAULT_FRACTION = 0.5
ALL_FINDINGS = "all"


def scale_box(x: float, y: float, w: float, h: float, source_size: tuple[int, int], map_shape: tuple[int, int]) -> Box:
    """A box (x, y, w, h) in pixels of the original image of ``source_size`` (width, height), e.g.
    NIH's 1024 x 1024 PNG, in pixels of a map of ``map_shape`` (rows, columns) the image was resized to."""
    sx, sy = map_shape[1] / source_size[0], map_shape[0] / source_size[1]
    return (x * sx, y * sy, (x + w) * sx, (y + h) * sy)


def box_mask(box: Box, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (rows, columns) mask of the pixels whose centres lie in ``box``."""
    rows, cols = np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5
    x0, y0, x1, y1 = box
    return ((rows >= y0) & (rows <= y1))[:, None] & ((cols >= x0) & (cols <= x1))[None, :]


def peak_point(saliency: np.ndarray) -> tuple[float, float] | None:
    """(x, y) of the map's maximum (pixel centre; centroid of tied pixels), None for a map without evidence."""
    values = np.nan_to_num(np.asarray(saliency, dtype=np.float64), nan=0.0)
    top = values.max() if values.size else 0.0
    if top <= 0:
        return None
    rows, cols = np.nonzero(values == top)
    return float(cols.mean() + 0.5), float(rows.mean() + 0.5)


def _distance(point: tuple[float, float], box: Box) -> float:
    x, y = point
    x0, y0, x1, y1 = box
    return float(np.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)))


def pointing_hit(saliency: np.ndarray, boxes: Sequence[Box], tolerance: float = DEFAULT_TOLERANCE) -> bool:
    point = peak_point(saliency)
    return point is not None and any(_distance(point, box) <= tolerance for box in boxes)


def thresholded(saliency: np.ndarray, fraction: float = DEFAULT_FRACTION) -> np.ndarray:
    """Pixels at or above ``fraction`` x the maximum; empty for a map without positive evidence."""
    values = np.nan_to_num(np.asarray(saliency, dtype=np.float64), nan=0.0)
    top = values.max() if values.size else 0.0
    return values >= fraction * top if top > 0 else np.zeros(values.shape, dtype=bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def score_map(
    saliency: np.ndarray,
    boxes: Sequence[Box],
    tolerance: float = DEFAULT_TOLERANCE,
    fraction: float = DEFAULT_FRACTION,
) -> dict[str, float | bool]:
    """Pointing-game hit, IoU and the boxes' share of the image (the chance hit rate) for one map."""
    union = np.zeros(np.shape(saliency), dtype=bool)
    for box in boxes:
        union |= box_mask(box, union.shape)
    return {
        "hit": pointing_hit(saliency, boxes, tolerance),
        "iou": iou(thresholded(saliency, fraction), union),
        "box_fraction": float(union.mean()),
    }


def summarise(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, finding), plus one per method over all findings (finding "all"):
    n, hits, hit_rate, ci_low, ci_high (Wilson 95%), mean_iou, chance.

    ``trials`` has one row per scored map: method, finding, hit, iou, box_fraction.
    """
    from benchmark.stats import wilson_interval

    columns = ["method", "finding", "n", "hits", "hit_rate", "ci_low", "ci_high", "mean_iou", "chance"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    pooled = trials.assign(finding=ALL_FINDINGS)
    rows = []
    for (method, finding), group in pd.concat([trials, pooled]).groupby(["method", "finding"], sort=True):
        n, hits = len(group), int(group["hit"].sum())
        interval = wilson_interval(hits, n)
        iou_mean, chance = group["iou"].mean(), group["box_fraction"].mean()
        rows.append([method, finding, n, hits, hits / n, interval.ci_low, interval.ci_high, iou_mean, chance])
    return pd.DataFrame(rows, columns=columns)
