"""Decoding and resizing images, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from benchmark.errors import DataFormatError, DatasetNotFoundError


def read_image(path: Path) -> Image.Image:
    """Open and fully decode ``path``; a missing file raises DatasetNotFoundError, a truncated
    or non-image file DataFormatError."""
    if not path.is_file():
        raise DatasetNotFoundError(
            f"image {path} is listed by the dataset's metadata but missing; "
            "restore it from the original download (the data root is incomplete)"
        )
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataFormatError(
            f"cannot decode image {path}: {exc}. The file is corrupt or not an image; "
            "restore it from the original download (or delete it and re-download the dataset)"
        ) from exc


def to_array(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """``image`` as uint8 (channels, size, size): grayscale or RGB, bilinear-resized to a square."""
    mode = "L" if channels == 1 else "RGB"
    converted = image.convert(mode)
    if converted.size != (size, size):
        converted = converted.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(converted, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)
