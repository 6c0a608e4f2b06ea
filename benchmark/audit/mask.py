"""The audit's mask: a central rectangle over the lung field of a PA chest film, in relative coordinates.

The rectangle is given as fractions of the image height (``rows``) and width (``cols``); at a side
of ``size`` pixels it covers pixel rows ``round(rows[0] * size)`` to ``round(rows[1] * size) - 1`` and
columns likewise (Python's ``round``: half to even). Default: rows 15%-90%, columns 12%-88%, chosen on
real covid3 and lung3_64 films at 64 and 224 px (it holds both lungs from apices to bases in nearly every
film; the strip left outside holds the neck and shoulders, the image edges, burnt-in markers and text).

Two conditions: ``lung_hidden`` sets the rectangle to ``fill``, ``lung_only`` sets everything outside it
to ``fill``. ``fill`` is 0 (black, in the uint8 grey levels of the prepared cache). The mask is applied
to every split (train, val, test) alike, to the images as the model receives them from the prepared
cache: after resizing, before augmentation and normalisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmark.errors import ConfigError

FULL, LUNG_HIDDEN, LUNG_ONLY = "full", "lung_hidden", "lung_only"
MASKED_CONDITIONS = (LUNG_HIDDEN, LUNG_ONLY)
CONDITIONS = (FULL, *MASKED_CONDITIONS)


class MaskError(ConfigError):
    """Mask bounds that are not a rectangle inside the image, or that leave nothing to see or hide."""


@dataclass(frozen=True)
class LungMask:
    rows: tuple[float, float] = (0.15, 0.90)  # top, bottom as fractions of the height
    cols: tuple[float, float] = (0.12, 0.88)  # left, right as fractions of the width
    fill: int = 0  # grey level (uint8) written over the hidden pixels

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            low, high = getattr(self, name)
            if not 0.0 <= low < high <= 1.0:
                raise MaskError(
                    f"mask {name} ({low}, {high}) is not a band inside the image: give two fractions with "
                    f"0 <= start < end <= 1, e.g. --{name} 0.15 0.90"
                )
        if not 0 <= self.fill <= 255:
            raise MaskError(f"mask fill {self.fill} is not a uint8 grey level; use 0..255")

    def region(self, size: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) pixel bounds at ``size`` px; bottom and right exclusive."""
        top, bottom = (round(f * size) for f in self.rows)
        left, right = (round(f * size) for f in self.cols)
        return top, bottom, left, right

    def check(self, size: int) -> None:
        """Raise MaskError when at ``size`` px the rectangle is empty (lung_only would show nothing) or the
        whole image (lung_hidden would hide everything)."""
        top, bottom, left, right = self.region(size)
        what = None
        if bottom <= top or right <= left:
            what = "covers no pixel, so the lung-only images would be blank; widen the band with --rows / --cols"
        elif (top, bottom, left, right) == (0, size, 0, size):
            what = "covers the whole image, so the lung-hidden images would be blank; narrow it with --rows / --cols"
        if what is not None:
            raise MaskError(
                f"the mask rows {self.rows}, columns {self.cols} at {size} px (pixel rows {top}:{bottom}, "
                f"columns {left}:{right}) {what} (default rows 0.15 0.90, columns 0.12 0.88); nothing was trained"
            )

    def apply(self, images: np.ndarray, condition: str) -> np.ndarray:
        """A masked copy of ``images`` (..., H, W) uint8, square: the rectangle (``lung_hidden``) or all
        but the rectangle (``lung_only``) set to ``fill``."""
        if condition not in MASKED_CONDITIONS:
            raise MaskError(f"unknown mask condition {condition!r}; one of {MASKED_CONDITIONS}")
        size = images.shape[-1]
        if images.shape[-2] != size:
            raise MaskError(f"the mask is defined on square images, got {images.shape[-2]}x{size}")
        top, bottom, left, right = self.region(size)
        out = np.array(images, dtype=np.uint8, copy=True)
        if condition == LUNG_HIDDEN:
            out[..., top:bottom, left:right] = self.fill
        else:
            inside = out[..., top:bottom, left:right].copy()
            out[...] = self.fill
            out[..., top:bottom, left:right] = inside
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def describe(self, size: int) -> dict[str, Any]:
        """The mask as a report states it: relative bounds, pixel bounds at ``size`` and the fill."""
        top, bottom, left, right = self.region(size)
        return {
            **self.to_dict(),
            "image_size": size,
            "pixel_rows": [top, bottom],  # [start, end): end exclusive
            "pixel_cols": [left, right],
            "fill_meaning": "uint8 grey level written over the hidden pixels (0 = black)",
            "applied": "to train, val and test images alike, after resizing, before augmentation and normalisation",
        }
