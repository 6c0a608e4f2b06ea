"""Write a small MedMNIST-style npz (``{train,val,test}_{images,labels}``) with learnable content."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_medmnist_npz(
    path: Path,
    counts: tuple[int, int, int] = (60, 20, 20),
    size: int = 28,
    n_labels: int = 1,
    seed: int = 0,
    corrupt: dict[str, object] | None = None,
) -> Path:
    """Images whose bright square's position encodes the label, so a model can learn it.

    ``corrupt`` replaces or deletes arrays after generation, e.g. ``{"test_labels": None}``
    removes that array, ``{"train_labels": array}`` swaps it in.
    """
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, n in zip(("train", "val", "test"), counts, strict=True):
        labels = rng.integers(0, 2, size=(n, n_labels)).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, size, size), dtype=np.uint8)
        half = size // 2
        for i, label in enumerate(labels[:, 0]):
            row = 2 if label else half + 2
            images[i, row : row + half - 4, 4 : size - 4] += 150
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels
    for key, value in (corrupt or {}).items():
        if value is None:
            arrays.pop(key, None)
        else:
            arrays[key] = np.asarray(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path
