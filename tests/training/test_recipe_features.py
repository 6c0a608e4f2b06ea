"""Recipe options in the shared training code: focal loss, schedules, stages, augmentation, weights."""

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.data.prepared import PreparedSplit
from benchmark.errors import ConfigError
from benchmark.models.freeze import apply_stage
from benchmark.models.io import normalise
from benchmark.models.pretrained import load_pretrained
from benchmark.recipe import Recipe
from benchmark.training.augment import build_augmenter
from benchmark.training.loop import FitOptions, fit
from benchmark.training.losses import TaskLoss
from benchmark.training.optim import scheduled_lr

CPU = torch.device("cpu")


def test_focal_loss_multiclass_matches_the_definition():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-2.0, 3.0, 0.0]])
    targets = torch.eye(3)[[0, 2, 1]]
    loss = TaskLoss(Recipe(loss="focal", focal_gamma=2.0), "multiclass", targets, CPU)(logits, targets)
    p = torch.softmax(logits, 1)[torch.arange(3), torch.tensor([0, 2, 1])]
    expected = float((-((1 - p) ** 2) * torch.log(p)).mean())
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    plain = TaskLoss(Recipe(loss="focal", focal_gamma=0.0), "multiclass", targets, CPU)(logits, targets)
    assert float(plain) == pytest.approx(float(nn.functional.cross_entropy(logits, torch.tensor([0, 2, 1]))))


def test_focal_loss_multilabel_matches_the_definition_and_masks_nan():
    logits = torch.tensor([[1.0, -0.5], [0.3, 2.0]])
    targets = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    loss = TaskLoss(Recipe(loss="focal", focal_gamma=2.0), "multilabel", targets, CPU)(logits, targets)
    terms = []
    for x, y in ((1.0, 1.0), (0.3, 0.0), (2.0, 1.0)):
        p = 1 / (1 + math.exp(-x))
        pt = p if y == 1 else 1 - p
        terms.append(-((1 - pt) ** 2) * math.log(pt))
    assert float(loss) == pytest.approx(np.mean(terms), rel=1e-6)


def test_rampup_exponential_schedule_by_hand():
    recipe = Recipe(
        schedule="rampup_exp", lr_start=1e-5, lr_max=5e-5, lr_min=1e-6, rampup_epochs=4, sustain_epochs=2, exp_decay=0.5
    )
    expected = [1e-5, 2e-5, 3e-5, 4e-5, 5e-5, 5e-5, 5e-5, 1e-6 + 4.9e-5 * 0.5, 1e-6 + 4.9e-5 * 0.25]
    assert [scheduled_lr(recipe, e) for e in range(9)] == pytest.approx(expected)


def test_finetune_stage_lr_decays_from_finetune_lr_to_its_minimum():
    recipe = Recipe(epochs=10, frozen_epochs=4, finetune_lr=1e-5, finetune_lr_min=3e-6)
    assert scheduled_lr(recipe, 3) is None
    rates = [scheduled_lr(recipe, e) for e in range(4, 10)]
    assert rates[0] == pytest.approx(1e-5) and rates[-1] == pytest.approx(3e-6)
    assert all(a > b for a, b in itertools.pairwise(rates))


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))

    def forward(self, x):
        return self.head(self.features(x))


def test_stages_freeze_then_unfreeze_the_upper_part(tmp_path):
    model = _Net()
    recipe = Recipe(frozen_epochs=1, unfreeze_fraction=0.5, in_chans=1, epochs=2, batch_size=4, lr=0.1)
    apply_stage(model, recipe, 0)
    assert not any(p.requires_grad for p in model.features.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    apply_stage(model, recipe, 1)
    flags = [p.requires_grad for p in model.features.parameters()]
    assert flags == [False, False, False, True, True, True]  # the last half: BN bias and the upper conv

    model = _Net()
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    rng = np.random.default_rng(0)
    split = PreparedSplit(
        [str(i) for i in range(8)],
        [str(i) for i in range(8)],
        rng.integers(0, 255, (8, 12, 12), dtype=np.uint8),
        np.arange(8),
        torch.eye(3)[rng.integers(0, 3, 8)],
    )
    fit(
        model,
        Recipe(frozen_epochs=-1, in_chans=1, epochs=2, batch_size=4, lr=0.1),
        "multiclass",
        split,
        split,
        FitOptions(tmp_path / "c.pt", seed=0),
    )
    after = model.features.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics untouched


def test_augmentation_is_per_image_deterministic_and_keeps_shape():
    recipe = Recipe(
        aug_rotation=10,
        aug_hflip=True,
        aug_zoom=0.1,
        aug_shift_x=0.1,
        aug_shift_y=0.05,
        aug_fill="reflection",
        aug_brightness=0.1,
        aug_contrast=0.1,
    )
    augment = build_augmenter(recipe)
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (4, 1, 32, 32), dtype=np.uint8))
    a, b, c = augment(images, 1), augment(images, 1), augment(images, 2)
    assert a.shape == images.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 255
    assert build_augmenter(Recipe()) is None


def test_samplewise_normalisation_centres_each_image():
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 255, (3, 1, 8, 8), dtype=np.uint8))
    x = normalise(images, Recipe(normalization="samplewise", in_chans=3), CPU)
    assert x.shape == (3, 3, 8, 8)
    assert torch.allclose(x.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(x.std(dim=(1, 2, 3)), torch.ones(3), atol=1e-3)


def test_weights_that_do_not_fit_name_the_layers(tmp_path):
    source = _Net()
    torch.save(source.state_dict(), tmp_path / "ok.pth")
    target = _Net()
    target.head[2] = nn.Linear(4, 2)  # another task's classifier: allowed, kept fresh
    load_pretrained(target, tmp_path / "ok.pth")
    assert torch.equal(target.features[0].weight, source.features[0].weight)
    wrong = source.state_dict()
    wrong["features.3.weight"] = torch.zeros(8, 4, 3, 3)
    del wrong["features.1.running_mean"]
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(
        ConfigError,
        match=r"(?s)features\.3\.weight: model \(4, 4, 3, 3\) vs file \(8, 4, 3, 3\).*"
        r"missing from the file: features\.1\.running_mean",
    ):
        load_pretrained(_Net(), tmp_path / "wrong.pth")
    from safetensors.torch import save_file

    save_file(source.state_dict(), str(tmp_path / "ok.safetensors"))
    fresh = _Net()
    load_pretrained(fresh, tmp_path / "ok.safetensors")
    assert torch.equal(fresh.head[2].weight, source.head[2].weight)
