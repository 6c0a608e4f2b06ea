"""Three-class 64x64 lung X-ray sets as one npz: ``images`` (N, 64, 64) uint8, ``labels`` (N,) class
indices in the task's label order, optionally ``image_ids`` and ``patient_ids`` (N,) strings.

Without ``image_ids`` an image is named by its content (so a re-ordered copy of the file gives the
same ids) and is its own patient; ``benchmark/data/build/lung64.py`` writes such a file from NIH.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.data.root import find_dataset_dir
from benchmark.data.source import SourceIndex
from benchmark.data.sources import register_source
from benchmark.errors import ConfigError, DataFormatError

REQUIRED_ARRAYS = ("images", "labels")
OPTIONAL_ARRAYS = ("image_ids", "patient_ids")


def _how_to_get(source: dict[str, Any]) -> str:
    return source.get("how_to_get", f"build it with `benchmark data build {source['folder']}`")


def lung64_path(root: Path, source: dict[str, Any]) -> Path:
    """The task's npz: ``root/<filename>`` or ``root/<folder>/<filename>``."""
    filename = source["filename"]
    return find_dataset_dir(root, filename, source["folder"], _how_to_get(source)) / filename


def read_lung64_npz(path: Path, n_classes: int) -> dict[str, np.ndarray]:
    """The arrays of ``path``, checked: shapes agree, labels are class indices below ``n_classes``."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"cannot read {path} as an npz file: {exc}; rebuild or re-download it") from exc
    missing = [key for key in REQUIRED_ARRAYS if key not in arrays]
    if missing:
        raise DataFormatError(f"{path} lacks the arrays {missing} (has {sorted(arrays)}); rebuild or re-download it")
    images, labels = arrays["images"], arrays["labels"]
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataFormatError(
            f"{path}: array images must be (N, height, width) uint8 grayscale, got {images.shape} {images.dtype}"
        )
    for key in ("labels", *OPTIONAL_ARRAYS):
        if key in arrays and arrays[key].shape != (len(images),):
            raise DataFormatError(f"{path}: array {key} has shape {arrays[key].shape}, expected ({len(images)},)")
    bad = ~np.isin(labels, np.arange(n_classes)) if labels.dtype.kind in "iuf" else np.ones(len(labels), bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}: array labels row {row} has value {labels[row].tolist()!r}; allowed values are the class indices "
            f"0..{n_classes - 1}. The file does not belong to this task or is corrupt"
        )
    for key in OPTIONAL_ARRAYS:
        if key in arrays and arrays[key].dtype.kind not in "US":
            raise DataFormatError(f"{path}: array {key} must hold strings, got dtype {arrays[key].dtype}")
    return arrays


def _content_ids(prefix: str, images: np.ndarray, labels: np.ndarray) -> list[str]:
    ids: list[str] = []
    seen: dict[str, int] = {}
    for image, label in zip(images, labels, strict=True):
        content = hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
        key = hashlib.sha256(content.encode() + np.int64(label).tobytes()).hexdigest()[:16]
        count = seen.get(key, 0)
        seen[key] = count + 1
        ids.append(f"{prefix}-{key}" + (f"-{count}" if count else ""))
    return ids


@register_source("lung64_npz")
def index_lung64(root: Path, source: dict[str, Any], labels: list[str], problem: str) -> SourceIndex:
    if problem != "multiclass":
        raise ConfigError(f"source kind lung64_npz holds one class per image; the task's problem is {problem!r}")
    path = lung64_path(root, source)
    arrays = read_lung64_npz(path, len(labels))
    images, classes = arrays["images"], arrays["labels"].astype(int)
    if "image_ids" in arrays:
        image_ids = [str(i) for i in arrays["image_ids"]]
        if len(set(image_ids)) != len(image_ids):
            raise DataFormatError(f"{path}: array image_ids has repeated ids; each image needs its own")
    else:
        image_ids = _content_ids(source["folder"], images, classes)
    patient_ids = [str(p) for p in arrays["patient_ids"]] if "patient_ids" in arrays else image_ids
    frame = pd.DataFrame(
        {
            "image_id": image_ids,
            "patient_id": patient_ids,
            "official_split": "",
            "content_hash": [hashlib.sha256(np.ascontiguousarray(i).tobytes()).hexdigest() for i in images],
            "location": [f"{path.name}:images[{k}]" for k in range(len(images))],
            "array_index": np.arange(len(images)),
        }
    )
    for k, name in enumerate(labels):
        frame[name] = (classes == k).astype(float)
    # Rows in id order, so a re-ordered copy of the file gives the same (seeded) split.
    frame = frame.sort_values("image_id", kind="stable").reset_index(drop=True)

    def load(row: pd.Series) -> Image.Image:
        return Image.fromarray(images[int(row["array_index"])])

    return SourceIndex(frame=frame, load=load, in_memory=True)
