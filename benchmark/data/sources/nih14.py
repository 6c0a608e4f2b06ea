"""NIH ChestX-ray14 as distributed: ``Data_Entry_2017[_v2020].csv[.gz]``, the official
``train_val_list.txt`` / ``test_list.txt``, and PNGs in ``images/`` or ``images_0NN/images/``.

Indexing reads only the metadata and lists the image folders once; an image the metadata
names but the folders lack is fine until it is decoded (then DatasetNotFoundError names it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from benchmark.data.images import read_image
from benchmark.data.source import SourceIndex
from benchmark.data.sources import register_source
from benchmark.errors import ConfigError, DataFormatError, DatasetNotFoundError

FINDINGS = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
NO_FINDING = "No Finding"
DEFAULT_FOLDER = "nih14"
# v2020 (corrected ages) first: when both releases are present, it wins.
CSV_NAMES = (
    "Data_Entry_2017_v2020.csv",
    "Data_Entry_2017_v2020.csv.gz",
    "Data_Entry_2017.csv",
    "Data_Entry_2017.csv.gz",
)
BBOX_NAMES = ("BBox_List_2017.csv", "BBox_List_2017.csv.gz")
LIST_FILES = {"train": "train_val_list.txt", "test": "test_list.txt"}
HOW_TO_GET = (
    "download ChestX-ray14 from https://nihcc.app.box.com/v/ChestXray-NIHCC "
    "(Data_Entry_2017_v2020.csv, train_val_list.txt, test_list.txt, and the images_NNN.tar.gz archives "
    "unpacked into images/) or Kaggle's nih-chest-xrays/data (images_0NN/images/)"
)
# Canonical column -> the normalised spellings used by the releases (2017: "Patient Gender",
# NIH's v2020 box file: "Patient Sex"; some copies end the header with a trailing comma).
COLUMN_ALIASES = {
    "image_id": ("Image Index", "imageindex"),
    "findings": ("Finding Labels", "findinglabels", "findinglabel"),
    "follow_up": ("Follow-up #", "followup", "followupnumber"),
    "patient_id": ("Patient ID", "patientid"),
    "age": ("Patient Age", "patientage", "age"),
    "sex": ("Patient Gender", "patientgender", "patientsex", "gender", "sex"),
    "view_position": ("View Position", "viewposition"),
}  # canonical -> (NIH's 2017 spelling, normalised spellings)
METADATA = ("age", "sex", "view_position", "follow_up")
# The box list spells one finding differently from Data_Entry.
BBOX_LABEL_FIXES = {"Infiltrate": "Infiltration"}
_AGE_UNITS = {"Y": 1.0, "M": 1.0 / 12.0, "D": 1.0 / 365.0}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _find_file(root: Path, names: tuple[str, ...], folder: str) -> Path:
    """The first of ``names`` found in ``root`` or ``root/folder`` (find_dataset_dir for several markers)."""
    for name in names:
        for candidate in (root, root / folder):
            if (candidate / name).is_file():
                return candidate / name
    raise DatasetNotFoundError(f"expected one of {list(names)} under {root} or {root / folder}; {HOW_TO_GET}")


def find_data_entry(root: Path, folder: str = DEFAULT_FOLDER) -> Path:
    """The Data_Entry CSV under ``root`` (the NIH folder itself or a parent holding ``folder``)."""
    return _find_file(root, CSV_NAMES, folder)


def read_data_entry(path: Path) -> pd.DataFrame:
    """Data_Entry as a frame with the canonical columns of COLUMN_ALIASES, whichever release it is.

    ``age`` is in years (float; the 2017 release writes "058Y"); ``patient_id`` and the
    other text columns are kept as written.
    """
    # index_col=False: a header and rows that disagree on a trailing comma must not shift columns.
    raw = pd.read_csv(path, dtype=str, index_col=False, keep_default_na=False)
    by_key = {_normalise(column): column for column in raw.columns}
    columns: dict[str, str] = {}
    for canonical, (spelling, *aliases) in COLUMN_ALIASES.items():
        found = next((by_key[a] for a in aliases if a in by_key), None)
        if found is None:
            raise DataFormatError(
                f"{path} lacks the column {spelling!r}; it has {list(raw.columns)}. "
                f"It is not NIH's Data_Entry file or is truncated: {HOW_TO_GET}"
            )
        columns[canonical] = found
    frame = pd.DataFrame({canonical: raw[column].str.strip() for canonical, column in columns.items()})
    frame["age"] = _parse_age(frame["age"])
    frame["follow_up"] = pd.to_numeric(frame["follow_up"], errors="coerce")
    duplicated = frame["image_id"][frame["image_id"].duplicated()]
    if len(duplicated):
        raise DataFormatError(f"{path} lists image {duplicated.iloc[0]} more than once; {HOW_TO_GET}")
    return frame


def _parse_age(values: pd.Series) -> pd.Series:
    """Years as a float: "58" (v2020), "058Y", "006M", "012D" (2017); anything else NaN."""
    years = pd.to_numeric(values, errors="coerce")
    coded = years.isna()
    if coded.any():
        parts = values[coded].str.upper().str.extract(r"^(\d+(?:\.\d+)?)\s*([YMD])$")
        years[coded] = pd.to_numeric(parts[0], errors="coerce") * parts[1].map(_AGE_UNITS).astype(float)
    return years.astype(float)


def label_matrix(entries: pd.DataFrame, labels: list[str], path: Path) -> pd.DataFrame:
    """One 1.0/0.0 column per task label from ``Finding Labels``; a finding outside ``labels`` is an error."""
    dummies = entries["findings"].str.replace(r"\s*\|\s*", "|", regex=True).str.get_dummies(sep="|")
    unknown = sorted(set(dummies.columns) - set(labels))
    if unknown:
        example = entries["image_id"][dummies[unknown[0]] == 1].iloc[0]
        raise DataFormatError(
            f"{path}: Finding Labels has {unknown} (e.g. image {example}), not among this task's labels {labels}; "
            "the file is not NIH's Data_Entry file or was edited"
        )
    empty = entries["image_id"][dummies.sum(axis=1) == 0]
    if len(empty):
        raise DataFormatError(f"{path}: image {empty.iloc[0]} has no Finding Labels (NIH writes 'No Finding')")
    return dummies.reindex(columns=labels, fill_value=0).astype(float)


def read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetNotFoundError(f"expected the official split list {path}; {HOW_TO_GET}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def official_splits(base: Path, image_ids: pd.Series, csv_path: Path) -> pd.Series:
    """``train`` (train_val_list.txt) or ``test`` (test_list.txt) for each image of the CSV."""
    split_of: dict[str, str] = {}
    known = set(image_ids)
    for split, name in LIST_FILES.items():
        listed = read_list(base / name)
        absent = [i for i in listed if i not in known]
        if absent:
            raise DataFormatError(
                f"{base / name} lists {len(absent)} image(s) absent from {csv_path.name} (e.g. {absent[0]}); "
                "the list files and the CSV come from different releases"
            )
        twice = [i for i in listed if i in split_of]
        if twice:
            raise DataFormatError(f"{base / name}: image {twice[0]} is also in {LIST_FILES[split_of[twice[0]]]}")
        split_of.update(dict.fromkeys(listed, split))
    splits = image_ids.map(split_of)
    unlisted = image_ids[splits.isna()]
    if len(unlisted):
        raise DataFormatError(
            f"{csv_path} has {len(unlisted)} images in neither {list(LIST_FILES.values())} (e.g. {unlisted.iloc[0]}); "
            "the list files and the CSV come from different releases"
        )
    return splits


def scan_images(base: Path) -> dict[str, str]:
    """File name -> path of every PNG in ``images/`` and ``images_NNN/images/`` (one listing per folder)."""
    folders = [base / "images", *sorted(p / "images" for p in base.glob("images_[0-9][0-9][0-9]"))]
    found: dict[str, str] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(".png"):
                    found.setdefault(entry.name, entry.path)
    return found


def image_locations(base: Path, image_ids: pd.Series) -> list[str]:
    """Where each image is; an image not found is expected in the flat ``images/`` folder."""
    found = scan_images(base)
    expected = f"{base / 'images'}{os.sep}"
    return [found.get(i) or expected + i for i in image_ids]


def _load(row: pd.Series) -> Image.Image:
    return read_image(Path(row["location"]))


@register_source("nih14")
def index_nih14(root: Path, source: dict[str, Any], labels: list[str], problem: str) -> SourceIndex:
    if problem != "multilabel":
        raise ConfigError(f"source kind nih14 gives multilabel targets; the task's problem is {problem!r}")
    csv_path = find_data_entry(root, source.get("folder", DEFAULT_FOLDER))
    base = csv_path.parent
    entries = read_data_entry(csv_path)
    targets = label_matrix(entries, labels, csv_path)
    ids = entries["image_id"]
    frame = pd.DataFrame(
        {
            "image_id": ids,
            "patient_id": entries["patient_id"],
            "official_split": official_splits(base, ids, csv_path),
            "content_hash": None,  # 112k full-size PNGs are not hashed at load time
            "location": image_locations(base, ids),
        }
    )
    frame = pd.concat([frame, targets, entries[list(METADATA)]], axis=1)
    return SourceIndex(frame=frame, load=_load)


def read_nih_boxes(root: Path, folder: str = DEFAULT_FOLDER) -> pd.DataFrame:
    """NIH's ``BBox_List_2017.csv``: one row per box (image_id, label, x, y, w, h) in pixels of the
    1024x1024 image. Labels use Data_Entry's spelling (the box list's "Infiltrate" becomes "Infiltration")."""
    path = _find_file(root, BBOX_NAMES, folder)
    raw = pd.read_csv(path, dtype=str, index_col=False, keep_default_na=False)
    keys = [_normalise(c) for c in raw.columns[:3]]
    if len(raw.columns) < 6 or keys[:2] != ["imageindex", "findinglabel"] or not keys[2].startswith("bbox"):
        raise DataFormatError(
            f"{path} does not start with the columns 'Image Index,Finding Label,Bbox [x,y,w,h]' "
            f"(has {list(raw.columns)}); it is not NIH's box list: {HOW_TO_GET}"
        )
    boxes = pd.DataFrame({"image_id": raw.iloc[:, 0].str.strip(), "label": raw.iloc[:, 1].str.strip()})
    boxes["label"] = boxes["label"].replace(BBOX_LABEL_FIXES)
    for position, name in enumerate(("x", "y", "w", "h"), start=2):
        boxes[name] = pd.to_numeric(raw.iloc[:, position], errors="coerce")
    bad = boxes[boxes[["x", "y", "w", "h"]].isna().any(axis=1)]
    if len(bad):
        raise DataFormatError(f"{path}: the box of image {bad['image_id'].iloc[0]} is not four numbers")
    return boxes
