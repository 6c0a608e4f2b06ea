"""Batched augmentation: the recipe's distributions, MONAI's per-image output for fixed parameters,
and seeding by batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.recipe import Recipe
from benchmark.training.augment import AugmentParams, BatchAugmenter, build_augmenter
from tests.fixtures.augment.monai_reference import monai_reference

N = 20_000  # parameter sets drawn for the distribution checks
RECIPE = Recipe(
    aug_rotation=10.0,
    aug_hflip=True,
    aug_vflip=True,
    aug_zoom=0.15,
    aug_shift_x=0.1,
    aug_shift_y=0.05,
    aug_fill="reflection",
    aug_brightness=0.1,
    aug_contrast=0.2,
)
# For fixed parameters the batched path and MONAI's per-image one compute the same bilinear samples
# from differently rounded float32 coordinates (MONAI: pixel grid times the matrix, then scaled to
# [-1, 1]; here: affine_grid in [-1, 1]); the largest difference seen at 32 px is 3.7e-4 grey levels.
TOLERANCE = 1e-3  # grey levels on the [0, 255] scale, max absolute difference


@pytest.fixture(scope="module")
def drawn() -> AugmentParams:
    return BatchAugmenter(RECIPE).draw(N, seed=12345)


def _check_uniform(values: torch.Tensor, low: float, high: float) -> None:
    """Within [low, high), and mean, variance and extremes those of U[low, high) (5 standard errors)."""
    values = values.double()
    half, centre = (high - low) / 2, (high + low) / 2
    assert float(values.min()) >= low and float(values.max()) < high
    assert float(values.min()) < low + 0.01 * half and float(values.max()) > high - 0.01 * half
    assert abs(float(values.mean()) - centre) < 5 * (half / math.sqrt(3)) / math.sqrt(len(values))
    variance = half**2 / 3  # of U[-h, h); the sample variance's standard error is sqrt(4/45) h^2 / sqrt(n)
    assert abs(float(values.var()) - variance) < 5 * math.sqrt(4 / 45) * half**2 / math.sqrt(len(values))


def test_parameters_follow_the_recipe(drawn):
    _check_uniform(drawn.rotation, -math.radians(10), math.radians(10))
    _check_uniform(drawn.zoom[:, 0], 0.85, 1.15)
    _check_uniform(drawn.zoom[:, 1], 0.85, 1.15)
    _check_uniform(drawn.shift[:, 0], -0.1, 0.1)
    _check_uniform(drawn.shift[:, 1], -0.05, 0.05)
    _check_uniform(drawn.brightness, 0.9, 1.1)
    _check_uniform(drawn.contrast, 0.8, 1.2)
    # MONAI's scale_range=(z, z): the x and y zoom factors are drawn independently; so is everything else
    columns = torch.stack([drawn.rotation, *drawn.zoom.T, *drawn.shift.T, drawn.brightness, drawn.contrast])
    correlation = torch.corrcoef(columns) - torch.eye(len(columns), dtype=torch.float64)
    assert float(correlation.abs().max()) < 5 / math.sqrt(N)
    for flips in (drawn.hflip, drawn.vflip):  # Binomial(N, 0.5): 5 standard deviations
        assert abs(float(flips.double().mean()) - 0.5) < 5 * math.sqrt(0.25 / N)
    both = float((drawn.hflip & drawn.vflip).double().mean())
    assert abs(both - 0.25) < 5 * math.sqrt(0.25 * 0.75 / N)


def test_options_off_draw_identity():
    params = BatchAugmenter(Recipe(aug_hflip=True)).draw(1000, seed=3)
    assert not params.rotation.any() and not params.shift.any() and not params.vflip.any()
    assert bool((params.zoom == 1).all() and (params.brightness == 1).all() and (params.contrast == 1).all())
    assert 0.4 < float(params.hflip.double().mean()) < 0.6
    assert build_augmenter(Recipe()) is None


def test_same_seed_same_batch_other_batch_other_draws():
    augment = BatchAugmenter(RECIPE)
    images = _images(8)
    a, b = augment(images, 7), augment(images, 7)
    assert torch.equal(a, b)
    other = augment(images, 8)  # the loop's next batch (seed + batch index)
    assert not torch.equal(a, other)
    first, second = augment.draw(8, 7), augment.draw(8, 8)
    assert not torch.isin(first.rotation, second.rotation).any()
    assert len(set(first.rotation.tolist())) == 8  # every image draws its own parameters
    # image i's parameters do not depend on the batch's size
    assert torch.equal(augment.draw(3, 7).rotation, first.rotation[:3])


def test_float_input_on_its_device_is_not_modified():
    images = _images(2).float()
    before = images.clone()
    out = BatchAugmenter(RECIPE)(images, 1)
    assert out.dtype == torch.float32 and out.device == images.device and out.shape == images.shape
    assert torch.equal(images, before)
    assert float(out.min()) >= 0 and float(out.max()) <= 255


# --- against MONAI's per-image transforms -----------------------------------------------------------


def _images(n: int = 2, size: int = 32) -> torch.Tensor:
    """(n, 1, size, size) uint8: a diagonal gradient and an off-centre bright disc (no symmetry)."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    gradient = (x * 5 + y * 2).float()
    disc = ((x - size * 0.65) ** 2 + (y - size * 0.3) ** 2 < (size * 0.18) ** 2).float() * 90
    base = (gradient + disc).clamp(0, 255)
    return torch.stack([base, base.flip(0).T]).repeat((n + 1) // 2, 1, 1)[:n].unsqueeze(1).to(torch.uint8)


def _params(n: int, **fixed) -> AugmentParams:
    values = {
        "rotation": torch.zeros(n, dtype=torch.float64),
        "zoom": torch.ones(n, 2, dtype=torch.float64),
        "shift": torch.zeros(n, 2, dtype=torch.float64),
        "hflip": torch.zeros(n, dtype=torch.bool),
        "vflip": torch.zeros(n, dtype=torch.bool),
        "brightness": torch.ones(n, dtype=torch.float64),
        "contrast": torch.ones(n, dtype=torch.float64),
    }
    for name, value in fixed.items():
        values[name] = torch.as_tensor(value, dtype=values[name].dtype).expand_as(values[name]).clone()
    return AugmentParams(**values)


CASES = {
    "hflip": {"hflip": True},
    "vflip": {"vflip": True},
    "rotation": {"rotation": math.radians(10)},
    "zoom": {"zoom": [1.15, 0.9]},
    "shift": {"shift": [0.1, -0.05]},
    "intensity": {"brightness": 1.08, "contrast": 0.85},
    "all": {"rotation": -0.15, "zoom": [0.9, 1.1], "shift": [-0.07, 0.04], "hflip": True, "vflip": True},
}


@pytest.mark.parametrize("fill", ["zeros", "reflection"])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_monai_per_image(case, fill):
    images = _images(2)
    params = _params(2, **CASES[case])
    batched = BatchAugmenter(Recipe(aug_fill=fill, aug_brightness=0.1, aug_contrast=0.1)).apply(images, params)
    reference = torch.stack([monai_reference(images[i], params, i, fill) for i in range(2)])
    assert not torch.equal(reference, images.float()) or case == "intensity"  # the transform did something
    np.testing.assert_allclose(batched.numpy(), reference.numpy(), rtol=0, atol=TOLERANCE)


def test_non_square_images_match_monai():
    images = _images(2, 32)[:, :, :, 4:28]  # 32 x 24
    params = _params(2, rotation=0.2, zoom=[1.1, 0.95], shift=[0.05, -0.1], hflip=True)
    batched = BatchAugmenter(Recipe(aug_fill="reflection")).apply(images, params)
    reference = torch.stack([monai_reference(images[i], params, i, "reflection") for i in range(2)])
    np.testing.assert_allclose(batched.numpy(), reference.numpy(), rtol=0, atol=TOLERANCE)
