"""Training-time augmentation from the recipe's aug_* fields, per image, with MONAI transforms."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from benchmark.recipe import Recipe

Augmenter = Callable[[torch.Tensor, int], torch.Tensor]


def build_augmenter(recipe: Recipe, image_size: int) -> Augmenter | None:
    """A function (uint8 batch (B, 1, H, W), seed) -> float batch in [0, 255], or None without augmentation.

    Every image draws its own parameters from a generator seeded by (seed, position), so a
    batch is augmented identically on every run and after a resume.
    """
    # MONAI here, not at import: it costs two seconds, and a run without augmentation never needs it
    from monai.transforms import Compose, RandAffine, RandFlip, RandScaleIntensity, RandScaleIntensityFixedMean

    transforms = []
    if recipe.aug_rotation or recipe.aug_zoom or recipe.aug_shift_x or recipe.aug_shift_y:
        transforms.append(
            RandAffine(
                prob=1.0,
                rotate_range=(math.radians(recipe.aug_rotation),),
                translate_range=(recipe.aug_shift_y * image_size, recipe.aug_shift_x * image_size),
                scale_range=(recipe.aug_zoom, recipe.aug_zoom),
                padding_mode="reflection" if recipe.aug_fill == "reflection" else "zeros",
                mode="bilinear",
            )
        )
    if recipe.aug_hflip:
        transforms.append(RandFlip(prob=0.5, spatial_axis=1))
    if recipe.aug_vflip:
        transforms.append(RandFlip(prob=0.5, spatial_axis=0))
    if recipe.aug_brightness:
        transforms.append(RandScaleIntensity(factors=recipe.aug_brightness, prob=1.0))
    if recipe.aug_contrast:
        transforms.append(RandScaleIntensityFixedMean(factors=recipe.aug_contrast, prob=1.0))
    if not transforms:
        return None
    pipeline = Compose(transforms)

    def augment(images: torch.Tensor, seed: int) -> torch.Tensor:
        out = torch.empty(images.shape, dtype=torch.float32)
        for i, image in enumerate(images.float()):
            pipeline.set_random_state(seed=(seed * 7919 + i) % (2**32))
            out[i] = torch.as_tensor(pipeline(image)).clamp_(0, 255)
        return out

    return augment
