"""Fit's checkpoint: written after every epoch, it holds everything needed to continue a run exactly.

The random draws need no saving: every epoch reseeds them from (seed, epoch), so a run resumed from
its end-of-epoch checkpoint replays what an uninterrupted run does. The file is only valid for
the recipe and seed that wrote it, which it records and checks on restore.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.recipe import Recipe


@dataclass
class TrainingState:
    """What a run has done so far (besides the weights and the optimiser): its epochs and the
    early-stopping bookkeeping."""

    epoch: int = -1
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = float("inf")
    best_epoch: int = -1
    best_model: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    stopped_early: bool = False  # early stopping ended the run: nothing is left to train


@dataclass
class Trainables:
    """The objects whose state the checkpoint holds besides the TrainingState."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any  # a torch LR scheduler, or None where the recipe has none
    scaler: torch.amp.GradScaler


def save_checkpoint(path: Path, state: TrainingState, trainables: Trainables, recipe: Recipe, seed: int) -> None:
    """Write the checkpoint atomically (a partial file renamed into place): a run killed while
    writing keeps its previous epoch's checkpoint."""
    saved_state = copy.copy(state.__dict__)
    best_is_current = state.best_epoch == state.epoch
    if best_is_current:  # the best weights are the model's own: do not write them twice
        saved_state["best_model"] = None
    scheduler = trainables.scheduler
    payload = {
        "best_is_current": best_is_current,
        "state": saved_state,
        "model": trainables.model.state_dict(),
        "optimizer": trainables.optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": trainables.scaler.state_dict(),
        "recipe": recipe.to_dict(),
        "seed": seed,
        "stopped_early": state.stopped_early,  # also in "state"; kept for checkpoints written before it was
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    torch.save(payload, partial)
    os.replace(partial, path)


def restore_checkpoint(path: Path, trainables: Trainables, recipe: Recipe, seed: int) -> TrainingState:
    """Load the checkpoint at ``path`` into ``trainables``; its TrainingState, whose ``epoch`` is the
    last completed one and ``stopped_early`` whether early stopping had ended the run."""
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload["recipe"] != recipe.to_dict() or payload["seed"] != seed:
        raise ConfigError(f"checkpoint {path} belongs to another recipe or seed; run without --resume to start over")
    trainables.model.load_state_dict(payload["model"])
    trainables.optimizer.load_state_dict(payload["optimizer"])
    if trainables.scheduler is not None and payload["scheduler"] is not None:
        trainables.scheduler.load_state_dict(payload["scheduler"])
    trainables.scaler.load_state_dict(payload["scaler"])
    state = TrainingState(**payload["state"])
    if payload["best_is_current"]:
        state.best_model = {k: v.clone() for k, v in payload["model"].items()}
    state.stopped_early = bool(payload["stopped_early"])
    return state
