"""CheXpert as Stanford distributes it: ``CheXpert-v1.0-small/{train,valid}.csv`` plus image folders.

Each CSV row is one image; its ``Path`` (e.g. ``CheXpert-v1.0-small/train/patient00001/study1/
view1_frontal.jpg``) is relative to the folder that contains ``CheXpert-v1.0-small``. Labels are
1 (positive), 0 (negative), -1 (uncertain) or blank (not mentioned in the report). Blanks are
negative; the task's ``uncertainty`` policy decides what -1 becomes. ``train.csv`` is the official
training set and ``valid.csv`` (radiologist consensus, no uncertain labels) the official test set.
Indexing reads only the CSVs; images are opened when a row is decoded.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.data.images import read_image
from benchmark.data.root import find_dataset_dir
from benchmark.data.source import SourceIndex
from benchmark.data.sources import register_source
from benchmark.errors import ConfigError, DataFormatError, DatasetNotFoundError

FOLDER = "CheXpert-v1.0-small"
HOW_TO_GET = (
    "download CheXpert-v1.0-small (Stanford AIMI's CheXpert page after accepting its research use agreement, "
    "or the Kaggle dataset ashery/chexpert) and unpack it so that DIR/CheXpert-v1.0-small/train.csv, "
    "valid.csv, train/ and valid/ exist; then pass --data-root DIR"
)
# What an uncertain (-1) label becomes; blank (not mentioned) is always 0.
UNCERTAINTY = {"u_zeros": 0.0, "u_ones": 1.0, "u_ignore": math.nan}
CSV_SPLITS = {"train.csv": "train", "valid.csv": "test"}
# CSV column -> frame column; every one of them is required.
METADATA = {"Sex": "sex", "Age": "age", "Frontal/Lateral": "view", "AP/PA": "view_position"}
_RAW_VALUES = {"1": 1.0, "1.0": 1.0, "0": 0.0, "0.0": 0.0, "-1": -1.0, "-1.0": -1.0}
_PATH_PATTERN = r"^[^/]+/(?:train|valid)/(?P<patient>patient\d+)/(?P<study>study\d+)/[^/]+$"
_SOURCE_KEYS = {"kind", "folder", "parent", "how_to_get", "uncertainty", "frontal_only"}


@register_source("chexpert")
def index_chexpert(root: Path, source: dict[str, Any], labels: list[str], problem: str) -> SourceIndex:
    policy, frontal_only = _options(source)
    base = _dataset_dir(root, source)
    frames = [
        _read_csv(base / name, split, labels, policy, frontal_only, base.parent) for name, split in CSV_SPLITS.items()
    ]
    frame = pd.concat(frames, ignore_index=True)
    repeated = frame["image_id"][frame["image_id"].duplicated()]
    if len(repeated):
        raise DataFormatError(
            f"{base}: image {repeated.iloc[0]!r} is listed more than once in train.csv/valid.csv; "
            "restore the CSVs from the original download"
        )

    def load(row: pd.Series) -> Image.Image:
        return read_image(Path(row["location"]))

    return SourceIndex(frame=frame, load=load)


def _options(source: dict[str, Any]) -> tuple[float, bool]:
    unknown = sorted(set(source) - _SOURCE_KEYS)
    if unknown:
        raise ConfigError(f"source keys {unknown} are not CheXpert options; known: {sorted(_SOURCE_KEYS)}")
    policy = source.get("uncertainty", "u_zeros")
    if policy not in UNCERTAINTY:
        raise ConfigError(
            f"source.uncertainty {policy!r} is not a CheXpert uncertainty policy; allowed: {', '.join(UNCERTAINTY)} "
            "(u_zeros: uncertain -> 0, u_ones: uncertain -> 1, u_ignore: uncertain -> unknown, masked)"
        )
    frontal_only = source.get("frontal_only", True)
    if not isinstance(frontal_only, bool):
        raise ConfigError(f"source.frontal_only must be true or false, got {frontal_only!r}")
    return UNCERTAINTY[policy], frontal_only


def _dataset_dir(root: Path, source: dict[str, Any]) -> Path:
    """``CheXpert-v1.0-small`` itself, whether ``root`` holds it, its parent folder holds it, or it is ``root``."""
    folder = source.get("folder", FOLDER)
    how = source.get("how_to_get", HOW_TO_GET)
    if root.name == folder and (root / "train.csv").exists():
        base = root
    else:
        base = find_dataset_dir(root, folder, source.get("parent", "chexpert"), how) / folder
    missing = [str(base / name) for name in CSV_SPLITS if not (base / name).is_file()]
    if missing:
        raise DatasetNotFoundError(f"expected {missing}; the dataset at {base} is incomplete: {how}")
    return base


def _read_csv(
    path: Path, split: str, labels: list[str], uncertain: float, frontal_only: bool, image_root: Path
) -> pd.DataFrame:
    """One row per image listed in ``path``, labels mapped by the uncertainty policy."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values={name: [""] for name in labels})
    missing = [c for c in ("Path", *METADATA, *labels) if c not in raw.columns]
    if missing:
        raise DataFormatError(
            f"{path} lacks the columns {missing} (has {list(raw.columns)}); "
            "it is not a CheXpert label file: restore it from the original download"
        )
    # Every row is checked, lateral ones included, before any is dropped.
    ids = _parse_paths(path, raw)
    frame = pd.DataFrame(
        {
            "image_id": ids["image_id"],
            "patient_id": ids["patient"],
            "official_split": split,
            "content_hash": None,
            "location": (f"{image_root}/" + raw["Path"]).to_numpy(),
        }
    )
    for label in labels:
        values = _label_values(path, raw, label)
        frame[label] = np.where(values == -1.0, uncertain, np.nan_to_num(values, nan=0.0))
    frame["study_id"] = ids["patient"] + "/" + ids["study"]
    for column, name in METADATA.items():
        frame[name] = raw[column].to_numpy()
    frame["age"] = pd.to_numeric(frame["age"], errors="coerce")
    if frontal_only:
        frame = frame[frame["view"] == "Frontal"]
    return frame.reset_index(drop=True)


def _parse_paths(path: Path, raw: pd.DataFrame) -> pd.DataFrame:
    """Patient and study from ``<release>/<train|valid>/patientNNNNN/studyN/<view>.jpg``."""
    parts = raw["Path"].str.extract(_PATH_PATTERN)
    bad = parts["patient"].isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}: row {row + 1} (line {row + 2}) has Path {raw['Path'].iloc[row]!r}, "
            "expected <release>/<train|valid>/patientNNNNN/studyN/<view>.jpg; "
            "restore the CSV from the original download"
        )
    # The id drops the release folder, so the small and full-size releases name an image alike.
    parts["image_id"] = raw["Path"].str.partition("/")[2]
    return parts.reset_index(drop=True)


def _label_values(path: Path, raw: pd.DataFrame, label: str) -> np.ndarray:
    """1.0 / 0.0 / -1.0 / NaN (blank) for one label column; anything else is a DataFormatError."""
    column = raw[label]
    values = column.str.strip().map(_RAW_VALUES)
    bad = (values.isna() & column.notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}: row {row + 1} (line {row + 2}) has {label!r} = {column.iloc[row]!r}; "
            "CheXpert labels are 1, 0, -1 (uncertain) or blank: restore the CSV from the original download"
        )
    return values.to_numpy(dtype=np.float64)
