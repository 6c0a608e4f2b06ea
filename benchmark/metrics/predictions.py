"""The Predictions table: one row per test image, the only thing that crosses from training to evaluation.

Columns: ``image_id``, ``patient_id``, ``true:<label>`` (float, NaN = unknown) and ``score:<label>``
for each task label, plus any metadata columns the task keeps (age, sex, view_position...).
This module needs no torch, so statistics on saved predictions stay light.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE_PREFIX = "true:"
SCORE_PREFIX = "score:"


def predictions_frame(
    image_ids: list[str], patient_ids: list[str], y_true: np.ndarray, y_score: np.ndarray, labels: tuple[str, ...]
) -> pd.DataFrame:
    frame = pd.DataFrame({"image_id": image_ids, "patient_id": patient_ids})
    for k, label in enumerate(labels):
        frame[TRUE_PREFIX + label] = y_true[:, k].astype(np.float64)
    for k, label in enumerate(labels):
        frame[SCORE_PREFIX + label] = y_score[:, k].astype(np.float64)
    return frame


def prediction_labels(frame: pd.DataFrame) -> tuple[str, ...]:
    """The labels of a Predictions table, in column order of its ``true:`` columns."""
    return tuple(c[len(TRUE_PREFIX) :] for c in frame.columns if str(c).startswith(TRUE_PREFIX))


def prediction_arrays(frame: pd.DataFrame, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_score) as (n, K) float arrays in label order."""
    y_true = frame[[TRUE_PREFIX + label for label in labels]].to_numpy(dtype=np.float64)
    y_score = frame[[SCORE_PREFIX + label for label in labels]].to_numpy(dtype=np.float64)
    return y_true, y_score
