"""The optimiser and the learning-rate schedule a recipe asks for."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from benchmark.recipe import Recipe


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    params = list(model.parameters())  # frozen ones too: a later stage may unfreeze them (no grad, no step)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)


def scheduled_lr(recipe: Recipe, epoch: int) -> float | None:
    """The learning rate of ``epoch`` where the recipe fixes it per epoch (ramp-up schedule,
    fine-tuning stage); None where a torch scheduler (or nothing) drives it."""
    if recipe.frozen_epochs >= 0 and epoch >= recipe.frozen_epochs > 0 and recipe.finetune_lr is not None:
        low = recipe.finetune_lr_min if recipe.finetune_lr_min is not None else recipe.finetune_lr
        span = max(1, recipe.epochs - recipe.frozen_epochs - 1)
        return recipe.finetune_lr * (low / recipe.finetune_lr) ** (min(epoch - recipe.frozen_epochs, span) / span)
    if recipe.schedule == "rampup_exp":
        if epoch < recipe.rampup_epochs:
            return recipe.lr_start + (recipe.lr_max - recipe.lr_start) * epoch / recipe.rampup_epochs
        decay_epochs = epoch - recipe.rampup_epochs - recipe.sustain_epochs
        if decay_epochs < 0:
            return recipe.lr_max
        return recipe.lr_min + (recipe.lr_max - recipe.lr_min) * recipe.exp_decay**decay_epochs
    return None


def set_scheduled_lr(optimizer: torch.optim.Optimizer, recipe: Recipe, epoch: int) -> None:
    """At the start of ``epoch``: the recipe's per-epoch learning rate, where it fixes one."""
    if (lr := scheduled_lr(recipe, epoch)) is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> Any:
    if recipe.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=recipe.plateau_factor, patience=recipe.plateau_patience
        )
    if recipe.schedule == "multistep":
        milestones = [max(1, round(f * recipe.epochs)) for f in recipe.milestones]
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=recipe.gamma)
    return None


def step_scheduler(scheduler: Any, val_loss: float) -> None:
    """At the end of an epoch: ReduceLROnPlateau steps on the validation loss, the others on the epoch."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    elif scheduler is not None:
        scheduler.step()
