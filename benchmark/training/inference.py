"""Inference: a trained model on a prepared split -> its logits, or a Predictions table
(see benchmark.metrics.predictions)."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from benchmark.data.prepared import PreparedSplit
from benchmark.metrics.predictions import SCORE_PREFIX, TRUE_PREFIX, prediction_arrays, predictions_frame
from benchmark.models.io import normalise, to_probabilities
from benchmark.recipe import Recipe
from benchmark.training.prefetch import Prefetcher


@torch.no_grad()
def predict_logits(model: nn.Module, split: PreparedSplit, recipe: Recipe, device: torch.device) -> torch.Tensor:
    """The model's (N, outputs) logits on every image of ``split``, in eval mode, on the CPU."""
    model.eval()
    outputs = []
    with Prefetcher(split.batches(recipe.eval_batch_size), device) as batches:  # the next batch gathered meanwhile
        for images, _ in batches:
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                outputs.append(model(normalise(images, recipe, device)).float().cpu())
    return torch.cat(outputs) if outputs else torch.zeros(0)


def predict(
    model: nn.Module, split: PreparedSplit, recipe: Recipe, problem: str, labels: tuple[str, ...], device: torch.device
) -> pd.DataFrame:
    """Scores for every image of ``split`` as a Predictions table."""
    probabilities = to_probabilities(predict_logits(model, split, recipe, device), recipe, problem).numpy()
    return predictions_frame(split.image_ids, split.patient_ids, split.targets.numpy(), probabilities, labels)


__all__ = ["SCORE_PREFIX", "TRUE_PREFIX", "predict", "predict_logits", "prediction_arrays", "predictions_frame"]
