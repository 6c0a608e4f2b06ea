"""Turning a dataset's images into the task's pinned train/val/test split.

Exact duplicates (identical content) across splits are resolved in favour of the
evaluation side: a training image identical to a test image is removed from training,
never the other way round. Every removal is listed in the split report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from benchmark.data.source import SPLITS
from benchmark.errors import ConfigError

# Which split wins when the same content sits in two: test first, then val.
_PRIORITY = {"test": 0, "val": 1, "train": 2}


@dataclass
class SplitReport:
    counts: dict[str, int]
    removed_duplicates: list[dict[str, str]] = field(default_factory=list)
    within_split_duplicates: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "removed_cross_split_duplicates": self.removed_duplicates,
            "within_split_duplicates": self.within_split_duplicates,
        }


def split_sha256(frame: pd.DataFrame) -> str:
    """sha256 of the canonical listing: one ``image_id<TAB>split`` line per image, sorted by id."""
    lines = sorted(f"{i}\t{s}\n" for i, s in zip(frame["image_id"], frame["split"], strict=True))
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def split_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {s: int((frame["split"] == s).sum()) for s in SPLITS}


def apply_split_rule(frame: pd.DataFrame, rule: dict[str, Any], labels: list[str]) -> tuple[pd.DataFrame, SplitReport]:
    """Assign ``split`` to every row by ``rule`` and drop cross-split duplicates."""
    frame = frame.copy()
    kind = rule["rule"]
    if kind == "official":
        frame["split"] = frame["official_split"]
        frame, removed = _drop_cross_split_duplicates(frame)
    elif kind == "carve_val_from_train":
        frame["split"] = frame["official_split"]
        frame, removed = _drop_cross_split_duplicates(frame)
        frame = _carve_validation(frame, rule, labels)
    else:
        raise ConfigError(f"unknown split rule {kind!r}; known: official, carve_val_from_train")
    frame = frame.sort_values("image_id", kind="stable").reset_index(drop=True)
    report = SplitReport(split_counts(frame), removed, _within_split_duplicates(frame))
    return frame, report


def _drop_cross_split_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    rank = frame["split"].map(_PRIORITY)
    keeper = frame.assign(_rank=rank).sort_values(["_rank", "image_id"]).drop_duplicates("content_hash")
    winning_split = dict(zip(keeper["content_hash"], keeper["split"], strict=True))
    winning_id = dict(zip(keeper["content_hash"], keeper["image_id"], strict=True))
    lost = frame["split"] != frame["content_hash"].map(winning_split)
    removed = [
        {
            "image_id": row.image_id,
            "split": row.split,
            "duplicate_of": winning_id[row.content_hash],
            "duplicate_split": winning_split[row.content_hash],
        }
        for row in frame[lost].itertuples()
    ]
    return frame[~lost].copy(), removed


def _carve_validation(frame: pd.DataFrame, rule: dict[str, Any], labels: list[str]) -> pd.DataFrame:
    """Move ``val_fraction`` of train into val, stratified by label, grouped by patient and content.

    Identical images and images of one patient always land on the same side.
    """
    train = frame[frame["split"] == "train"]
    group_key = train["content_hash"].map(_content_group(train))
    groups = train.assign(_group=group_key).drop_duplicates("_group")
    strata = groups[labels].to_numpy().argmax(axis=1) if rule.get("stratify", True) else None
    _, val_groups = train_test_split(
        groups["_group"].to_numpy(),
        test_size=float(rule["val_fraction"]),
        random_state=int(rule["seed"]),
        stratify=strata,
    )
    is_val = group_key.isin(set(val_groups))
    frame.loc[is_val[is_val].index, "split"] = "val"
    return frame


def _content_group(train: pd.DataFrame) -> dict[str, str]:
    """Map each content hash to the patient of its first image, so a patient's images and
    identical images share a group (exact for one-image patients, which covers duplicates)."""
    first = train.sort_values("image_id").drop_duplicates("content_hash")
    return dict(zip(first["content_hash"], first["patient_id"], strict=True))


def _within_split_duplicates(frame: pd.DataFrame) -> list[dict[str, str]]:
    dup = frame[frame.duplicated("content_hash", keep=False)].sort_values("image_id")
    out = []
    for _, members in dup.groupby("content_hash", sort=False):
        ids = members["image_id"].tolist()
        out.append({"split": members["split"].iloc[0], "image_ids": ", ".join(ids)})
    return sorted(out, key=lambda d: d["image_ids"])
