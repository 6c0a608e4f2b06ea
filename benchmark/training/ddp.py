"""Data parallelism for the one training loop: this process's place in a torch.distributed group.

``fit`` asks :func:`current_world` once. Without an initialised default process group (a plain
run, a sweep task, a tuning trial) it is rank 0 of 1 and every helper here is a no-op, so the
single-process path stays exactly what it was. Ray Train's TorchTrainer initialises the group
(gloo on CPU, NCCL on GPU) before the training function starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from benchmark.errors import ConfigError

T = TypeVar("T")

RANK_SEED_STRIDE = 1_000_000_007  # per-rank seed offset (prime: survives the augmenter's mod 2**64); rank 0 adds 0


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that validates, checkpoints and reports."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1

    def rank_seed(self, seed: int) -> int:
        """``seed`` for rank 0, a disjoint one for every other rank (their dropout and augmentation
        draw for other images, so they must not repeat rank 0's draws)."""
        return seed + self.rank * RANK_SEED_STRIDE

    def check_batch_size(self, batch_size: int) -> int:
        """The per-rank batch: the recipe's batch_size is the global one, split evenly over the ranks."""
        if batch_size % self.size:
            raise ConfigError(
                f"batch_size {batch_size} does not split evenly over {self.size} workers; "
                f"use a multiple of {self.size} (--set batch_size=...) or another --workers"
            )
        return batch_size // self.size

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (a picklable object): one decision for all ranks."""
        if not self.parallel:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, *values: float) -> list[float]:
        """Each value summed over the ranks."""
        if not self.parallel:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=_collective_device())
        dist.all_reduce(tensor)
        return tensor.tolist()


def current_world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def _collective_device() -> torch.device:
    """NCCL reduces CUDA tensors only; gloo takes CPU tensors."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class Replicas:
    """The model as the training step sees it: DDP-wrapped when the world has several ranks.

    DDP registers the parameters that require gradients when it is built, so the wrapper is
    rebuilt whenever a recipe stage freezes or unfreezes layers (otherwise newly unfrozen
    layers would train apart on each rank). Building it broadcasts rank 0's weights and
    buffers, so every rank starts each stage from the same model.
    """

    def __init__(self, model: nn.Module, world: World, device: torch.device) -> None:
        self.model, self.world, self.device = model, world, device
        self._wrapped: nn.Module = model
        self._trainable: frozenset[str] | None = None

    def for_training(self) -> nn.Module:
        if not self.world.parallel:
            return self.model
        trainable = frozenset(n for n, p in self.model.named_parameters() if p.requires_grad)
        if trainable != self._trainable:
            device_ids: Any = [self.device.index] if self.device.type == "cuda" else None
            self._wrapped = DistributedDataParallel(self.model, device_ids=device_ids)
            self._trainable = trainable
        return self._wrapped
