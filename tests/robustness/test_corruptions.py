"""Each corruption does what its table says, checked against independent references (numpy, scipy, Pillow),
at the documented parameter of each severity; the random ones are seeded per (seed, corruption, severity,
image index); severity 0 is the image unchanged; every corruption degrades more as severity grows."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
import scipy.ndimage as ndimage
import torch
from PIL import Image
from scipy.special import erf

from benchmark.errors import ConfigError
from benchmark.robustness import corruptions
from benchmark.robustness.corruptions import CORRUPTIONS, CorruptionError, check_corruptions, corrupt

# The documented parameters (module docstring's table), written out here so a changed level fails a test.
DOCUMENTED = {
    "gaussian_noise": (0.02, 0.04, 0.07, 0.10, 0.15),
    "blur": (0.0075, 0.015, 0.025, 0.035, 0.05),
    "contrast": (0.75, 0.6, 0.45, 0.3, 0.2),
    "gamma": (1.2, 1.4, 1.7, 2.0, 2.5),
    "jpeg": (50, 30, 20, 12, 6),
    "downsample": (1.5, 2, 3, 4, 6),
    "rotation": (3, 6, 9, 12, 15),
}
SIDE = 64


def smooth_images(n: int = 3, side: int = SIDE, seed: int = 0) -> np.ndarray:
    """Radiograph-like test images: smooth shapes and texture, grey levels well inside 0-255."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    images = []
    for _ in range(n):
        base = 60 + 80 * yy + 60 * np.exp(-((xx - rng.uniform(0.3, 0.7)) ** 2 + (yy - 0.5) ** 2) / 0.02)
        texture = ndimage.gaussian_filter(rng.normal(0, 25, (side, side)), 1.0)
        images.append(np.clip(base + texture, 0, 255))
    return np.round(np.stack(images)).astype(np.uint8)


def test_the_table_is_the_documented_one():
    assert {name: c.levels for name, c in CORRUPTIONS.items()} == DOCUMENTED
    assert {name for name, c in CORRUPTIONS.items() if c.random} == {"gaussian_noise", "rotation"}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_severity_zero_is_the_image_unchanged(name):
    images = smooth_images()
    out = corrupt(images, name, 0, seed=3)
    assert out.dtype == np.uint8 and np.array_equal(out, images) and out is not images


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_degradation_grows_with_severity(name):
    images = smooth_images(n=4)
    errors = [np.abs(corrupt(images, name, s).astype(float) - images).mean() for s in range(6)]
    assert errors[0] == 0 and errors[1] > 0
    assert all(b > a for a, b in itertools.pairwise(errors)), errors


def test_noise_sd_is_the_level_set():
    grey = np.full((8, SIDE, SIDE), 128, dtype=np.uint8)  # mid-grey: clipping at 0 or 1 is rare even at sd 0.15
    for severity, sd in enumerate(DOCUMENTED["gaussian_noise"], start=1):
        noise = (corrupt(grey, "gaussian_noise", severity).astype(float) - 128) / 255
        assert abs(noise.mean()) < 0.1 * sd
        assert noise.std() == pytest.approx(sd, rel=0.03)


def test_blur_is_monais_erf_gaussian_on_a_mirrored_image_and_removes_high_frequencies():
    images = smooth_images(n=2)
    rng = np.random.default_rng(5)
    images[1] = rng.integers(0, 256, (SIDE, SIDE), dtype=np.uint8)  # white noise: all frequencies
    high = np.hypot(*np.meshgrid(np.fft.fftfreq(SIDE), np.fft.fftfreq(SIDE))) > 0.25

    def high_energy(image: np.ndarray) -> float:
        spectrum = np.abs(np.fft.fft2(image.astype(float) - image.mean())) ** 2
        return float(spectrum[high].sum() / spectrum.sum())

    energies = [high_energy(images[1])]
    for severity, fraction in enumerate(DOCUMENTED["blur"], start=1):
        sigma = fraction * SIDE
        tail = int(max(sigma * 4.0, 0.5) + 0.5)  # the kernel MONAI's GaussianSmooth uses (erf of pixel edges)
        x = np.arange(-tail, tail + 1)
        kernel = 0.5 * (erf((x + 0.5) / (math.sqrt(2) * sigma)) - erf((x - 0.5) / (math.sqrt(2) * sigma)))
        out = corrupt(images, "blur", severity)
        for i in range(2):
            expected = images[i].astype(float) / 255
            for axis in (0, 1):
                expected = ndimage.convolve1d(expected, kernel, axis=axis, mode="mirror")
            assert np.abs(out[i].astype(float) - np.round(expected * 255)).max() <= 1
        energies.append(high_energy(out[1]))
    assert all(b < a for a, b in itertools.pairwise(energies)), energies
    assert energies[-1] < 0.05 * energies[0]  # what is left is mostly the uint8 rounding


def test_contrast_scales_about_each_images_mean():
    images = smooth_images()
    for severity, c in enumerate(DOCUMENTED["contrast"], start=1):
        out = corrupt(images, "contrast", severity)
        for image, got in zip(images, out, strict=True):
            x = image.astype(float) / 255
            expected = np.round(np.clip(x.mean() + c * (x - x.mean()), 0, 1) * 255)
            assert np.abs(got - expected).max() <= 1
            assert got.astype(float).std() == pytest.approx(c * image.astype(float).std(), rel=0.02)


def test_gamma_maps_each_images_range_by_the_power():
    images = smooth_images()
    for severity, g in enumerate(DOCUMENTED["gamma"], start=1):
        out = corrupt(images, "gamma", severity)
        for image, got in zip(images, out, strict=True):
            x = image.astype(float) / 255
            low, span = x.min(), x.max() - x.min()
            expected = np.round((low + span * ((x - low) / span) ** g) * 255)
            assert np.abs(got - expected).max() <= 1
            assert got.min() == image.min() and got.max() == image.max()  # the range is kept, mid-tones darken
            assert got.astype(float).mean() < image.astype(float).mean()


def test_jpeg_is_pillows_encode_decode_at_the_quality_set():
    images = smooth_images()
    for severity, quality in enumerate(DOCUMENTED["jpeg"], start=1):
        out = corrupt(images, "jpeg", severity)
        for image, got in zip(images, out, strict=True):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, "JPEG", quality=quality)
            assert np.array_equal(got, np.asarray(Image.open(io.BytesIO(buffer.getvalue()))))


def test_downsample_keeps_side_over_factor_pixels_of_detail():
    assert corruptions.downsampled_size((1, 64, 64), 1.5) == (43, 43)
    assert corruptions.downsampled_size((1, 224, 224), 6) == (37, 37)
    # pixel-wide stripes (Nyquist) average away completely at factor 2; stripes 8 px wide survive factor 4
    fine = np.tile(np.array([0, 255], dtype=np.uint8), (1, SIDE, SIDE // 2))
    assert set(np.unique(corrupt(fine, "downsample", 2))) <= {127, 128}
    coarse = np.tile(np.repeat(np.array([0, 255], dtype=np.uint8), 8), (1, SIDE, SIDE // 16))
    assert np.ptp(corrupt(coarse, "downsample", 4)[0, :, 8:-8]) > 200
    # factor 4: the 16 x 16 block means (numpy), brought back up bilinearly (torch, half-pixel centres)
    images = smooth_images()
    blocks = images.astype(float).reshape(3, 16, 4, 16, 4).mean(axis=(2, 4)) / 255
    up = torch.nn.functional.interpolate(torch.tensor(blocks)[:, None], size=(SIDE, SIDE), mode="bilinear")
    expected = np.round(up[:, 0].numpy() * 255)
    assert np.abs(corrupt(images, "downsample", 4).astype(float) - expected).max() <= 1


def principal_angle(image: np.ndarray) -> float:
    """Orientation (degrees, counter-clockwise as seen with row 0 at the top) of the bright pixels' main axis."""
    rows, cols = np.nonzero(image > 128)
    weights = image[rows, cols].astype(float)
    x, y = cols - np.average(cols, weights=weights), -(rows - np.average(rows, weights=weights))
    cov = np.cov(np.stack([x, y]), aweights=weights)
    values, vectors = np.linalg.eigh(cov)
    vx, vy = vectors[:, np.argmax(values)]
    angle = math.degrees(math.atan2(vy, vx))
    return (angle + 90) % 180 - 90


def test_rotation_turns_by_the_angle_set_with_a_seeded_sign():
    bar = np.zeros((1, SIDE, SIDE), dtype=np.uint8)
    bar[0, SIDE // 2 - 1 : SIDE // 2 + 1, 8:-8] = 255  # a horizontal bar through the centre
    bars = np.repeat(bar, 16, axis=0)
    assert abs(principal_angle(bar[0])) < 0.1
    for severity, degrees in enumerate(DOCUMENTED["rotation"], start=1):
        out = corrupt(bars, "rotation", severity, seed=0)
        angles = [principal_angle(image) for image in out]
        assert all(abs(abs(a) - degrees) < 0.6 for a in angles), angles
        assert {np.sign(a) for a in angles} == {-1.0, 1.0}  # both directions occur over 16 images
        signs = corruptions.rotation_signs([corruptions.image_rng(0, "rotation", severity, i) for i in range(16)])
        # the drawn sign decides the direction, the same one for every image drawn +1
        assert len({np.sign(a) * s for a, s in zip(angles, signs, strict=True)}) == 1


@pytest.mark.parametrize("name", ["gaussian_noise", "rotation"])
def test_random_corruptions_are_seeded(name):
    images = smooth_images(n=6)
    first = corrupt(images, name, 3, seed=11)
    assert np.array_equal(first, corrupt(images, name, 3, seed=11))
    assert not np.array_equal(first, corrupt(images, name, 3, seed=12))
    # an image's corruption depends on its index, not on the other images of the call
    assert np.array_equal(corrupt(images[:2], name, 3, seed=11), first[:2])


@pytest.mark.parametrize("name", [n for n, c in CORRUPTIONS.items() if not c.random])
def test_deterministic_corruptions_ignore_the_seed(name):
    images = smooth_images()
    assert np.array_equal(corrupt(images, name, 4, seed=0), corrupt(images, name, 4, seed=99))


def test_chunking_does_not_change_the_result(monkeypatch):
    images = smooth_images(n=7)
    whole = {name: corrupt(images, name, 2, seed=4) for name in CORRUPTIONS}
    monkeypatch.setattr(corruptions, "CHUNK", 3)
    for name in CORRUPTIONS:
        assert np.array_equal(corrupt(images, name, 2, seed=4), whole[name]), name


def test_bad_names_and_severities_are_typed_errors():
    with pytest.raises(CorruptionError, match=r"unknown or no corruption\(s\) \['snow'\]; choose from"):
        check_corruptions(["blur", "snow"], [1])
    with pytest.raises(ConfigError, match=r"severity \[0, 6\] is not one of \[1, 2, 3, 4, 5\]"):
        check_corruptions(["blur"], [0, 1, 6])
    with pytest.raises(CorruptionError, match="unknown corruption 'snow'"):
        corrupt(smooth_images(), "snow", 1)
    with pytest.raises(CorruptionError, match="severity 7"):
        corrupt(smooth_images(), "blur", 7)
