"""The training loss a recipe asks for: cross-entropy or BCE, optionally focal and class-weighted."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.io import uses_cross_entropy
from benchmark.recipe import Recipe


def class_weight_tensor(recipe: Recipe, problem: str, targets: torch.Tensor) -> torch.Tensor | None:
    """Inverse-frequency weights from the training targets (scikit-learn's "balanced" rule).

    Cross-entropy: one weight per class, n / (k * n_class). BCE: per-label ``pos_weight``,
    negatives / positives.
    """
    if not recipe.class_weights:
        return None
    known = ~torch.isnan(targets)
    positives = torch.where(known, targets, 0).sum(0).double()
    negatives = known.sum(0).double() - positives
    if not uses_cross_entropy(recipe, problem):
        return (negatives / positives.clamp(min=1)).float()
    counts = torch.stack([negatives[0], positives[0]]) if problem == "binary" else positives
    return (counts.sum() / (len(counts) * counts.clamp(min=1))).float()


class TaskLoss:
    """Cross-entropy or BCE, optionally focal and class-weighted; NaN targets are masked out."""

    def __init__(self, recipe: Recipe, problem: str, train_targets: torch.Tensor, device: torch.device) -> None:
        self.problem = problem
        self.cross_entropy = uses_cross_entropy(recipe, problem)
        self.focal_gamma = recipe.focal_gamma if recipe.loss == "focal" else None
        weight = class_weight_tensor(recipe, problem, train_targets)
        self.weight = weight.to(device) if weight is not None else None

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.cross_entropy:
            index = targets[:, 0].long() if self.problem == "binary" else targets.argmax(dim=1)
            if self.focal_gamma is None:
                return nn.functional.cross_entropy(logits, index, weight=self.weight)
            # focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true) ** gamma
            p_true = torch.softmax(logits, dim=1).gather(1, index[:, None])[:, 0]
            losses = nn.functional.cross_entropy(logits, index, weight=self.weight, reduction="none")
            return ((1 - p_true) ** self.focal_gamma * losses).mean()
        known = ~torch.isnan(targets)
        clean = torch.nan_to_num(targets)
        if self.focal_gamma is None:
            losses = nn.functional.binary_cross_entropy_with_logits(
                logits, clean, pos_weight=self.weight, reduction="none"
            )
        else:
            from torchvision.ops import sigmoid_focal_loss  # here: torchvision.ops imports torch._dynamo (a second)

            losses = sigmoid_focal_loss(logits, clean, alpha=-1, gamma=self.focal_gamma, reduction="none")
            if self.weight is not None:
                losses = losses * (clean * self.weight + (1 - clean))
        return (losses * known).sum() / known.sum().clamp(min=1)
