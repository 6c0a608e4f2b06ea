"""Kermany et al. (2018) pediatric chest X-rays as distributed: ``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/``.

Patient ids come from the publisher's file names:

- ``NORMAL``: ``IM-0115-0001.jpeg``, ``IM-0011-0001-0002.jpeg``, ``NORMAL2-IM-0927-0001.jpeg``; the
  patient is the leading ``[NORMAL2-]IM-<n>``.
- ``PNEUMONIA``: ``person1_bacteria_1.jpeg``, ``person1_virus_6.jpeg``, ``person447_virus_921_1.jpeg``;
  the patient is ``person<n>_<pathogen>``. Bacterial and viral cases are numbered separately: the same
  ``person<n>`` under the two pathogens is two children (the publisher's train/test split never
  separates one ``person<n>_<pathogen>`` but separates 170 ``person<n>`` across pathogens, and those
  image pairs are no more alike than random pairs).

Every image is hashed (the set is ~5,900 files, ~1 GB at full resolution, 47 MB resized), so
identical images across splits are found.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from benchmark.data.images import read_image
from benchmark.data.root import find_dataset_dir
from benchmark.data.source import SourceIndex
from benchmark.data.sources import register_source
from benchmark.errors import ConfigError, DataFormatError, DatasetNotFoundError

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
CLASS_DIRS = ("NORMAL", "PNEUMONIA")
POSITIVE = "PNEUMONIA"
NAME_PATTERNS = {
    "NORMAL": re.compile(r"^(?P<patient>(?:NORMAL2-)?IM-\d+)-\d+(?:-\d+)?$"),
    "PNEUMONIA": re.compile(r"^(?P<person>person\d+)_(?P<pathogen>bacteria|virus)_\d+(?:_\d+)?$"),
}
NAME_EXAMPLES = {
    "NORMAL": "IM-0115-0001.jpeg, IM-0011-0001-0002.jpeg or NORMAL2-IM-0927-0001.jpeg",
    "PNEUMONIA": "person1_bacteria_1.jpeg, person1_virus_6.jpeg or person447_virus_921_1.jpeg",
}


def parse_name(class_dir: str, stem: str) -> tuple[str, str] | None:
    """(patient_id, pathogen) from a file stem of ``class_dir``, or None when it follows no known pattern."""
    match = NAME_PATTERNS[class_dir].match(stem)
    if match is None:
        return None
    if class_dir == "NORMAL":
        return match["patient"], "none"
    return f"{match['person']}_{match['pathogen']}", match["pathogen"]


@register_source("kermany")
def index_kermany(root: Path, source: dict[str, Any], labels: list[str], problem: str) -> SourceIndex:
    if problem != "binary" or labels != [POSITIVE]:
        raise ConfigError(f"source kind 'kermany' gives a binary task with labels [{POSITIVE}], not {problem} {labels}")
    folder = source["folder"]
    how = source.get("how_to_get", "obtain the Kermany chest_xray dataset from its publisher")
    base = find_dataset_dir(root, folder, source.get("parent", folder), how) / folder
    rows: list[dict[str, Any]] = []
    optional = set(source.get("optional_folders", []))
    for split_dir, official_split in source["split_folders"].items():
        path = base / split_dir
        if not path.is_dir():
            if split_dir in optional:
                continue
            raise DatasetNotFoundError(
                f"expected the official {split_dir!r} folder {path} (with {' and '.join(CLASS_DIRS)} inside); "
                f"the dataset at {base} is incomplete: {how}"
            )
        rows.extend(_index_split(path, official_split, how))
    if not rows:
        raise DatasetNotFoundError(f"no images under {base}: {how}")

    def load(row: pd.Series) -> Image.Image:
        return read_image(Path(row["location"]))

    return SourceIndex(frame=pd.DataFrame(rows), load=load)


def _index_split(split_dir: Path, official_split: str, how: str) -> list[dict[str, Any]]:
    present = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    unexpected = sorted(set(present) - set(CLASS_DIRS))
    if unexpected:
        raise DataFormatError(
            f"{split_dir} has class folders {unexpected}; this dataset has only {list(CLASS_DIRS)}: "
            f"move {[str(split_dir / name) for name in unexpected]} out of the dataset folder"
        )
    missing = sorted(set(CLASS_DIRS) - set(present))
    if missing:
        raise DatasetNotFoundError(
            f"expected class folders {[str(split_dir / m) for m in missing]}; the dataset is incomplete: {how}"
        )
    base = split_dir.parent
    rows = []
    for class_dir in CLASS_DIRS:
        for path in sorted((split_dir / class_dir).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file() or path.name.startswith("."):
                continue  # .DS_Store and the like
            rows.append(_row(path, base, official_split, class_dir))
    return rows


def _row(path: Path, base: Path, official_split: str, class_dir: str) -> dict[str, Any]:
    parsed = parse_name(class_dir, path.stem)
    if parsed is None:
        raise DataFormatError(
            f"{path}: the file name gives no patient id; {class_dir} images are named like "
            f"{NAME_EXAMPLES[class_dir]}. Restore the publisher's file name, or move the file out of the dataset folder"
        )
    patient_id, pathogen = parsed
    return {
        "image_id": path.relative_to(base).as_posix(),
        "patient_id": patient_id,
        "official_split": official_split,
        "content_hash": hashlib.sha256(path.read_bytes()).hexdigest(),
        "location": str(path),
        POSITIVE: float(class_dir == POSITIVE),
        "pathogen": pathogen,
    }
