"""Graded corruptions of test images as the model sees them: uint8 (N, H, W) at its input size, before
normalisation (the prepared cache's rows; ``benchmark.models.io.normalise`` is applied afterwards, as in
training). Each corruption has five severities (1 mildest .. 5 worst); severity 0 is the image unchanged.

Per severity, the parameter (MedMNIST-C style, Di Salvo et al. 2024; ImageNet-C, Hendrycks & Dietterich
2019), intensities on a 0-1 scale:

============== ============================================= ====== ====== ====== ====== ======
corruption     parameter                                     1      2      3      4      5
============== ============================================= ====== ====== ====== ====== ======
gaussian_noise noise sd (added, then clipped to 0-1)         0.02   0.04   0.07   0.10   0.15
blur           Gaussian sd, fraction of the image side       0.0075 0.015  0.025  0.035  0.05
contrast       c in x' = mean + c (x - mean)                 0.75   0.6    0.45   0.3    0.2
gamma          g in x' = min + range ((x - min) / range)^g   1.2    1.4    1.7    2.0    2.5
jpeg           JPEG quality (Pillow, grayscale)              50     30     20     12     6
downsample     factor: side / f (area), then bilinear back   1.5    2      3      4      6
rotation       degrees (sign drawn per image), black corners 3      6      9      12     15
============== ============================================= ====== ====== ====== ====== ======

MONAI does the work where it has the transform: ``RandGaussianNoise`` (noise), ``GaussianSmooth``
(blur, on a reflect-padded image so the borders are not darkened by its zero padding),
``AdjustContrast`` (gamma: its formula is the one above), ``Resize`` (downsample) and ``Rotate``;
Pillow encodes and decodes JPEG. The linear contrast change is one line of torch.

Seeding: the random corruptions (``gaussian_noise``, and ``rotation``'s sign) draw from a generator
seeded by (seed, corruption, severity, image index), so one image's corruption does not depend on which
other images are corrupted with it and a rerun gives the same bytes. The index is the image's position
in the test split's order.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from benchmark.errors import ConfigError

SEVERITIES = (1, 2, 3, 4, 5)
CHUNK = 256  # images corrupted together (memory bound)
CORRUPTIONS_VERSION = 1  # bump when a corruption's code or levels change: cached results are then recomputed

# (images (N, H, W): float tensor in [0, 1], or uint8 array when on_uint8; level; one generator per image)
# -> corrupted images, same kind and shape. Per-image MONAI transforms run one image at a time; the spatial
# ones (blur, downsample, rotation) take the batch as channels, which they treat independently.
Apply = Callable[[Any, float, list[np.random.Generator]], Any]


class CorruptionError(ConfigError):
    """An unknown corruption name or a severity outside 0..5."""


@dataclass(frozen=True)
class Corruption:
    name: str
    parameter: str  # what ``levels`` hold, as the table in the module docstring says
    levels: tuple[float, ...]  # the parameter at severities 1..5
    random: bool  # draws from the seeded generators
    apply: Apply
    on_uint8: bool = False  # ``apply`` takes and returns uint8 images (JPEG)

    def level(self, severity: int) -> float:
        return self.levels[severity - 1]


def _as_tensor(image: torch.Tensor) -> torch.Tensor:
    """A plain tensor (MONAI returns MetaTensors)."""
    return image.as_tensor() if hasattr(image, "as_tensor") else torch.as_tensor(image)


# MONAI's transforms are imported where used: importing monai.transforms takes seconds, and a cached result
# (``benchmark robustness`` run again with the same settings) needs none of them.


def gaussian_noise(images: torch.Tensor, sd: float, rngs: list[np.random.Generator]) -> torch.Tensor:
    from monai.transforms import RandGaussianNoise

    out = torch.empty_like(images)
    for i, rng in enumerate(rngs):
        noise = RandGaussianNoise(prob=1.0, mean=0.0, std=sd, sample_std=False)
        noise.set_random_state(state=np.random.RandomState(int(rng.integers(2**32))))
        out[i] = _as_tensor(noise(images[i : i + 1]))[0]
    return out.clamp(0.0, 1.0)


def blur_sigma(shape: tuple[int, ...], fraction: float) -> float:
    """The Gaussian sd of ``blur`` in pixels: ``fraction`` of the longer side."""
    return fraction * max(shape[-2:])


def blur(images: torch.Tensor, fraction: float, rngs: list[np.random.Generator]) -> torch.Tensor:
    from monai.transforms import GaussianSmooth

    sigma = blur_sigma(images.shape, fraction)
    pad = min(math.ceil(4.0 * sigma), min(images.shape[-2:]) - 1)  # MONAI truncates its kernel at 4 sd
    padded = F.pad(images.unsqueeze(0), (pad, pad, pad, pad), mode="reflect").squeeze(0)
    smooth = _as_tensor(GaussianSmooth(sigma=sigma)(padded))
    return smooth[:, pad : pad + images.shape[-2], pad : pad + images.shape[-1]]


def contrast(images: torch.Tensor, factor: float, rngs: list[np.random.Generator]) -> torch.Tensor:
    mean = images.mean(dim=(-2, -1), keepdim=True)
    return mean + factor * (images - mean)


def gamma(images: torch.Tensor, g: float, rngs: list[np.random.Generator]) -> torch.Tensor:
    from monai.transforms import AdjustContrast

    adjust = AdjustContrast(gamma=g)  # on each image's own min-max range
    return torch.stack([_as_tensor(adjust(image.unsqueeze(0)))[0] for image in images])


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """One (H, W) uint8 image encoded as grayscale JPEG at ``quality`` by Pillow, and decoded."""
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("L"), dtype=np.uint8)


def jpeg(images: np.ndarray, quality: float, rngs: list[np.random.Generator]) -> np.ndarray:
    return np.stack([jpeg_round_trip(image, int(quality)) for image in images])


def downsampled_size(shape: tuple[int, ...], factor: float) -> tuple[int, int]:
    """The intermediate (H, W) of ``downsample``: each side divided by ``factor``, rounded, at least 1."""
    return max(1, round(shape[-2] / factor)), max(1, round(shape[-1] / factor))


def downsample(images: torch.Tensor, factor: float, rngs: list[np.random.Generator]) -> torch.Tensor:
    from monai.transforms import Resize

    small = _as_tensor(Resize(downsampled_size(images.shape, factor), mode="area")(images))
    return _as_tensor(Resize(tuple(images.shape[-2:]), mode="bilinear", align_corners=False)(small))


def rotation_signs(rngs: list[np.random.Generator]) -> np.ndarray:
    """+1 or -1 per image, one draw from each image's generator."""
    return np.array([1 if rng.random() < 0.5 else -1 for rng in rngs], dtype=int)


def rotation(images: torch.Tensor, degrees: float, rngs: list[np.random.Generator]) -> torch.Tensor:
    from monai.transforms import Rotate

    signs = rotation_signs(rngs)
    out = torch.empty_like(images)
    for sign in (1, -1):
        chosen = torch.from_numpy(np.flatnonzero(signs == sign))
        if len(chosen):
            turn = Rotate(angle=math.radians(sign * degrees), keep_size=True, mode="bilinear", padding_mode="zeros")
            out[chosen] = _as_tensor(turn(images[chosen]))
    return out


CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("gaussian_noise", "noise sd (0-1 intensity)", (0.02, 0.04, 0.07, 0.10, 0.15), True, gaussian_noise),
        Corruption("blur", "Gaussian sd (fraction of the side)", (0.0075, 0.015, 0.025, 0.035, 0.05), False, blur),
        Corruption("contrast", "factor c: mean + c (x - mean)", (0.75, 0.6, 0.45, 0.3, 0.2), False, contrast),
        Corruption("gamma", "gamma on the min-max range", (1.2, 1.4, 1.7, 2.0, 2.5), False, gamma),
        Corruption("jpeg", "JPEG quality", (50, 30, 20, 12, 6), False, jpeg, on_uint8=True),
        Corruption("downsample", "factor (area down, bilinear up)", (1.5, 2, 3, 4, 6), False, downsample),
        Corruption("rotation", "degrees (random sign)", (3, 6, 9, 12, 15), True, rotation),
    )
}


def check_corruptions(names: tuple[str, ...] | list[str], severities: tuple[int, ...] | list[int]) -> None:
    """Refuse unknown names and severities outside 1..5 (0, the clean images, is always scored)."""
    unknown = [n for n in names if n not in CORRUPTIONS]
    if unknown or not names:
        raise CorruptionError(f"unknown or no corruption(s) {unknown}; choose from {list(CORRUPTIONS)}")
    bad = [s for s in severities if s not in SEVERITIES]
    if bad or not severities:
        raise CorruptionError(
            f"severity {bad or '(none)'} is not one of {list(SEVERITIES)}; pass e.g. --severities 1 2 3 4 5"
        )


def image_rng(seed: int, name: str, severity: int, index: int) -> np.random.Generator:
    """The generator of one (seed, corruption, severity, image index)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), severity, index])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """``images`` (N, H, W) uint8 under ``name`` at ``severity`` (0: a copy, unchanged), as uint8."""
    if name not in CORRUPTIONS:
        raise CorruptionError(f"unknown corruption {name!r}; choose from {list(CORRUPTIONS)}")
    if severity == 0:
        return np.array(images, dtype=np.uint8, copy=True)
    if severity not in SEVERITIES:
        raise CorruptionError(f"severity {severity} is not one of 0 (clean) or {list(SEVERITIES)}")
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3:
        raise CorruptionError(f"corrupt() takes (N, H, W) uint8 images, got shape {images.shape}")
    spec = CORRUPTIONS[name]
    level = spec.level(severity)
    out = np.empty_like(images)
    for first in range(0, len(images), CHUNK):
        chunk = images[first : first + CHUNK]
        rngs = [image_rng(seed, name, severity, first + i) for i in range(len(chunk))]
        if spec.on_uint8:
            out[first : first + len(chunk)] = spec.apply(chunk, level, rngs)
            continue
        x = torch.from_numpy(chunk.astype(np.float32) / 255.0)
        y = spec.apply(x, level, rngs)
        out[first : first + len(chunk)] = torch.round(y.clamp(0.0, 1.0) * 255.0).to(torch.uint8).numpy()
    return out


def levels_table() -> dict[str, dict[str, object]]:
    """What each corruption's severities mean (stored with every result)."""
    return {
        c.name: {"parameter": c.parameter, "levels": list(c.levels), "random": c.random} for c in CORRUPTIONS.values()
    }
