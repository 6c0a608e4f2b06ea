"""ROC curves on a fixed false-positive-rate grid, with a patient-cluster bootstrap band.

The curve is scikit-learn's ``roc_curve`` (one vertex per distinct score, ties joined by a
diagonal, starting at (0, 0)) read at each grid FPR: at an FPR where the curve has a vertical
step it takes the top of the step, between vertices it is linear. The band is the pointwise
percentile interval of that value over bootstrap resamples drawn by ``draw_resamples`` (whole
patients, as for every CI in ``benchmark.stats``); a resample without a positive or a negative
is counted in ``n_degenerate`` and left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.errors import StatisticsError
from benchmark.metrics.predictions import SCORE_PREFIX, TRUE_PREFIX, prediction_labels
from benchmark.stats.bootstrap import clusters_of
from benchmark.stats.resample import Clusters, draw_resamples

GRID_POINTS = 101
ROC_COLUMNS = ["fpr", "tpr", "tpr_low", "tpr_high"]
_CHUNK_ELEMENTS = 1 << 22  # resample rows are processed in blocks of about this many image weights


def default_grid(points: int = GRID_POINTS) -> np.ndarray:
    return np.linspace(0.0, 1.0, points)


def _weighted_points(positive: np.ndarray, score: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr), each (B, groups + 1): the vertices for each row of image weights (B, n), thresholds
    from the highest distinct score down, with the (0, 0) start. NaN rows where a class has no weight."""
    order = np.argsort(-score, kind="stable")
    score, positive, weights = score[order], positive[order], weights[:, order]
    ends = np.r_[np.flatnonzero(score[1:] != score[:-1]), len(score) - 1]  # last image of each tie group
    tp = np.cumsum(weights * positive, axis=1)[:, ends]
    fp = np.cumsum(weights * ~positive, axis=1)[:, ends]
    zeros = np.zeros((len(weights), 1))
    tp, fp = np.hstack([zeros, tp]), np.hstack([zeros, fp])
    with np.errstate(invalid="ignore", divide="ignore"):
        return fp / fp[:, -1:], tp / tp[:, -1:]


def tpr_on_grid(fpr: np.ndarray, tpr: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Rows of vertices (B, m), FPR non-decreasing along each row, read at ``grid``: (B, len(grid)).

    The last vertex at or left of each grid FPR is the top of any vertical step there; the value
    is linear from it to the next vertex. Rows with NaN give NaN.
    """
    fpr, tpr = np.atleast_2d(fpr), np.atleast_2d(tpr)
    rows, m = fpr.shape
    valid = ~np.isnan(fpr).any(axis=1) & ~np.isnan(tpr).any(axis=1)
    out = np.full((rows, len(grid)), np.nan)
    if not valid.any():
        return out
    f, t = fpr[valid], tpr[valid]
    # One sorted array for all rows: row r lives in [2r, 2r + 1], so one searchsorted serves every row.
    offset = 2.0 * np.arange(len(f))[:, None]
    flat = (f + offset).ravel()
    at = np.searchsorted(flat, (grid[None, :] + offset).ravel(), side="right") - 1
    at = at.reshape(len(f), len(grid)) - (np.arange(len(f)) * m)[:, None]
    right = np.minimum(at + 1, m - 1)
    f0, t0 = np.take_along_axis(f, at, 1), np.take_along_axis(t, at, 1)
    f1, t1 = np.take_along_axis(f, right, 1), np.take_along_axis(t, right, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(f1 > f0, (t1 - t0) / (f1 - f0), 0.0)
    out[valid] = t0 + slope * (grid[None, :] - f0)
    return out


def roc_band(
    y_true: np.ndarray,
    score: np.ndarray,
    clusters: Clusters,
    n_resamples: int = 2000,
    seed: int | np.random.Generator = 0,
    level: float = 0.95,
    grid: np.ndarray | None = None,
) -> tuple[pd.DataFrame, int]:
    """(ROC_COLUMNS table on ``grid``, number of degenerate resamples) for one label.

    ``clusters`` says which images are drawn together (``Clusters.of(patient_ids)``); NaN labels
    are left out.
    """
    y, score = np.asarray(y_true, dtype=np.float64), np.asarray(score, dtype=np.float64)
    if y.shape != score.shape or y.ndim != 1 or len(y) != len(clusters.cluster_of):
        raise StatisticsError(f"y_true {y.shape}, score {score.shape} and clusters must describe the same images")
    grid = default_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    known = ~np.isnan(y)
    positive = y[known] == 1
    if positive.all() or not positive.any():
        raise StatisticsError("a ROC curve needs positive and negative images; this label has one class only")
    score = score[known]
    point = tpr_on_grid(*_weighted_points(positive, score, np.ones((1, len(score)))), grid)[0]
    cluster_of = clusters.cluster_of[known]
    counts = draw_resamples(clusters, n_resamples, seed).weights().counts  # (B, clusters)
    rows = max(1, _CHUNK_ELEMENTS // len(score))
    curves = np.vstack(
        [
            tpr_on_grid(*_weighted_points(positive, score, counts[start : start + rows][:, cluster_of]), grid)
            for start in range(0, n_resamples, rows)
        ]
    )
    degenerate = np.isnan(curves).any(axis=1)
    alpha = (1 - level) / 2
    if degenerate.all():
        low = high = np.full(len(grid), np.nan)
    else:
        low, high = np.quantile(curves[~degenerate], [alpha, 1 - alpha], axis=0)
    table = pd.DataFrame({"fpr": grid, "tpr": point, "tpr_low": low, "tpr_high": high})
    return table, int(degenerate.sum())


def roc_curve_band(
    predictions: pd.DataFrame,
    label: str | None = None,
    n_resamples: int = 2000,
    cluster: str | None = "patient_id",
    seed: int | np.random.Generator = 0,
    level: float = 0.95,
    grid: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ROC curve of one label of a Predictions table (one-vs-rest for a class) with its bootstrap
    band: ROC_COLUMNS on the grid. ``label`` may be left out when the table has one label."""
    labels = prediction_labels(predictions)
    if label is None:
        if len(labels) != 1:
            raise StatisticsError(f"the predictions have labels {list(labels)}; name the label of the ROC curve")
        label = labels[0]
    if label not in labels:
        raise StatisticsError(f"no label {label!r} in the predictions (labels: {list(labels)})")
    table, _ = roc_band(
        predictions[TRUE_PREFIX + label].to_numpy(float),
        predictions[SCORE_PREFIX + label].to_numpy(float),
        clusters_of(predictions, cluster),
        n_resamples,
        seed,
        level,
        grid,
    )
    return table
