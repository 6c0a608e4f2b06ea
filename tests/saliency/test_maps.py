"""Saliency methods on models whose evidence is known: a small CNN trained to detect a bright blob
at a random position must point at the blob far above the chance rate (box area / image area)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models.registry import MODELS, ModelInputs
from benchmark.saliency.maps import (
    ClassLogits,
    OcclusionSettings,
    SaliencyEngine,
    compute_maps,
    find_target_layer,
    log_probabilities,
)
from benchmark.saliency.scoring import score_map, summarise

SIDE, RADIUS = 32, 3


def blob_images(n: int, rng: np.random.Generator, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1, SIDE, SIDE) noise in [0, 0.24]; positive images get a disc (+0.6) of RADIUS at a random centre."""
    images = rng.uniform(0, 60, size=(n, SIDE, SIDE)).astype(np.float32)
    centres = rng.integers(RADIUS + 2, SIDE - RADIUS - 2, size=(n, 2))
    rows, cols = np.mgrid[:SIDE, :SIDE]
    for image, (r, c), present in zip(images, centres, positive, strict=True):
        if present:
            image[(rows - r) ** 2 + (cols - c) ** 2 <= RADIUS**2] += 150
    return images[:, None] / 255.0, centres


def blob_box(centre: np.ndarray) -> tuple[float, float, float, float]:
    """The square of side 2 * RADIUS + 1 pixels covering the disc."""
    r, c = centre
    return (c - RADIUS, r - RADIUS, c + RADIUS + 1.0, r + RADIUS + 1.0)


def tiny_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 2),
    )


@pytest.fixture(scope="module")
def blob_detector() -> nn.Module:
    """tiny_cnn trained (seeded) to tell images with a blob (class 1) from images without (class 0)."""
    rng = np.random.default_rng(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = tiny_cnn()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(80):
        positive = rng.random(32) < 0.5
        images, _ = blob_images(32, rng, positive)
        loss = nn.functional.cross_entropy(net(torch.from_numpy(images)), torch.from_numpy(positive.astype(np.int64)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def test_blob_detector_points_at_the_blob_far_above_chance(blob_detector):
    rng = np.random.default_rng(1)
    images, centres = blob_images(24, rng, np.ones(24, dtype=bool))
    x = torch.from_numpy(images)
    with torch.no_grad():
        assert (blob_detector(x).argmax(1) == 1).float().mean() > 0.9  # it does detect blobs
    target = find_target_layer(blob_detector, None, x[:1])
    assert target == "5"  # the last Conv2d, whose 16 x 16 map the global pooling reads
    log_softmax = log_probabilities(cross_entropy=True)
    engine = SaliencyEngine(ClassLogits(blob_detector), f"net.{target}", log_softmax, OcclusionSettings())
    trials = []
    for image, centre in zip(x, centres, strict=True):
        maps = compute_maps(engine, image[None], [1], ("gradcam", "gradcam++", "occlusion"))
        for (_, method), (saliency, _) in maps.items():
            assert saliency.shape == (SIDE, SIDE) and saliency.min() >= 0 and saliency.max() == pytest.approx(1.0)
            trials.append({"method": method, "finding": "blob", **score_map(saliency, [blob_box(centre)])})
    summary = summarise(pd.DataFrame(trials)).set_index(["method", "finding"])
    chance = (2 * RADIUS + 1) ** 2 / SIDE**2  # 49 / 1024 = 0.048
    for method in ("gradcam", "gradcam++", "occlusion"):
        row = summary.loc[(method, "blob")]
        assert row["chance"] == pytest.approx(chance)
        assert row["hit_rate"] >= 0.9, (method, row.to_dict())
        assert row["ci_low"] > 10 * chance, (method, row.to_dict())


def test_maps_are_evidence_for_the_class_asked_for(blob_detector):
    """Class 0 ("no blob") has no positive Grad-CAM evidence at the blob, so its map does not point there."""
    rng = np.random.default_rng(2)
    images, centres = blob_images(8, rng, np.ones(8, dtype=bool))
    engine = SaliencyEngine(ClassLogits(blob_detector), "net.5", log_probabilities(cross_entropy=True))
    hits = [
        score_map(engine.cam(torch.from_numpy(image[None]), 0, "gradcam")[0], [blob_box(centre)])["hit"]
        for image, centre in zip(images, centres, strict=True)
    ]
    assert sum(hits) <= 2


def test_occlusion_compares_log_probabilities_which_do_not_saturate():
    """A confident model's probability is exactly 1.0 in float32 at logit margins 25 and 40 alike, so a
    patch that lowers the margin from 40 to 25 would show no probability drop; its log-probability drops."""
    logits = torch.tensor([[0.0, 40.0], [0.0, 25.0]])
    assert (logits.softmax(1)[:, 1] == 1.0).all()
    log_p = log_probabilities(cross_entropy=True)(logits)[:, 1]
    assert log_p[0] - log_p[1] == pytest.approx(np.exp(-25.0) - np.exp(-40.0), rel=1e-3)
    # elsewhere it is the log-softmax, here checked against torch's in float64
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)) * 10
    expected = torch.log_softmax(z.double(), dim=1).numpy()
    np.testing.assert_allclose(log_probabilities(cross_entropy=True)(z).numpy(), expected, rtol=1e-5, atol=1e-5)
    log_sigmoid = log_probabilities(cross_entropy=False)(torch.tensor([[40.0, 25.0]]))[0]
    assert (torch.sigmoid(torch.tensor([40.0, 25.0])) == 1.0).all()
    assert log_sigmoid[0] - log_sigmoid[1] == pytest.approx(np.exp(-25.0) - np.exp(-40.0), rel=1e-3)


def test_single_logit_binary_model_gets_both_classes():
    net = nn.Linear(3, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 2.0, 0.0]]))
        net.bias.zero_()
    out = ClassLogits(net, single_binary_logit=True)(torch.tensor([[1.0, 1.0, 5.0]]))
    np.testing.assert_allclose(out.detach().numpy(), [[-3.0, 3.0]])
    p = 1 / (1 + np.exp(-3.0))
    np.testing.assert_allclose(torch.sigmoid(out).detach().numpy(), [[1 - p, p]], rtol=1e-6)


def test_target_layer_rule_and_the_models_cam_layer():
    # a trailing conv on a 1 x 1 map (a VGG-style "fc" conv) is not a feature map
    trailing = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 2, 1), nn.Flatten())
    assert find_target_layer(trailing, None, torch.zeros(1, 1, 16, 16)) == "0"
    lotko = MODELS.get("lotko_cnn").factory(ModelInputs(3, 1, 64))
    assert find_target_layer(lotko, None, torch.zeros(1, 1, 64, 64)) == "features.2.0"
    spec = MODELS.get("resnet18")
    resnet = spec.factory(ModelInputs(2, 1, 32))
    assert find_target_layer(resnet, spec.cam_layer, torch.zeros(1, 1, 32, 32)) == "layer4"  # block output, not conv
    with pytest.raises(ConfigError, match=r"no submodule 'layer5', given as its cam_layer"):
        find_target_layer(resnet, "layer5", torch.zeros(1, 1, 32, 32))
    with pytest.raises(ConfigError, match=r"no Conv2d with a spatial output.*cam_layer"):
        find_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), None, torch.zeros(1, 1, 2, 2))


def test_unknown_method_is_named():
    engine = SaliencyEngine(ClassLogits(tiny_cnn()), "net.5", log_probabilities(cross_entropy=True))
    with pytest.raises(ConfigError, match=r"unknown saliency method\(s\) \['lime'\]"):
        compute_maps(engine, torch.zeros(1, 1, SIDE, SIDE), [0], ["gradcam", "lime"])
