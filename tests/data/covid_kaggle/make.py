"""Write a small copy of the Kaggle COVID-19 layout: ``Covid19-dataset/{train,test}/{class}/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("Covid", "Normal", "Viral Pneumonia")
FORMATS = (".jpeg", ".jpg", ".png")


def make_covid_dataset(root: Path, n_train: int = 12, n_test: int = 4, size: int = 48, seed: int = 0) -> Path:
    """Three classes told apart by where a bright band lies; mixed formats and sizes as in the real set.

    One training image of each class is a byte-identical copy of a test image (the real set
    has such leaks), so the deduplication has something to find. Returns the dataset root
    (the folder that contains ``Covid19-dataset``).
    """
    rng = np.random.default_rng(seed)
    base = root / "Covid19-dataset"
    for split, n in (("train", n_train), ("test", n_test)):
        for k, name in enumerate(CLASSES):
            folder = base / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                side = size + int(rng.integers(0, 16))
                pixels = rng.integers(0, 50, size=(side, side), dtype=np.uint8)
                band = side // 3
                pixels[k * band : (k + 1) * band, :] += 160
                suffix = FORMATS[i % len(FORMATS)]
                image = Image.fromarray(pixels).convert("RGB" if i % 2 else "L")
                image.save(folder / f"{i:03d}{suffix}", quality=95)
    for name in CLASSES:
        leaked = base / "test" / name / "000.jpeg"
        (base / "train" / name / "leak-of-test-000.jpeg").write_bytes(leaked.read_bytes())
    return root
