"""One plain PyTorch training loop, driven entirely by a Recipe.

Determinism: every epoch reseeds dropout and shuffling from (seed, epoch), so a run
resumed from its end-of-epoch checkpoint replays exactly what an uninterrupted run does.

Data parallel: inside an initialised torch.distributed group (Ray Train's TorchTrainer) the
same loop runs on every rank: each rank trains on its share of the same seeded permutation
with DDP averaging the gradients, and rank 0 validates (its scores decide for all ranks),
checkpoints and reports. Outside a group it is the plain single-process loop.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import sigmoid_focal_loss
from tqdm.auto import tqdm

from benchmark.data.prepared import PreparedSplit
from benchmark.errors import ConfigError
from benchmark.metrics.registry import weighted_auroc
from benchmark.models.freeze import apply_stage, freeze_batchnorm
from benchmark.recipe import Recipe
from benchmark.training.augment import build_augmenter
from benchmark.training.ddp import Replicas, current_world

log = logging.getLogger(__name__)

BatchHook = Callable[[int, int], None]
EpochHook = Callable[[int, dict[str, float], Path | None], None]
"""``on_epoch(epoch, row, checkpoint)`` after every epoch: its history row (train loss, lr, validation
scores) and the checkpoint just written (None on data-parallel ranks other than 0, which write none)."""


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    resumed_from_epoch: int | None = None
    seconds: float = 0.0


@dataclass
class _State:
    """Everything a checkpoint must hold to continue a run exactly."""

    epoch: int = -1
    history: list[dict[str, float]] = field(default_factory=list)
    best_score: float = float("inf")
    best_epoch: int = -1
    best_model: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0


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
            losses = sigmoid_focal_loss(logits, clean, alpha=-1, gamma=self.focal_gamma, reduction="none")
            if self.weight is not None:
                losses = losses * (clean * self.weight + (1 - clean))
        return (losses * known).sum() / known.sum().clamp(min=1)


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


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> Any:
    if recipe.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=recipe.plateau_factor, patience=recipe.plateau_patience
        )
    if recipe.schedule == "multistep":
        milestones = [max(1, round(f * recipe.epochs)) for f in recipe.milestones]
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=recipe.gamma)
    return None


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63)


@torch.no_grad()
def predict_logits(model: nn.Module, split: PreparedSplit, recipe: Recipe, device: torch.device) -> torch.Tensor:
    model.eval()
    outputs = []
    for images, _ in split.batches(recipe.eval_batch_size):
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            outputs.append(model(normalise(images, recipe, device)).float().cpu())
    return torch.cat(outputs) if outputs else torch.zeros(0)


def _validation_scores(
    model: nn.Module, val: PreparedSplit, recipe: Recipe, problem: str, loss_fn: TaskLoss, device: torch.device
) -> dict[str, float]:
    logits = predict_logits(model, val, recipe, device)
    loss = float(loss_fn(logits.to(device), val.targets.to(device)))
    probabilities = to_probabilities(logits, recipe, problem).numpy()
    targets = val.targets.numpy()
    ones = np.ones((1, len(targets)))
    aurocs = [weighted_auroc(targets[:, k], probabilities[:, k], ones)[0] for k in range(targets.shape[1])]
    return {"val_loss": loss, "val_auroc": float(np.nanmean(aurocs)) if not np.all(np.isnan(aurocs)) else float("nan")}


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    torch.save(payload, partial)
    os.replace(partial, path)


def fit(
    model: nn.Module,
    recipe: Recipe,
    problem: str,
    train: PreparedSplit,
    val: PreparedSplit,
    checkpoint_path: Path,
    seed: int,
    device: torch.device | None = None,
    resume: bool = False,
    on_batch: BatchHook | None = None,
    on_epoch: EpochHook | None = None,
) -> FitResult:
    """Train ``model`` in place by ``recipe``; the best epoch's weights are restored at the end.

    A checkpoint is written after every epoch; with ``resume`` an existing checkpoint is
    continued from its last completed epoch.
    """
    device = device or default_device()
    world = current_world()
    rank_batch = world.check_batch_size(recipe.batch_size)
    started = time.perf_counter()
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    loss_fn = TaskLoss(recipe, problem, train.targets, device)
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    replicas = Replicas(model, world, device)
    state = _State()
    resumed_from = None
    if resume and checkpoint_path.exists():
        state, resumed_from = _restore(checkpoint_path, model, optimizer, scheduler, scaler, recipe, seed)
    elif resume:
        log.warning("--resume: no checkpoint of this run at %s; training from the start", checkpoint_path)
    maximise = recipe.select_on == "val_auroc"
    augment = build_augmenter(recipe, train.images.shape[-1])
    stopped_early = False
    quiet = not sys.stderr.isatty()
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        for epoch in range(state.epoch + 1, recipe.epochs):
            torch.manual_seed(world.rank_seed(epoch_seed(seed, epoch)))
            shuffle = torch.Generator().manual_seed(epoch_seed(seed, epoch) + 1)
            epoch_start = time.perf_counter()
            apply_stage(model, recipe, epoch)
            if (lr_now := scheduled_lr(recipe, epoch)) is not None:
                for group in optimizer.param_groups:
                    group["lr"] = lr_now
            model.train()
            freeze_batchnorm(model)
            step_model = replicas.for_training()
            total, seen = 0.0, 0
            batches = train.batches(rank_batch, shuffle, (world.rank, world.size))
            steps = recipe.steps_per_epoch
            shard_size = -(-len(train) // world.size)
            n_batches = min(-(-shard_size // rank_batch), steps or shard_size)
            for batch_index, (images, targets) in enumerate(
                tqdm(batches, total=n_batches, desc=f"epoch {epoch + 1}/{recipe.epochs}", disable=quiet, leave=False)
            ):
                if steps is not None and batch_index >= steps:
                    break
                if augment is not None:
                    images = augment(images, world.rank_seed(epoch_seed(seed, epoch) + batch_index))
                x, y = normalise(images, recipe, device), targets.to(device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, enabled=device.type == "cuda"):
                    loss = loss_fn(step_model(x), y)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                total += loss.detach() * len(images)  # a tensor: no per-batch synchronisation
                seen += len(images)
                if on_batch is not None:
                    on_batch(epoch, batch_index)
            total, seen = world.sum(float(total), seen)
            scores = world.broadcast(
                _validation_scores(model, val, recipe, problem, loss_fn, device) if world.main else None
            )
            lr = optimizer.param_groups[0]["lr"]
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(scores["val_loss"])
            elif scheduler is not None:
                scheduler.step()
            monitored = -scores["val_auroc"] if maximise else scores["val_loss"]
            if monitored < state.best_score:
                state.best_score, state.best_epoch, state.bad_epochs = monitored, epoch, 0
                state.best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            else:
                state.bad_epochs += 1
            row = {
                "epoch": epoch,
                "train_loss": total / max(seen, 1),
                "lr": lr,
                "seconds": time.perf_counter() - epoch_start,
            }
            state.history.append(row | scores)
            state.epoch = epoch
            if world.main:
                rounded = {k: round(v, 4) for k, v in state.history[-1].items()}
                log.info("epoch %d/%d %s", epoch + 1, recipe.epochs, rounded)
            patience = recipe.early_stopping_patience
            if epoch + 1 == recipe.frozen_epochs:  # fine-tuning gets its own patience, as Keras' second fit()
                state.bad_epochs = 0
            in_first_stage = epoch + 1 < recipe.frozen_epochs
            stopped_early = patience is not None and state.bad_epochs >= patience and not in_first_stage
            if world.main:
                _save_checkpoint(
                    checkpoint_path, _payload(state, model, optimizer, scheduler, scaler, recipe, seed, stopped_early)
                )
            if on_epoch is not None:
                on_epoch(epoch, state.history[-1], checkpoint_path if world.main else None)
            if stopped_early:
                log.info("early stopping after epoch %d (best epoch %d)", epoch + 1, state.best_epoch + 1)
                break
    if state.best_model is not None:
        model.load_state_dict(state.best_model)
    return FitResult(state.history, state.best_epoch, stopped_early, resumed_from, time.perf_counter() - started)


def _payload(
    state: _State,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    recipe: Recipe,
    seed: int,
    stopped: bool,
) -> dict[str, Any]:
    saved_state = copy.copy(state.__dict__)
    best_is_current = state.best_epoch == state.epoch
    if best_is_current:  # the best weights are the model's own: do not write them twice
        saved_state["best_model"] = None
    return {
        "best_is_current": best_is_current,
        "state": saved_state,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict(),
        "recipe": recipe.to_dict(),
        "seed": seed,
        "stopped_early": stopped,
    }


def _restore(
    path: Path, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any, recipe: Recipe, seed: int
) -> tuple[_State, int]:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload["recipe"] != recipe.to_dict() or payload["seed"] != seed:
        raise ConfigError(f"checkpoint {path} belongs to another recipe or seed; run without --resume to start over")
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None and payload["scheduler"] is not None:
        scheduler.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    state = _State(**payload["state"])
    if payload["best_is_current"]:
        state.best_model = {k: v.clone() for k, v in payload["model"].items()}
    if payload["stopped_early"]:
        state.epoch = recipe.epochs  # nothing left to train
    log.info("resuming from %s after epoch %d", path, state.epoch + 1)
    return state, state.epoch
