"""Subgroup metadata for predictions that do not carry it: NIH's sex, age and view position joined by image id.

Tasks built from NIH ChestX-ray14 images without NIH's metadata columns (lung3_64: its npz keeps only
the NIH file name and patient) get them at analysis time from the Data_Entry CSV in the data root,
so the task file, and its hash, stay as they are.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from benchmark.data.root import DATA_ROOT_ENV
from benchmark.data.sources.nih14 import find_data_entry, read_data_entry
from benchmark.errors import DatasetNotFoundError, StatisticsError
from benchmark.stats.subgroups import SUBGROUP_COLUMNS

NIH_IMAGE_ID = re.compile(r"^\d{8}_\d{3}\.png$")  # NIH's file names, e.g. 00000002_000.png


class SubgroupMetadataError(DatasetNotFoundError):
    """The metadata a subgroup analysis needs is not where it was looked for."""


def has_subgroup_columns(predictions: pd.DataFrame) -> bool:
    return any(c in predictions.columns for c in SUBGROUP_COLUMNS)


def is_nih_derived(predictions: pd.DataFrame) -> bool:
    """Every image id is an NIH file name (``00000002_000.png``): NIH's metadata can be joined."""
    ids = predictions["image_id"].astype(str) if "image_id" in predictions else pd.Series([], dtype=str)
    return len(ids) > 0 and bool(ids.str.fullmatch(NIH_IMAGE_ID.pattern).all())


@functools.lru_cache(maxsize=4)
def _data_entry(path: str, mtime_ns: int) -> pd.DataFrame:
    return read_data_entry(Path(path))[["image_id", "patient_id", *SUBGROUP_COLUMNS]]


def nih_metadata(root: Path) -> pd.DataFrame:
    """image_id, patient_id, sex, age (years), view_position of each image in NIH's Data_Entry CSV under ``root``."""
    path = find_data_entry(Path(root))
    return _data_entry(str(path), path.stat().st_mtime_ns)


def join_nih_metadata(
    predictions: pd.DataFrame, entries: pd.DataFrame, origin: str = "the predictions"
) -> pd.DataFrame:
    """``predictions`` with sex, age and view_position of ``entries`` (NIH's Data_Entry) joined by image id.

    An image NIH does not list gets NaN (it is left out of the subgroups). A listed image whose patient
    differs from the predictions' patient_id is an error: the ids would not name the same film.
    """
    columns = entries[["image_id", "patient_id", *SUBGROUP_COLUMNS]].rename(columns={"patient_id": "_nih_patient"})
    joined = predictions.drop(columns=[c for c in SUBGROUP_COLUMNS if c in predictions], errors="ignore").merge(
        columns, on="image_id", how="left", validate="many_to_one"
    )
    if "patient_id" in joined:
        listed = joined["_nih_patient"].notna()
        # NIH writes patient ids without leading zeros in some copies: compare them as numbers where both are.
        ours = pd.to_numeric(joined["patient_id"], errors="coerce")
        theirs = pd.to_numeric(joined["_nih_patient"], errors="coerce")
        same = (ours == theirs) | (joined["patient_id"].astype(str) == joined["_nih_patient"].astype(str))
        wrong = joined[listed & ~same]
        if len(wrong):
            row = wrong.iloc[0]
            raise StatisticsError(
                f"{origin}: image {row['image_id']} is patient {row['patient_id']} there but patient "
                f"{row['_nih_patient']} in NIH's Data_Entry CSV ({len(wrong)} such images); these are not NIH's "
                "images under their NIH names, so NIH's sex, age and view cannot be joined"
            )
    return joined.drop(columns="_nih_patient")


def metadata_roots(data_root: str | os.PathLike[str] | None, recorded: str | None = None) -> list[Path]:
    """Where to look for NIH's CSV, in order: the root named, ``$CXRBENCH_DATA``, the root the run recorded."""
    chosen = [data_root, os.environ.get(DATA_ROOT_ENV), recorded]
    return list(dict.fromkeys(Path(c).expanduser() for c in chosen if c))


def with_subgroup_metadata(
    predictions: pd.DataFrame, roots: Sequence[Path], origin: str = "the predictions"
) -> pd.DataFrame | None:
    """The predictions with subgroup columns: as they are when they carry them, NIH's joined for NIH file
    names (from the first of ``roots`` that holds the Data_Entry CSV), None when no metadata applies.

    Raises SubgroupMetadataError when NIH's CSV is needed and none of ``roots`` holds it.
    """
    if has_subgroup_columns(predictions):
        return predictions
    if not is_nih_derived(predictions):
        return None
    for root in roots:
        try:
            return join_nih_metadata(predictions, nih_metadata(root), origin)
        except DatasetNotFoundError:
            continue
    tried = ", ".join(str(r) for r in roots) or "no data root"
    raise SubgroupMetadataError(
        f"{origin}: subgroups of NIH images need NIH's Data_Entry_2017_v2020.csv(.gz) (sex, age, view position), "
        f"found under none of: {tried}. Pass --data-root DIR or set {DATA_ROOT_ENV}=DIR, where DIR or DIR/nih14 "
        "holds the CSV"
    )
