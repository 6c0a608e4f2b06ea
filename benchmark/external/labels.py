"""An external set's images with the task's labels: its label map applied to the source's frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from benchmark.external.spec import UNMATCHED, ExternalSet, binary_class_names

CLASS_COLUMN = "external_class"


@dataclass
class MappedFrame:
    """``frame``: the images kept, with one column per task label (NaN = not scored) and, for
    binary/multiclass tasks, their external class. ``left_out``: images left out, by external class."""

    frame: pd.DataFrame
    class_counts: dict[str, int] = field(default_factory=dict)  # every image of the split, by external class
    left_out: dict[str, int] = field(default_factory=dict)
    unmapped_labels: list[str] = field(default_factory=list)  # multilabel: source columns not scored
    scored_labels: list[str] = field(default_factory=list)  # task labels with truth on this set


def external_classes(frame: pd.DataFrame, spec: ExternalSet) -> pd.Series:
    """The external class of each row: the first rule that matches, or the one-hot source column."""
    if not spec.classes:
        values = frame[list(spec.source_labels)].to_numpy(dtype=np.float64)
        one = (np.nan_to_num(values) == 1).sum(axis=1) == 1
        names = np.array(spec.source_labels, dtype=object)[np.nan_to_num(values).argmax(axis=1)]
        return pd.Series(np.where(one, names, UNMATCHED), index=frame.index, dtype=object)
    classes = pd.Series(UNMATCHED, index=frame.index, dtype=object)
    open_rows = pd.Series(True, index=frame.index)
    for rule in spec.classes:
        match = open_rows.copy()
        for column, value in rule.where:
            match &= _equals(frame[column], value)
        if rule.name_contains is not None:
            match &= frame["image_id"].astype(str).str.contains(rule.name_contains, regex=False)
        classes[match] = rule.name
        open_rows &= ~match
    return classes


def _equals(column: pd.Series, value: Any) -> pd.Series:
    if isinstance(value, bool | int | float) and pd.api.types.is_numeric_dtype(column):
        return column.astype(float) == float(value)
    return column.astype(str) == str(value)


def apply_label_map(
    frame: pd.DataFrame, spec: ExternalSet, problem: str, labels: tuple[str, ...], class_names: tuple[str, ...] = ()
) -> MappedFrame:
    """The rows of ``frame`` (one official split of the source) with the task's label columns.

    Binary and multiclass tasks: each image's external class is mapped onto a task class; images of classes
    mapped to null, absent from the map, or matched by no rule are left out and counted. Multilabel tasks:
    mapped source columns become task label columns, the other task labels are NaN (not scored).
    """
    label_map = spec.label_map or {}
    base = frame[[c for c in frame.columns if c not in labels]].copy()
    if problem == "multilabel":
        mapped = {target: source for source, target in label_map.items() if target is not None}
        for label in labels:
            base[label] = frame[mapped[label]].astype(float) if label in mapped else np.nan
        scored = [label for label in labels if label in mapped]
        unmapped = [s for s in spec.source_labels if label_map.get(s) is None]
        return MappedFrame(base.reset_index(drop=True), unmapped_labels=unmapped, scored_labels=scored)
    classes = external_classes(frame, spec)
    targets = classes.map(lambda c: label_map.get(c))
    keep = targets.notna()
    counts = {str(k): int(v) for k, v in classes.value_counts().sort_index().items()}
    left_out = {str(k): int(v) for k, v in classes[~keep].value_counts().sort_index().items()}
    base = base[keep.to_numpy()].copy()
    kept = targets[keep]
    base[CLASS_COLUMN] = classes[keep].to_numpy()
    if problem == "binary":
        _negative, positive = binary_class_names(labels, class_names)
        base[labels[0]] = kept.isin([positive, labels[0]]).astype(float).to_numpy()
        scored = [labels[0]]
    else:
        for label in labels:
            base[label] = (kept == label).astype(float).to_numpy()
        scored = [label for label in labels if (kept == label).any()]
    return MappedFrame(base.reset_index(drop=True), counts, left_out, scored_labels=scored)
