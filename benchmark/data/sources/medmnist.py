"""MedMNIST ``<flag>.npz`` files: official train/val/test arrays, as published on Zenodo."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.data.download import download_url, file_digest
from benchmark.data.root import find_dataset_dir
from benchmark.data.source import SPLITS, SourceIndex
from benchmark.data.sources import register_source
from benchmark.errors import DataFormatError

log = logging.getLogger(__name__)


def _how_to_get(source: dict[str, Any]) -> str:
    return (
        f"download {source['url']} (md5 {source['md5']}) into that folder, "
        f"or run `benchmark data download {source['flag']} --data-root DIR`"
    )


def _filename(source: dict[str, Any]) -> str:
    return source.get("filename", f"{source['flag']}.npz")


def medmnist_path(root: Path, source: dict[str, Any]) -> Path:
    filename = _filename(source)
    return find_dataset_dir(root, filename, source["flag"], _how_to_get(source)) / filename


def download_medmnist(root: Path, source: dict[str, Any]) -> Path:
    """Download the task's npz into ``root/<flag>/`` and verify MedMNIST's md5."""
    destination = root / source["flag"] / _filename(source)
    if destination.exists() and file_digest(destination) == source["md5"]:
        return destination
    return download_url(source["url"], destination, source["md5"])


@register_source("medmnist")
def index_medmnist(root: Path, source: dict[str, Any], labels: list[str], problem: str) -> SourceIndex:
    """Image ids are ``<flag>-<content digest>`` (``ids: content``, survives re-packing) or
    ``<flag>-<split>-<index>`` (``ids: index``, valid only for the published file, so its md5 must match)."""
    path = medmnist_path(root, source)
    md5 = file_digest(path)
    by_index = source.get("ids", "content") == "index"
    if by_index and md5 != source["md5"]:
        raise DataFormatError(
            f"{path} has md5 {md5}, not MedMNIST's published {source['md5']}; this task identifies images by "
            f"their position in the published file, so only that file will do: {_how_to_get(source)}"
        )
    if md5 != source["md5"]:
        # A re-packed copy (same images, other order) is legitimate; the pinned split hash,
        # computed from image content, decides whether the data is the right data.
        log.warning(
            "%s has md5 %s, not MedMNIST's published %s: not the file as published "
            "(re-packed or modified); its content is checked against the pinned split hash",
            path,
            md5,
            source["md5"],
        )
    with np.load(path) as npz:
        missing = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels") if f"{s}_{k}" not in npz.files]
        if missing:
            raise DataFormatError(
                f"{path} lacks the arrays {missing} (has {sorted(npz.files)}); it is not a MedMNIST npz: re-download it"
            )
        arrays = {key: npz[key] for key in npz.files}

    images: list[np.ndarray] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for split in SPLITS:
        split_images, split_labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        split_labels = split_labels.reshape(len(split_labels), -1)
        _check_labels(path, split, split_labels, labels, problem)
        for position, (image, label) in enumerate(zip(split_images, split_labels, strict=True)):
            content = hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
            if by_index:
                image_id = f"{source['flag']}-{split}-{position:06d}"
            else:  # content ids: a re-ordered copy of the file yields the same ids
                key = hashlib.sha256(content.encode() + label.tobytes()).hexdigest()[:16]
                count = seen.get(key, 0)
                seen[key] = count + 1
                image_id = f"{source['flag']}-{key}" + (f"-{count}" if count else "")
            row = {
                "image_id": image_id,
                "patient_id": image_id,
                "official_split": split,
                "content_hash": content,
                "location": f"{path.name}:{split}_images[{position}]",
                "array_index": len(images),
            }
            row.update(_label_columns(label, labels, problem))
            rows.append(row)
            images.append(image)
    frame = pd.DataFrame(rows)

    def load(row: pd.Series) -> Image.Image:
        return Image.fromarray(images[int(row["array_index"])])

    return SourceIndex(frame=frame, load=load, in_memory=True)


def _check_labels(path: Path, split: str, values: np.ndarray, labels: list[str], problem: str) -> None:
    allowed = range(len(labels)) if problem == "multiclass" else (0, 1)
    bad = ~np.isin(values, list(allowed))
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DataFormatError(
            f"{path}: {split}_labels row {row} has value {values[row].tolist()}, "
            f"allowed values are {list(allowed)} for a {problem} task with labels {labels}; "
            "the file does not belong to this task or is corrupt"
        )


def _label_columns(label: np.ndarray, labels: list[str], problem: str) -> dict[str, float]:
    if problem == "multiclass":
        return {name: float(int(label[0]) == k) for k, name in enumerate(labels)}
    return {name: float(label[k]) for k, name in enumerate(labels)}
