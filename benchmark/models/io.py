"""What a model sees and what it gives back: the output head a recipe implies, input normalisation,
and logits as probabilities. Training, inference, saliency and submission checks share these rules."""

from __future__ import annotations

import torch

from benchmark.errors import ConfigError
from benchmark.recipe import Recipe


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def uses_cross_entropy(recipe: Recipe, problem: str) -> bool:
    """Softmax cross-entropy (or its focal form) for binary and multiclass; sigmoid BCE for multilabel."""
    if recipe.loss in ("auto", "focal"):
        return problem != "multilabel"
    if recipe.loss == "cross_entropy" and problem == "multilabel":
        raise ConfigError("loss cross_entropy does not fit a multilabel task; use bce")
    return recipe.loss == "cross_entropy"


def num_outputs(recipe: Recipe, problem: str, n_labels: int) -> int:
    """Binary tasks trained with cross-entropy get two logits (normal, positive), as MedMNIST does."""
    if problem == "binary" and uses_cross_entropy(recipe, problem):
        return 2
    return n_labels


def to_probabilities(logits: torch.Tensor, recipe: Recipe, problem: str) -> torch.Tensor:
    """(N, K) probabilities in the task's label order."""
    if not uses_cross_entropy(recipe, problem):
        return torch.sigmoid(logits)
    probabilities = torch.softmax(logits, dim=1)
    return probabilities[:, 1:] if problem == "binary" else probabilities


def normalise(images: torch.Tensor, recipe: Recipe, device: torch.device) -> torch.Tensor:
    """A uint8 batch (B, 1, H, W) from the prepared cache as the model's float input on ``device``."""
    x = images.to(device, non_blocking=True).float().div_(255.0)
    if x.shape[1] == 1 and recipe.in_chans > 1:  # the cache is grayscale; RGB models see it replicated
        x = x.expand(-1, recipe.in_chans, -1, -1)
    if recipe.normalization == "samplewise":  # Keras' samplewise_center + samplewise_std_normalization
        mean, std = x.mean(dim=(1, 2, 3), keepdim=True), x.std(dim=(1, 2, 3), keepdim=True)
        return (x - mean) / (std + 1e-6)
    mean = torch.tensor(recipe.normalize_mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(recipe.normalize_std, device=device).view(1, -1, 1, 1)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x
