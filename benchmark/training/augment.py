"""Training-time augmentation from the recipe's aug_* fields, batched on the device the model trains on.

One call augments a whole batch with tensor operations where the batch already is (CPU or CUDA):
rotation, zoom, shifts and both flips are one affine matrix per image, applied to the batch by a
single sampling grid (``F.affine_grid``'s, computed as a sum of row and column terms) and one
``grid_sample`` (bilinear, zero or reflection fill, ``align_corners=False`` as MONAI's ``Resample``
uses); brightness and contrast are per-image multiplications. The result is what MONAI's per-image
``RandAffine`` -> ``RandFlip`` (W, then H) -> ``RandScaleIntensity`` -> ``RandScaleIntensityFixedMean``
pipeline, clipped to [0, 255], gives for the same parameters (the earlier implementation, and the
reference of tests/training/test_augment.py), at one ``grid_sample`` per batch instead of a Python
loop of MONAI calls per image (benchmarks/input_pipeline.py measures both).

The distributions are MONAI's, as the recipes have always meant them; with u ~ U[-1, 1) drawn per image:
- rotation ``aug_rotation * u`` degrees; zoom: a scale factor ``1 + aug_zoom * u`` per axis, drawn
  independently for x and y (> 1 shows more of the image); shifts ``aug_shift_x * u`` of the width and
  ``aug_shift_y * u`` of the height. The output pixel p samples the input at ``R (S p + t)`` about the
  image centre (MONAI's ``rotate @ translate @ scale``);
- horizontal and vertical flips (after the affine map) each with probability 0.5;
- brightness: the image times ``1 + aug_brightness * u``; contrast: the image's deviation from its
  own mean times ``1 + aug_contrast * u``; finally clipped to [0, 255].

Seeding: the parameters of a batch are drawn in float64 from a CPU ``torch.Generator`` seeded by the
``seed`` the training loop passes (from seed, epoch, batch index and rank), row i for image i, so a
batch gets the same parameters on every run, after a resume, and on CPU and CUDA alike.

CPU against CUDA: the parameters and the 2 x 3 matrices are identical (drawn and built on the CPU,
then cast to float32); the grid, the bilinear interpolation and the contrast mean are computed in
float32 on the device, where CUDA's kernels round differently (fused multiply-adds, another summation
order), so pixel values may differ in the last float32 bits: sample coordinates by ~1e-7 of the image
side, pixel values by up to ~1e-2 grey levels (of 255) at sharp edges of a 224 px image (the size of
the batched-vs-MONAI differences on the CPU, which come from the same rounding); a sample that lands
exactly on a pixel or fill boundary may fall to the other side. Not measured on a GPU here. Training
on CUDA is not bitwise equal to training on the CPU anyway (cuDNN, AMP); runs on one device are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from benchmark.recipe import Recipe

Augmenter = Callable[[torch.Tensor, int], torch.Tensor]
"""``augment(images, seed)``: a (B, 1, H, W) batch (uint8 or float in [0, 255]) -> float32 in [0, 255],
on the batch's device."""

_COLUMNS = 9  # rotation, zoom x, zoom y, shift x, shift y, hflip, vflip, brightness, contrast


@dataclass(frozen=True)
class AugmentParams:
    """One batch's parameters, one row per image (CPU tensors; float64 unless boolean)."""

    rotation: torch.Tensor  # (B,) radians, MONAI's sign
    zoom: torch.Tensor  # (B, 2) scale factors (x, y) of the sampled region
    shift: torch.Tensor  # (B, 2) shifts (x, y) as fractions of the width and the height
    hflip: torch.Tensor  # (B,) bool
    vflip: torch.Tensor  # (B,) bool
    brightness: torch.Tensor  # (B,) intensity factors
    contrast: torch.Tensor  # (B,) factors of the deviation from the image's mean

    def __len__(self) -> int:
        return len(self.rotation)

    @property
    def geometric(self) -> bool:
        """Whether any image needs resampling (rotation, zoom or shift), not just flipping."""
        return bool(self.rotation.any() or (self.zoom != 1).any() or self.shift.any())


class BatchAugmenter:
    """The recipe's augmentation as batched tensor operations; ``augment(images, seed)``."""

    def __init__(self, recipe: Recipe) -> None:
        self.rotation = math.radians(recipe.aug_rotation)
        self.zoom = recipe.aug_zoom
        self.shift = (recipe.aug_shift_x, recipe.aug_shift_y)
        self.flip_probability = (0.5 if recipe.aug_hflip else 0.0, 0.5 if recipe.aug_vflip else 0.0)
        self.brightness = recipe.aug_brightness
        self.contrast = recipe.aug_contrast
        self.padding_mode = "reflection" if recipe.aug_fill == "reflection" else "zeros"

    def draw(self, batch_size: int, seed: int) -> AugmentParams:
        """Parameters for ``batch_size`` images from a CPU generator seeded by ``seed``."""
        generator = torch.Generator().manual_seed(seed % 2**64)
        u = torch.rand((batch_size, _COLUMNS), generator=generator, dtype=torch.float64)
        signed = 2 * u - 1  # U[-1, 1)
        return AugmentParams(
            rotation=self.rotation * signed[:, 0],
            zoom=1 + self.zoom * signed[:, 1:3],
            shift=signed[:, 3:5] * torch.tensor(self.shift, dtype=torch.float64),
            hflip=u[:, 5] < self.flip_probability[0],
            vflip=u[:, 6] < self.flip_probability[1],
            brightness=1 + self.brightness * signed[:, 7],
            contrast=1 + self.contrast * signed[:, 8],
        )

    def apply(self, images: torch.Tensor, params: AugmentParams) -> torch.Tensor:
        """``images`` (B, C, H, W) augmented by ``params``: float32 in [0, 255] on the images' device."""
        x = images.float() if images.dtype != torch.float32 else images.clone()
        device = x.device
        if params.geometric:
            theta = affine_matrices(params, x.shape[-2], x.shape[-1]).to(device, torch.float32)
            grid = affine_grid(theta, x.shape[-2], x.shape[-1])
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode=self.padding_mode, align_corners=False)
        else:  # flips alone move whole pixels: exact, no resampling
            hflip, vflip = params.hflip.to(device).view(-1, 1, 1, 1), params.vflip.to(device).view(-1, 1, 1, 1)
            if bool(params.hflip.any()):
                x = torch.where(hflip, x.flip(-1), x)
            if bool(params.vflip.any()):
                x = torch.where(vflip, x.flip(-2), x)
        if self.brightness or self.contrast:
            # brightness b then contrast c about the brightened mean b m: x b c + b m (1 - c), one pass
            brightness, contrast = params.brightness, params.contrast
            scale = (brightness * contrast).to(device, torch.float32).view(-1, 1, 1, 1)
            if self.contrast:
                offset = (brightness * (1 - contrast)).to(device, torch.float32).view(-1, 1, 1, 1)
                offset = offset * x.mean(dim=(1, 2, 3), keepdim=True)
                x = x.mul_(scale).add_(offset)
            else:
                x = x.mul_(scale)
        return x.clamp_(0, 255)

    def __call__(self, images: torch.Tensor, seed: int) -> torch.Tensor:
        return self.apply(images, self.draw(len(images), seed))


def affine_matrices(params: AugmentParams, height: int, width: int) -> torch.Tensor:
    """(B, 2, 3) float64 matrices for ``affine_grid``: output -> input in its normalised (x, y) coordinates.

    In pixels about the image centre an output pixel p samples the input at R (S p + t) (MONAI's
    ``rotate @ translate @ scale``); in grid_sample's coordinates u = N p, with N = diag(2 / W, 2 / H),
    that is N R S N^-1 u + N R t. A flip (after the map) negates u's x or y column.
    """
    n = len(params)
    cos, sin = torch.cos(params.rotation), torch.sin(params.rotation)
    # MONAI's 2-D rotation acts on (row, column) = (y, x) as [[c, -s], [s, c]]; in (x, y) order: [[c, s], [-s, c]]
    rotate = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    norm = torch.tensor([2.0 / width, 2.0 / height], dtype=torch.float64)
    size = torch.tensor([width, height], dtype=torch.float64)
    linear = norm.view(1, 2, 1) * rotate * (params.zoom / norm).view(n, 1, 2)  # N R S N^-1
    offset = norm * torch.einsum("bij,bj->bi", rotate, params.shift * size)  # N R t, t in pixels
    flip = torch.stack([params.hflip, params.vflip], -1)
    linear = torch.where(flip.view(n, 1, 2), -linear, linear)
    return torch.cat([linear, offset.unsqueeze(-1)], -1)


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``F.affine_grid(theta, (B, C, height, width), align_corners=False)``, computed as the sum of a
    per-row and a per-column term: one pass over the (B, H, W, 2) grid instead of torch's (B, H*W, 3) base
    grid and batched matrix product (5x faster on one CPU core at 224 px; equal within float32 rounding)."""
    xs = torch.linspace(-1, 1, width, device=theta.device, dtype=theta.dtype) * ((width - 1) / width)
    ys = torch.linspace(-1, 1, height, device=theta.device, dtype=theta.dtype) * ((height - 1) / height)
    rows = theta[:, None, :, 1] * ys[None, :, None] + theta[:, None, :, 2]  # (B, H, 2)
    columns = theta[:, None, :, 0] * xs[None, :, None]  # (B, W, 2)
    return columns[:, None, :, :] + rows[:, :, None, :]


def build_augmenter(recipe: Recipe) -> BatchAugmenter | None:
    """The recipe's augmenter, or None when it asks for no augmentation."""
    geometric = recipe.aug_rotation or recipe.aug_zoom or recipe.aug_shift_x or recipe.aug_shift_y
    flips = recipe.aug_hflip or recipe.aug_vflip
    if not (geometric or flips or recipe.aug_brightness or recipe.aug_contrast):
        return None
    return BatchAugmenter(recipe)
