"""Freeze/unfreeze stages: which parameters train in which epoch, from the recipe."""

from __future__ import annotations

from torch import nn

from benchmark.errors import ConfigError
from benchmark.recipe import Recipe


def classifier(model: nn.Module) -> nn.Module:
    """The model's classifier: timm's ``get_classifier()`` or a submodule named ``head``."""
    if hasattr(model, "get_classifier"):
        return model.get_classifier()
    head = getattr(model, "head", None)
    if isinstance(head, nn.Module):
        return head
    raise ConfigError(
        f"{type(model).__name__} has no get_classifier() and no `head` submodule, so its backbone cannot be "
        "frozen; name the classifier `head` or drop frozen_epochs from the recipe"
    )


def apply_stage(model: nn.Module, recipe: Recipe, epoch: int) -> None:
    """Set ``requires_grad`` for ``epoch``: the classifier always trains; the backbone is frozen while
    ``epoch < frozen_epochs`` (always when -1), then its last ``unfreeze_fraction`` of parameters train."""
    if recipe.frozen_epochs == 0:
        return
    head = {id(p) for p in classifier(model).parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head]
    frozen = recipe.frozen_epochs < 0 or epoch < recipe.frozen_epochs
    n_trainable = 0 if frozen else round(recipe.unfreeze_fraction * len(backbone))
    for position, parameter in enumerate(backbone):
        parameter.requires_grad_(position >= len(backbone) - n_trainable)
    for parameter in classifier(model).parameters():
        parameter.requires_grad_(True)


def freeze_batchnorm(model: nn.Module) -> None:
    """Frozen batch-norm layers keep their running statistics, as Keras' non-trainable layers do."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in module.parameters(recurse=False)
        ):
            module.eval()
