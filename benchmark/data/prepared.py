"""One split of a task, ready for batching: rows of the prepared cache plus targets.

Batches are tensor slices of the memory-mapped cache, so the training loop spends its
time in the model, not in Python or image decoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from benchmark.data.cache import PreparedCache


@dataclass
class PreparedSplit:
    image_ids: list[str]
    patient_ids: list[str]
    images: np.ndarray  # uint8 (M, H, W): the cache's memory-mapped images (or any array holding the rows)
    rows: np.ndarray  # int64 (N,): row of each image of the split in ``images``
    targets: torch.Tensor  # float32 (N, K), NaN = unknown

    def __len__(self) -> int:
        return len(self.image_ids)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, shard: tuple[int, int] = (0, 1)
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images (B, 1, H, W) uint8, targets) in order, or shuffled by ``generator`` when given.

        ``shard=(rank, world)``: this rank's share of the same order, as torch's DistributedSampler
        takes it (padded by wrapping around to a multiple of ``world``, then every world-th item),
        so that batch j of all ranks together is batch j of one process at world x batch_size.
        """
        order = torch.randperm(len(self), generator=generator) if generator is not None else torch.arange(len(self))
        order = shard_of(order, *shard)
        n = len(order)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            # numpy's row gather from the memory map is ~10x faster than torch fancy indexing
            yield torch.from_numpy(self.images[self.rows[index.numpy()]]).unsqueeze(1), self.targets[index]


def shard_of(order: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s share of ``order`` out of ``world`` equal shares (the whole order for one)."""
    if world == 1 or not len(order):
        return order
    total = -(-len(order) // world) * world
    return order.repeat(-(-total // len(order)))[:total][rank::world]


def prepare_split(cache: PreparedCache, frame: pd.DataFrame, labels: list[str]) -> PreparedSplit:
    """The rows of ``frame`` (one split) that the cache holds; skipped (unreadable) images are left out."""
    skipped = {s["image_id"] for s in cache.skipped}
    frame = frame[~frame["image_id"].isin(skipped)]
    rows = frame["image_id"].map(cache.rows)
    return PreparedSplit(
        image_ids=frame["image_id"].tolist(),
        patient_ids=frame["patient_id"].astype(str).tolist(),
        images=cache.images,
        rows=rows.to_numpy(dtype=np.int64),
        targets=torch.tensor(frame[labels].to_numpy(dtype=np.float32)),
    )
