"""Inference: a trained model on a prepared split -> a Predictions table (see benchmark.metrics.predictions)."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from benchmark.data.prepared import PreparedSplit
from benchmark.metrics.predictions import SCORE_PREFIX, TRUE_PREFIX, prediction_arrays, predictions_frame
from benchmark.recipe import Recipe
from benchmark.training.loop import predict_logits, to_probabilities


def predict(
    model: nn.Module, split: PreparedSplit, recipe: Recipe, problem: str, labels: tuple[str, ...], device: torch.device
) -> pd.DataFrame:
    """Scores for every image of ``split`` as a Predictions table."""
    probabilities = to_probabilities(predict_logits(model, split, recipe, device), recipe, problem).numpy()
    return predictions_frame(split.image_ids, split.patient_ids, split.targets.numpy(), probabilities, labels)


__all__ = ["SCORE_PREFIX", "TRUE_PREFIX", "predict", "prediction_arrays", "predictions_frame"]
