"""Predictions: one row per test image, the only thing that crosses from training to evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from benchmark.data.prepared import PreparedSplit
from benchmark.recipe import Recipe
from benchmark.training import predict_logits, to_probabilities

TRUE_PREFIX = "true:"
SCORE_PREFIX = "score:"


def predict(
    model: nn.Module, split: PreparedSplit, recipe: Recipe, problem: str, labels: tuple[str, ...], device: torch.device
) -> pd.DataFrame:
    """Scores for every image of ``split`` as a Predictions table."""
    probabilities = to_probabilities(predict_logits(model, split, recipe, device), recipe, problem).numpy()
    return predictions_frame(split.image_ids, split.patient_ids, split.targets.numpy(), probabilities, labels)


def predictions_frame(
    image_ids: list[str], patient_ids: list[str], y_true: np.ndarray, y_score: np.ndarray, labels: tuple[str, ...]
) -> pd.DataFrame:
    frame = pd.DataFrame({"image_id": image_ids, "patient_id": patient_ids})
    for k, label in enumerate(labels):
        frame[TRUE_PREFIX + label] = y_true[:, k].astype(np.float64)
    for k, label in enumerate(labels):
        frame[SCORE_PREFIX + label] = y_score[:, k].astype(np.float64)
    return frame


def prediction_arrays(frame: pd.DataFrame, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_score) as (n, K) float arrays in label order."""
    y_true = frame[[TRUE_PREFIX + label for label in labels]].to_numpy(dtype=np.float64)
    y_score = frame[[SCORE_PREFIX + label for label in labels]].to_numpy(dtype=np.float64)
    return y_true, y_score
