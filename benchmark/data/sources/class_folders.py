"""Datasets distributed as ``<dataset>/<split>/<class>/<image>`` folders (e.g. Kaggle's COVID-19 set)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from benchmark.data.images import read_image
from benchmark.data.root import find_dataset_dir
from benchmark.data.source import SourceIndex
from benchmark.data.sources import register_source
from benchmark.errors import DataFormatError, DatasetNotFoundError

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


@register_source("class_folders")
def index_class_folders(root: Path, source: dict[str, Any], labels: list[str], problem: str) -> SourceIndex:
    folder = source["folder"]
    how = source.get("how_to_get", "obtain the dataset from its publisher")
    base = find_dataset_dir(root, folder, source.get("parent", folder), how) / folder
    class_dirs = source.get("class_dirs", {name: name for name in labels})
    rows: list[dict[str, Any]] = []
    for split in source["splits"]:
        split_dir = base / split
        present = sorted(p.name for p in split_dir.iterdir() if p.is_dir()) if split_dir.is_dir() else []
        unexpected = sorted(set(present) - set(class_dirs.values()))
        if unexpected:
            raise DataFormatError(
                f"{split_dir} has class folders {unexpected} that are not labels of this task "
                f"(expected {sorted(class_dirs.values())}); move them out of the dataset folder"
            )
        missing = sorted(set(class_dirs.values()) - set(present))
        if missing:
            raise DatasetNotFoundError(
                f"expected class folders {[str(split_dir / m) for m in missing]}; "
                f"the dataset at {base} is incomplete: {how}"
            )
        for label, dirname in class_dirs.items():
            for path in sorted((split_dir / dirname).iterdir()):
                if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                    continue
                relative = path.relative_to(base).as_posix()
                row = {
                    "image_id": relative,
                    "patient_id": relative,
                    "official_split": split,
                    "content_hash": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "location": str(path),
                }
                if problem == "multiclass":
                    row.update({name: float(name == label) for name in labels})
                else:
                    row[labels[0]] = float(label == labels[0])
                rows.append(row)
    if not rows:
        raise DatasetNotFoundError(f"no images under {base}: {how}")

    def load(row: pd.Series) -> Image.Image:
        return read_image(Path(row["location"]))

    return SourceIndex(frame=pd.DataFrame(rows), load=load)
