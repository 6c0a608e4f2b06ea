"""A small Kaggle-COVID-layout dataset whose classes differ only in the image border: a bright block in the
top strip (rows 0-1 of 16, outside the audit mask's rectangle, which starts at row 2 at 16 px), at a column
that depends on the class. The centre (the "lung field") is noise alike for every class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("Covid", "Normal", "Viral Pneumonia")


def make_border_dataset(root: Path, n_train: int = 10, n_test: int = 6, size: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    base = root / "Covid19-dataset"
    for split, n in (("train", n_train), ("test", n_test)):
        for k, name in enumerate(CLASSES):
            folder = base / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(40, 120, size=(size, size), dtype=np.uint8)
                pixels[0:2, k * 5 : k * 5 + 4] = 250  # drawn at the size the audit trains at: no resizing blurs it
                Image.fromarray(pixels).save(folder / f"{split}-{i:03d}.png")
    return root
