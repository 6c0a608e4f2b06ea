"""Baselines of seed reports 001 (matthews_cnn, matthews_cnn_ae), 003 (custom_cnn) and 004 (unet_residual, vgg16):
parameter counts against the reports, recipes, the autoencoder pre-training, and one covid3 step on real images."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from benchmark.data.prepared import PreparedSplit
from benchmark.models.freeze import classifier
from benchmark.models.registry import MODELS, ModelInputs
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.training.optim import scheduled_lr
from benchmark.training.runner import RunRequest, run_benchmark
from tests.models.checks import check_size

NAMES = ["matthews_cnn", "matthews_cnn_ae", "custom_cnn", "unet_residual", "vgg16"]
NIH14_OUTPUTS = 15


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_forward(model: torch.nn.Module, in_chans: int, size: int, outputs: int) -> None:
    """A batch of 2 at ``size``: the recipe's where the architecture depends on it (a dense layer on the
    flattened features), else the capped check size (the generic test_models also runs backward)."""
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, in_chans, size, size))
    assert out.shape == (2, outputs) and torch.isfinite(out).all()


def test_matthews_cnn_has_report_001s_16887491_parameters():
    for name in ("matthews_cnn", "matthews_cnn_ae"):
        spec = MODELS.get(name)
        assert (spec.recipe.image_size, spec.recipe.in_chans) == (256, 3)
        model = spec.build(ModelInputs(3, 3, 256))
        assert n_parameters(model) == 16_887_491  # report 001's Keras summary: "Total params: 16,887,491"
        convs = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        dense = [m.out_features for m in model.head.modules() if isinstance(m, torch.nn.Linear)]
        dropouts = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
        assert convs == [32, 64, 128] and dense == [128, 128, 3] and dropouts == [0.3, 0.3]
        assert classifier(model) is model.head
        _check_forward(model, 3, 256, 3)


def test_matthews_recipes_follow_report_001():
    plain, ae = MODELS.get("matthews_cnn").recipe, MODELS.get("matthews_cnn_ae").recipe
    for recipe in (plain, ae):
        assert (recipe.batch_size, recipe.epochs, recipe.optimizer, recipe.in_chans) == (16, 10, "adam", 3)
        assert recipe.normalize_mean == (0.0,) and recipe.normalize_std == (1.0,)  # rescale=1/255
    assert plain.class_weights and not ae.class_weights  # weights came with the second model
    assert MODELS.get("matthews_cnn_ae").pretrain is not None and MODELS.get("matthews_cnn").pretrain is None


def _random_split(n: int = 4, size: int = 16) -> PreparedSplit:
    images = np.random.default_rng(0).integers(0, 256, size=(n, size, size), dtype=np.uint8)
    return PreparedSplit(
        image_ids=[str(i) for i in range(n)],
        patient_ids=[str(i) for i in range(n)],
        images=images,
        rows=np.arange(n, dtype=np.int64),
        targets=torch.eye(3)[torch.arange(n) % 3],
    )


def _pretrained_encoder(seed: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The encoder's weights before and after pre-training (the same initial model every call)."""
    spec = MODELS.get("matthews_cnn_ae")
    recipe = spec.recipe.with_overrides({"batch_size": 4})
    torch.manual_seed(0)
    model = spec.build(ModelInputs(3, recipe.in_chans, 16))
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    torch.manual_seed(5)
    expected_draw = torch.rand(3)
    torch.manual_seed(5)
    spec.pretrain(model, _random_split(), recipe, torch.device("cpu"), seed)
    assert torch.equal(torch.rand(3), expected_draw)  # the global RNG is left alone
    assert all(torch.equal(v, model.head.state_dict()[k]) for k, v in head_before.items())  # head untouched
    return before, model.features.state_dict()


def test_autoencoder_pretraining_changes_the_encoder_and_is_deterministic_for_a_seed():
    before, after = _pretrained_encoder(seed=0)
    assert all(not torch.equal(before[k], after[k]) for k in before)
    _, again = _pretrained_encoder(seed=0)
    assert all(torch.equal(after[k], again[k]) for k in after)
    _, other_seed = _pretrained_encoder(seed=1)
    assert any(not torch.equal(after[k], other_seed[k]) for k in after)


def test_custom_cnn_is_report_003s_small_from_scratch_cnn():
    spec = MODELS.get("custom_cnn")
    recipe = spec.recipe
    assert (recipe.image_size, recipe.batch_size, recipe.lr, recipe.optimizer) == (256, 16, 1e-4, "adam")
    assert (recipe.aug_rotation, recipe.aug_hflip, recipe.schedule) == (10.0, True, "plateau")
    assert recipe.early_stopping_patience is not None and recipe.loss == "auto"
    model = spec.build(ModelInputs(3, recipe.in_chans, 256))
    # 3x3 convs 3->32->64->128->256 with biases, then dense 256->3
    expected = sum(9 * a * b + b for a, b in [(3, 32), (32, 64), (64, 128), (128, 256)]) + 256 * 3 + 3
    assert n_parameters(model) == expected == 389_187
    dropouts = [m.p for m in model.head.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.3]
    _check_forward(model, 3, check_size("custom_cnn", 256), 3)  # pooled features: any size, the same model


def test_unet_residual_is_a_residual_unet_with_a_pooled_dense_head():
    from monai.networks.blocks import ResidualUnit  # here, not at collection

    spec = MODELS.get("unet_residual")
    model = spec.build(ModelInputs(NIH14_OUTPUTS, spec.recipe.in_chans, spec.recipe.image_size))
    assert isinstance(model.head[-1], torch.nn.Linear) and model.head[-1].out_features == NIH14_OUTPUTS
    assert classifier(model) is model.head
    assert sum(isinstance(m, ResidualUnit) for m in model.modules()) == 9  # 4 down, bottom, 4 up
    widths = {m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)}
    assert {64, 128, 256, 512, 1024} <= widths
    assert n_parameters(model) == 26_089_024 + 64 * NIH14_OUTPUTS + NIH14_OUTPUTS
    _check_forward(model, 1, check_size("unet_residual", 224), NIH14_OUTPUTS)
    _check_forward(model, 1, 28, NIH14_OUTPUTS)  # a side that is no multiple of 16 is padded inside


def test_report_004_recipe_reproduces_table_1s_learning_rates():
    table_1 = [2.00e-06, 1.425e-05, 2.65e-05, 3.875e-05, 5.10e-05, 6.325e-05, 7.55e-05, 8.775e-05, 0.0001]
    table_1 += [8.00e-05, 6.40e-05, 5.12e-05, 4.096e-05, 3.2768e-05, 2.62144e-05, 2.097152e-05, 1.677721e-05]
    for name in ("unet_residual", "vgg16"):
        recipe = MODELS.get(name).recipe
        for epoch, lr in enumerate(table_1):
            assert scheduled_lr(recipe, epoch) == pytest.approx(lr, rel=1e-6)
        assert recipe.normalization == "samplewise" and recipe.in_chans == 1
        augmentation = (recipe.aug_rotation, recipe.aug_shift_x, recipe.aug_shift_y, recipe.aug_zoom)
        assert augmentation == (3.0, 0.1, 0.05, 0.15) and recipe.aug_hflip and recipe.aug_fill == "reflection"
        assert recipe.epochs == 100


def test_vgg16_has_the_standard_vgg16_parameter_count():
    spec = MODELS.get("vgg16")
    model = spec.build(ModelInputs(NIH14_OUTPUTS, spec.recipe.in_chans, spec.recipe.image_size))
    # VGG-16's well-known 138,357,544 (3 channels, 1000 classes), less 2 input channels of the first
    # conv (2 * 64 * 9) and with a 4096 -> 15 classifier instead of 4096 -> 1000
    assert n_parameters(model) == 138_357_544 - 2 * 64 * 9 - (4096 * 1000 + 1000) + (4096 * 15 + 15)
    assert model.get_classifier().out_features == NIH14_OUTPUTS
    _check_forward(model, 1, check_size("vgg16", 224), NIH14_OUTPUTS)


# At 224-256 px the models spend seconds to over a minute of CPU on the run's 164 evaluation passes
# (validation twice, test once); the pipeline, and all that is asserted, is the same at 64 px.
SMOKE_SIZE = 64


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_one_covid3_step_on_real_images(name, shared_data, tmp_path, caplog):
    from baselines.matthews_cnn import AE_EPOCHS  # here: importing one baseline imports them all

    overrides = {"epochs": 1, "steps_per_epoch": 1, "batch_size": 2, "eval_batch_size": 16, "image_size": SMOKE_SIZE}
    with caplog.at_level(logging.INFO, logger="baselines.matthews_cnn"):
        run = run_benchmark(
            RunRequest(
                task="covid3", model=name, data_root=str(shared_data), results=tmp_path / name, overrides=overrides
            )
        )
    pretrained = [r for r in caplog.records if r.getMessage().startswith("denoising autoencoder epoch")]
    assert len(pretrained) == (AE_EPOCHS if name == "matthews_cnn_ae" else 0)  # the runner ran the pretrain hook
    record = RunRecord.load(run / RECORD_FILE)
    assert record.n_test == 66 and record.model.name == name
    assert math.isfinite(record.metrics["auroc"].value)
    assert len(record.training.history) == 1
