"""Freeze/unfreeze stages: which parameters train in which epoch, from the recipe; and which module is the
classifier (the part that always trains, and that pretrained weights may leave fresh)."""

from __future__ import annotations

from torch import nn

from benchmark.errors import ConfigError
from benchmark.recipe import Recipe

# The attribute ``name_classifier`` sets: the freeze stages and weight loading get the model, not its spec
CLASSIFIER_ATTRIBUTE = "_cxr_classifier"


def name_classifier(model: nn.Module, name: str) -> None:
    """Record that submodule ``name`` is ``model``'s classifier (its ModelSpec's ``classifier``)."""
    try:
        model.get_submodule(name)
    except AttributeError as exc:
        raise ConfigError(f"{type(model).__name__} has no submodule {name!r}, given as its classifier") from exc
    setattr(model, CLASSIFIER_ATTRIBUTE, name)


def classifier(model: nn.Module) -> nn.Module:
    """The model's classifier: the submodule its ModelSpec names (see ``name_classifier``), else, for a
    plugin that does not say, timm's ``get_classifier()`` or a submodule named ``head``."""
    named = getattr(model, CLASSIFIER_ATTRIBUTE, None)
    if named is not None:
        return model.get_submodule(named)
    if hasattr(model, "get_classifier"):
        return model.get_classifier()
    head = getattr(model, "head", None)
    if isinstance(head, nn.Module):
        return head
    raise ConfigError(
        f"{type(model).__name__} has no get_classifier() and no `head` submodule, so its classifier (which the "
        "freeze stages and pretrained weights need) is unknown: name the module `head`, give the model's ModelSpec "
        "a `classifier`, or drop frozen_epochs and weights"
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
