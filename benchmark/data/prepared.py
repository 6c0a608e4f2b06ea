"""Decoded, resized images of one split as a uint8 tensor, ready for batching.

The whole split is decoded once at the recipe's size and kept in memory; batches are
then tensor slices, so the training loop spends its time in the model, not in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from benchmark.data.images import to_array
from benchmark.data.source import SourceIndex


@dataclass
class PreparedSplit:
    image_ids: list[str]
    patient_ids: list[str]
    images: torch.Tensor  # uint8 (N, C, H, W)
    targets: torch.Tensor  # float32 (N, K), NaN = unknown

    def __len__(self) -> int:
        return len(self.image_ids)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Mini-batches in order, or shuffled by ``generator`` when given."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            yield self.images[index], self.targets[index]


def prepare_split(
    index: SourceIndex, frame: pd.DataFrame, labels: list[str], size: int, channels: int
) -> PreparedSplit:
    arrays = [to_array(index.load(row), size, channels) for _, row in frame.iterrows()]
    images = np.stack(arrays) if arrays else np.zeros((0, channels, size, size), np.uint8)
    return PreparedSplit(
        image_ids=frame["image_id"].tolist(),
        patient_ids=frame["patient_id"].tolist(),
        images=torch.from_numpy(images),
        targets=torch.tensor(frame[labels].to_numpy(dtype=np.float32)),
    )
