"""Saliency gallery data for the leaderboard app: pure functions, no Streamlit.

Everything is read-only and read only from inside the results root: a run id or a cache that
resolves outside it (``..``, an absolute path, a symlink) is refused. The maps come from
``benchmark saliency RUN_ID`` (layout in ``benchmark.saliency.cache``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import RunNotFoundError
from benchmark.results.store import ResultsDir, resolves_inside
from benchmark.saliency.cache import INDEX_FILE, MAPS_FILE, cache_dir, read_cache, read_index
from benchmark.saliency.null_maps import NULL_PREFIX, cache_null_scores
from benchmark.saliency.scoring import Box, box_mask

log = logging.getLogger(__name__)

BOX_COLOUR = (0, 255, 0)
DEFAULT_ALPHA = 0.5
DEFAULT_COLORSCALE = "Turbo"
SCORE_COLUMNS = ["run_id", "task", "model", "method", "finding", "n", "hits", "hit_rate", "ci_low", "ci_high"]
SCORE_COLUMNS += ["mean_iou", "chance"]


@dataclass(frozen=True)
class RunSaliency:
    """One run's saliency cache: ``index`` as written (see benchmark.saliency.run), ``images``
    (N, H, W) uint8 and ``maps`` (M, H, W) in [0, 1], row i described by ``index["entries"][i]``."""

    run_id: str
    index: dict[str, Any]
    images: np.ndarray
    maps: np.ndarray


def _checked_run_dir(results_root: Path, run_dir: Path) -> Path:
    folder = cache_dir(run_dir)
    if not resolves_inside(results_root, run_dir, folder, folder / INDEX_FILE, folder / MAPS_FILE):
        raise RunNotFoundError(
            f"{run_dir} or its saliency cache resolves outside the results root {results_root.resolve()}; "
            "the gallery reads runs only from inside it"
        )
    return run_dir


def load_saliency(results_root: Path | str, run_id: str) -> RunSaliency:
    """A run's saliency cache (a unique prefix of the run id is enough)."""
    root = Path(results_root)
    run_dir = _checked_run_dir(root, ResultsDir(root).find(run_id))
    cache = read_cache(run_dir)
    return RunSaliency(run_dir.name, cache.index, cache.images, cache.maps.astype(np.float32))


def runs_with_saliency(results_root: Path | str) -> list[str]:
    """Ids of the runs under the results root that have a saliency cache."""
    root = Path(results_root)
    found = []
    for run_dir in ResultsDir(root).run_dirs():
        try:
            _checked_run_dir(root, run_dir)
        except RunNotFoundError as exc:
            log.warning("%s", exc)
            continue
        if read_index(run_dir) is not None:
            found.append(run_dir.name)
    return found


def colourise(saliency: np.ndarray, colorscale: str = DEFAULT_COLORSCALE) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 through a plotly sequential colour scale."""
    import plotly.colors

    scale = plotly.colors.get_colorscale(colorscale)  # [[position, "#rrggbb" or "rgb(r, g, b)"], ...]
    positions = np.array([position for position, _ in scale])
    anchors = np.array(
        [plotly.colors.unlabel_rgb(c) if c.startswith("rgb") else plotly.colors.hex_to_rgb(c) for _, c in scale],
        dtype=np.float64,
    )
    values = np.clip(np.nan_to_num(saliency, nan=0.0), 0.0, 1.0)
    return np.stack([np.interp(values, positions, anchors[:, c]) for c in range(3)], axis=-1).round().astype(np.uint8)


def outline(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` with a 4-neighbour outside it (or on the image edge)."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def overlay(
    image: np.ndarray,
    saliency: np.ndarray,
    boxes: Iterable[Box] = (),
    alpha: float = DEFAULT_ALPHA,
    colorscale: str = DEFAULT_COLORSCALE,
    box_colour: tuple[int, int, int] = BOX_COLOUR,
) -> np.ndarray:
    """(H, W, 3) uint8: the grayscale ``image`` under the coloured map, opaque in proportion to the map
    (a pixel without evidence keeps the X-ray, one at the maximum is ``alpha`` colour), with each box
    (x0, y0, x1, y1 in map pixels) outlined on the pixels the scoring counts as inside it."""
    gray = np.repeat(np.asarray(image, dtype=np.float64)[..., None], 3, axis=-1)
    weight = alpha * np.clip(np.nan_to_num(np.asarray(saliency, dtype=np.float64)), 0.0, 1.0)[..., None]
    blended = gray * (1 - weight) + colourise(saliency, colorscale) * weight
    result = blended.round().astype(np.uint8)
    for box in boxes:
        result[outline(box_mask(box, gray.shape[:2]))] = box_colour
    return result


def grid_table(view: RunSaliency) -> pd.DataFrame:
    """One row per (image, class) shown: image (row of ``view.images``), image_id, class, reasons,
    probability, is_true, is_predicted, and per method ``map:<method>`` (row of ``view.maps``),
    ``hit:<method>`` and ``iou:<method>`` (NaN where the class has no box on the image)."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for entry in view.index["entries"]:
        image = view.index["images"][entry["image"]]
        row = rows.setdefault(
            (entry["image"], entry["class"]),
            {
                "image": entry["image"],
                "image_id": image["image_id"],
                "class": entry["class"],
                "reasons": ", ".join(entry["reasons"]),
                "probability": image["probabilities"][entry["class"]],
                "is_true": entry["class"] in image["true"],
                "is_predicted": entry["class"] in image["predicted"],
            },
        )
        method = entry["method"]
        row[f"map:{method}"] = entry["map"]
        row[f"hit:{method}"] = entry.get("hit", np.nan)
        row[f"iou:{method}"] = entry.get("iou", np.nan)
    return pd.DataFrame(list(rows.values()))


def class_boxes(view: RunSaliency, image: int, class_name: str) -> list[Box]:
    """The expert boxes of ``class_name`` on image row ``image``, in map pixels."""
    return [
        (b["x0"], b["y0"], b["x1"], b["y1"]) for b in view.index["images"][image]["boxes"] if b["finding"] == class_name
    ]


def cell_overlay(
    view: RunSaliency, image: int, class_name: str, method: str, alpha: float = DEFAULT_ALPHA, show_boxes: bool = True
) -> np.ndarray:
    """The overlay of one grid cell: image row ``image``, its map for ``class_name`` by ``method``."""
    for entry in view.index["entries"]:
        if (entry["image"], entry["class"], entry["method"]) == (image, class_name, method):
            boxes = class_boxes(view, image, class_name) if show_boxes else []
            return overlay(view.images[image], view.maps[entry["map"]], boxes, alpha)
    raise KeyError(f"run {view.run_id} has no {method} map of class {class_name!r} for image {image}")


def score_table(results_root: Path | str, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Pointing-game and IoU scores of every run (or of ``run_ids``) whose cache has box scores:
    one row per (run, method, finding), finding "all" pooling the run's findings."""
    rows = []
    for run_id in runs_with_saliency(results_root):
        if run_ids is not None and run_id not in run_ids:
            continue
        index = read_index(Path(results_root) / run_id) or {}
        for score in index.get("scores") or []:
            rows.append({"run_id": run_id, "task": index["task"]["name"], "model": index["model"]["name"], **score})
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


# Null baselines beside each model row: the centre-point and the uniform random map on the same images and
# boxes (benchmark.saliency.null_maps), per (run, finding).
NULL_COLUMNS = ["centre_hits", "centre_hit_rate", "centre_ci_low", "centre_ci_high", "centre_mean_iou"]
NULL_COLUMNS += ["random_hits", "random_hit_rate", "random_ci_low", "random_ci_high", "random_mean_iou"]
NULL_COLUMNS += ["random_expected_rate"]


def map_shape(run_dir: Path, index: dict[str, Any]) -> tuple[int, int]:
    """(rows, columns) of a cache's maps: the model's input size it records, else the stored images' shape."""
    size = (index.get("parameters") or {}).get("image_size")
    if size:
        return int(size), int(size)
    rows, columns = read_cache(run_dir).images.shape[1:]
    return int(rows), int(columns)


def null_score_table(results_root: Path | str, run_ids: Sequence[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Per (run, finding) with box scores, the null maps' scores on the run's scored images and boxes:
    run_id, finding and NULL_COLUMNS (random_expected_rate: the boxes' mean share of the map, the exact
    expected hit rate of which the seeded random map is one draw)."""
    rows = []
    for run_id in runs_with_saliency(results_root):
        if run_ids is not None and run_id not in run_ids:
            continue
        run_dir = Path(results_root) / run_id
        index = read_index(run_dir) or {}
        if not index.get("scores"):
            continue
        scores = cache_null_scores(index, map_shape(run_dir, index), seed).set_index(["method", "finding"])
        for finding in dict.fromkeys(scores.index.get_level_values("finding")):
            row: dict[str, Any] = {"run_id": run_id, "finding": finding}
            for name in ("centre", "random"):
                score = scores.loc[(NULL_PREFIX + name, finding)]
                row |= {f"{name}_{c}": score[c] for c in ("hits", "hit_rate", "ci_low", "ci_high", "mean_iou")}
            row["random_expected_rate"] = scores.loc[(NULL_PREFIX + "random", finding), "chance"]
            rows.append(row)
    return pd.DataFrame(rows, columns=["run_id", "finding", *NULL_COLUMNS])


def with_null_columns(scores: pd.DataFrame, nulls: pd.DataFrame) -> pd.DataFrame:
    """``score_table`` rows with the null maps' scores of the same run and finding beside each (NULL_COLUMNS)."""
    return scores.merge(nulls, on=["run_id", "finding"], how="left", validate="many_to_one")
