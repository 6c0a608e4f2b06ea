"""One plain PyTorch training loop, driven entirely by a Recipe: ``fit`` runs ``train_one_epoch``
and ``validate`` epoch by epoch, with early stopping and a checkpoint after every epoch.

Determinism: every epoch reseeds dropout and shuffling from (seed, epoch), so a run
resumed from its end-of-epoch checkpoint replays exactly what an uninterrupted run does.

Data parallel: inside an initialised torch.distributed group (Ray Train's TorchTrainer) the
same loop runs on every rank: each rank trains on its share of the same seeded permutation
with DDP averaging the gradients, and rank 0 validates (its scores decide for all ranks),
checkpoints and reports. Outside a group it is the plain single-process loop.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from benchmark.data.prepared import PreparedSplit
from benchmark.errors import InvalidRunError
from benchmark.metrics.registry import weighted_auroc
from benchmark.models.freeze import apply_stage, freeze_batchnorm
from benchmark.models.io import default_device, normalise, to_probabilities
from benchmark.recipe import Recipe
from benchmark.training.augment import Augmenter, build_augmenter
from benchmark.training.checkpoint import Trainables, TrainingState, restore_checkpoint, save_checkpoint
from benchmark.training.ddp import Replicas, World, current_world
from benchmark.training.early_stopping import EarlyStopping
from benchmark.training.inference import predict_logits
from benchmark.training.losses import TaskLoss
from benchmark.training.optim import make_optimizer, make_scheduler, set_scheduled_lr, step_scheduler
from benchmark.training.prefetch import Prefetcher

log = logging.getLogger(__name__)

BatchHook = Callable[[int, int], None]
"""``on_batch(epoch, batch)`` after every training step."""
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
class FitOptions:
    """How ``fit`` runs, apart from what it trains: where it checkpoints, the seed of its random
    draws, the device (default: CUDA when there is one), whether to continue the checkpoint, hooks."""

    checkpoint: Path
    seed: int
    device: torch.device | None = None
    resume: bool = False
    on_batch: BatchHook | None = None
    on_epoch: EpochHook | None = None


@dataclass
class FitContext:
    """What every epoch of one ``fit`` shares, built once at its start."""

    recipe: Recipe
    problem: str
    options: FitOptions
    device: torch.device  # options.device, or the default one
    world: World
    rank_batch: int  # this rank's share of the recipe's (global) batch
    trainables: Trainables
    loss_fn: TaskLoss
    augment: Augmenter | None = None
    replicas: Replicas = field(init=False)

    def __post_init__(self) -> None:
        self.replicas = Replicas(self.trainables.model, self.world, self.device)


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63)


def train_one_epoch(context: FitContext, train: PreparedSplit, epoch: int) -> float:
    """One epoch over this rank's share of ``train``, its random draws seeded from (seed, epoch);
    returns the mean training loss over all ranks."""
    recipe, world, device = context.recipe, context.world, context.device
    model, optimizer, scaler = context.trainables.model, context.trainables.optimizer, context.trainables.scaler
    seed = epoch_seed(context.options.seed, epoch)
    torch.manual_seed(world.rank_seed(seed))
    shuffle = torch.Generator().manual_seed(seed + 1)
    apply_stage(model, recipe, epoch)
    set_scheduled_lr(optimizer, recipe, epoch)
    model.train()
    freeze_batchnorm(model)
    step_model = context.replicas.for_training()
    total, seen = 0.0, 0
    steps = recipe.steps_per_epoch
    batches = islice(train.batches(context.rank_batch, shuffle, (world.rank, world.size)), steps)
    shard_size = -(-len(train) // world.size)
    n_batches = min(-(-shard_size // context.rank_batch), steps or shard_size)
    quiet = not sys.stderr.isatty()
    # the next batches are gathered (and copied to the device) while this step runs; the images are
    # augmented where the model trains, each batch seeded by (seed, epoch, batch, rank)
    with Prefetcher(batches, device) as prefetched:
        desc = f"epoch {epoch + 1}/{recipe.epochs}"
        progress = tqdm(prefetched, total=n_batches, desc=desc, disable=quiet, leave=False)
        for batch_index, (images, y) in enumerate(progress):
            if context.augment is not None:
                images = context.augment(images, world.rank_seed(seed + batch_index))
            x = normalise(images, recipe, device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                loss = context.loss_fn(step_model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach() * len(images)  # a tensor: no per-batch synchronisation
            seen += len(images)
            if context.options.on_batch is not None:
                context.options.on_batch(epoch, batch_index)
    total, seen = world.sum(float(total), seen)
    if seen == 0:  # every rank saw no batch: the model would be recorded untrained
        raise InvalidRunError(
            f"epoch {epoch + 1} took no optimizer step: the {len(train)} training image(s) gave no batch "
            f"(batch_size {recipe.batch_size}, steps_per_epoch {steps}); a run that never trained is not recorded. "
            "Check the task's train split"
        )
    return total / seen


def validate(context: FitContext, val: PreparedSplit) -> dict[str, float]:
    """``val_loss`` and ``val_auroc`` (the mean over labels), computed on rank 0 and given to
    every rank, so that one decision (schedule, early stopping) holds for all."""
    if not context.world.main:
        return context.world.broadcast(None)
    recipe, device = context.recipe, context.device
    logits = predict_logits(context.trainables.model, val, recipe, device)
    loss = float(context.loss_fn(logits.to(device), val.targets.to(device)))
    probabilities = to_probabilities(logits, recipe, context.problem).numpy()
    targets = val.targets.numpy()
    ones = np.ones((1, len(targets)))
    aurocs = [weighted_auroc(targets[:, k], probabilities[:, k], ones)[0] for k in range(targets.shape[1])]
    auroc = float(np.nanmean(aurocs)) if not np.all(np.isnan(aurocs)) else float("nan")
    return context.world.broadcast({"val_loss": loss, "val_auroc": auroc})


def fit(
    model: nn.Module, recipe: Recipe, problem: str, train: PreparedSplit, val: PreparedSplit, options: FitOptions
) -> FitResult:
    """Train ``model`` in place by ``recipe``; the best epoch's weights are restored at the end.

    A checkpoint is written after every epoch; with ``options.resume`` an existing checkpoint is
    continued from its last completed epoch.
    """
    device = options.device or default_device()
    world = current_world()
    rank_batch = world.check_batch_size(recipe.batch_size)
    started = time.perf_counter()
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    loss_fn = TaskLoss(recipe, problem, train.targets, device)
    optimizer = make_optimizer(model, recipe)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    trainables = Trainables(model, optimizer, make_scheduler(optimizer, recipe), scaler)
    state, resumed_from = _initial_state(options, trainables, recipe)
    augment = build_augmenter(recipe)
    context = FitContext(recipe, problem, options, device, world, rank_batch, trainables, loss_fn, augment)
    stopping = EarlyStopping.from_recipe(recipe)
    remaining = range(state.epoch + 1, recipe.epochs) if not state.stopped_early else range(0)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        for epoch in remaining:
            epoch_start = time.perf_counter()
            train_loss = train_one_epoch(context, train, epoch)
            scores = validate(context, val)
            lr = optimizer.param_groups[0]["lr"]
            step_scheduler(trainables.scheduler, scores["val_loss"])
            state.stopped_early = stopping.update(state, epoch, scores, model)
            row = {"epoch": epoch, "train_loss": train_loss, "lr": lr, "seconds": time.perf_counter() - epoch_start}
            state.history.append(row | scores)
            state.epoch = epoch
            if world.main:
                rounded = {k: round(v, 4) for k, v in state.history[-1].items()}
                log.info("epoch %d/%d %s", epoch + 1, recipe.epochs, rounded)
                save_checkpoint(options.checkpoint, state, trainables, recipe, options.seed)
            if options.on_epoch is not None:
                options.on_epoch(epoch, state.history[-1], options.checkpoint if world.main else None)
            if state.stopped_early:
                log.info("early stopping after epoch %d (best epoch %d)", epoch + 1, state.best_epoch + 1)
                break
    if state.best_model is not None:
        model.load_state_dict(state.best_model)
    seconds = time.perf_counter() - started
    return FitResult(state.history, state.best_epoch, state.stopped_early, resumed_from, seconds)


def _initial_state(options: FitOptions, trainables: Trainables, recipe: Recipe) -> tuple[TrainingState, int | None]:
    """A fresh state, or with ``options.resume`` the checkpoint's, with the epoch it resumes after."""
    if options.resume and options.checkpoint.exists():
        state = restore_checkpoint(options.checkpoint, trainables, recipe, options.seed)
        log.info("resuming from %s after epoch %d", options.checkpoint, state.epoch + 1)
        return state, state.epoch
    if options.resume:
        log.warning("--resume: no checkpoint of this run at %s; training from the start", options.checkpoint)
    return TrainingState(), None
