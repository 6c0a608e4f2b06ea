"""The ImageNet-transfer baselines of seed reports 002 and 003: efficientnet_b0, densenet121, resnet50, inception_v3."""

from __future__ import annotations

import pytest
import torch

from benchmark.models.freeze import apply_stage, classifier
from benchmark.models.registry import MODELS, ModelInputs
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.training.runner import RunRequest, run_benchmark
from tests.models.checks import check_size

NAMES = ["efficientnet_b0", "densenet121", "resnet50", "inception_v3"]

# Independent numbers: torchvision's published parameter counts of its ImageNet models (efficientnet_b0
# 5,288,548; densenet121 7,978,856; resnet50 25,557,032; inception_v3 27,161,264 of which 3,326,696 are the
# auxiliary classifier), less their 1000-class output layer, are the backbones' counts.
BACKBONE_PARAMETERS = {
    "efficientnet_b0": 5_288_548 - (1280 * 1000 + 1000),
    "densenet121": 7_978_856 - (1024 * 1000 + 1000),
    "resnet50": 25_557_032 - (2048 * 1000 + 1000),
    "inception_v3": 27_161_264 - 3_326_696 - (2048 * 1000 + 1000),
}
FEATURES = {"efficientnet_b0": 1280, "densenet121": 1024, "resnet50": 2048, "inception_v3": 2048}


def head_parameters(name: str, k: int) -> int:
    width = FEATURES[name]
    if name == "efficientnet_b0":  # batch norm, dense 256, output
        return 2 * width + (width * 256 + 256) + (256 * k + k)
    return width * k + k  # dropout, output


@pytest.fixture(scope="module")
def built() -> dict[str, torch.nn.Module]:
    """Each model at its recipe size with three outputs (chexpert3's labels), built once."""
    torch.manual_seed(0)
    return {name: MODELS.get(name).build(ModelInputs(3, 3, MODELS.get(name).recipe.image_size)) for name in NAMES}


def names_trainable(model: torch.nn.Module) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_parameter_counts(built, name):
    """Counts of the model built at its recipe size; the forward pass at the check size (tests.models.checks)."""
    model, recipe = built[name], MODELS.get(name).recipe
    backbone = sum(p.numel() for p in model.backbone.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    assert backbone == BACKBONE_PARAMETERS[name]
    assert head == head_parameters(name, 3)
    assert sum(p.numel() for p in model.parameters()) == backbone + head
    model.eval()
    with torch.no_grad():
        size = check_size(name, recipe.image_size)
        logits = model(torch.randn(2, 3, size, size))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", NAMES)
def test_backbone_takes_timm_imagenet_weights(built, name):
    """The backbone is timm's model without classifier: an ImageNet state dict fits all of it."""
    import timm  # here, not at collection

    with torch.device("meta"):
        reference = timm.create_model(name, pretrained=False).state_dict()
    own = {k: v.shape for k, v in built[name].backbone.state_dict().items()}
    assert own == {k: v.shape for k, v in reference.items() if k in own}
    assert set(reference) - set(own) <= {"classifier.weight", "classifier.bias", "fc.weight", "fc.bias"}


def test_timm_imagenet_weights_load_into_the_backbone(tmp_path):
    import timm

    torch.manual_seed(1)
    imagenet = timm.create_model("efficientnet_b0", pretrained=False)  # 1000 classes, as a downloaded file
    path = tmp_path / "efficientnet_b0.pth"
    torch.save(imagenet.state_dict(), path)
    spec = MODELS.get("efficientnet_b0")
    model = spec.build(ModelInputs(2, 3, 224), spec.recipe.with_overrides({"pretrained_weights": str(path)}))
    reference = imagenet.state_dict()
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, reference[key]), key
    assert model.head[-1].out_features == 2


def test_efficientnet_head_is_a_separate_module_and_the_rest_is_backbone(built):
    model = built["efficientnet_b0"]
    head = model.head
    layers = [type(m).__name__ for m in head]
    assert layers == ["BatchNorm1d", "Linear", "ReLU", "Dropout", "Linear"]
    assert head[1].out_features == 256 and head[3].p == 0.3 and head[4].out_features == 3
    assert classifier(model) is head  # what the freeze stages treat as the classifier
    head_ids = {id(p) for p in head.parameters()}
    backbone_ids = {id(p) for p in model.backbone.parameters()}
    all_ids = {id(p) for p in model.parameters()}
    assert not head_ids & backbone_ids and backbone_ids == all_ids - head_ids
    assert {n.split(".")[0] for n, _ in model.named_parameters()} == {"backbone", "head"}


def test_efficientnet_stages_unfreeze_block7_and_the_top_conv(built):
    model, recipe = built["efficientnet_b0"], MODELS.get("efficientnet_b0").recipe
    assert (recipe.frozen_epochs, recipe.lr, recipe.finetune_lr, recipe.finetune_lr_min) == (10, 1e-4, 1e-5, 3e-6)
    try:
        apply_stage(model, recipe, 0)
        assert names_trainable(model) == {n for n, _ in model.named_parameters() if n.startswith("head.")}
        apply_stage(model, recipe, recipe.frozen_epochs)
        unfrozen = {n for n in names_trainable(model) if n.startswith("backbone.")}
        upper = ("backbone.blocks.6.", "backbone.conv_head.", "backbone.bn2.")
        assert unfrozen == {n for n, _ in model.named_parameters() if n.startswith(upper)}
        assert len(unfrozen) == 16 and len(list(model.backbone.parameters())) == 211
    finally:
        model.requires_grad_(True)


def test_densenet121_is_report_003s_final_model(built):
    model, recipe = built["densenet121"], MODELS.get("densenet121").recipe
    assert [type(m).__name__ for m in model.head] == ["Dropout", "Linear"] and model.head[0].p == 0.3
    assert (recipe.loss, recipe.focal_gamma, recipe.image_size, recipe.batch_size, recipe.lr) == (
        "focal",
        2.0,
        256,
        16,
        1e-4,
    )
    assert (recipe.aug_rotation, recipe.aug_hflip) == (10.0, True) and recipe.aug_brightness and recipe.aug_contrast
    try:
        for epoch in (0, recipe.epochs - 1):  # frozen_epochs -1: the backbone never trains
            apply_stage(model, recipe, epoch)
            assert names_trainable(model) == {"head.1.weight", "head.1.bias"}
    finally:
        model.requires_grad_(True)


@pytest.mark.parametrize("name", ["resnet50", "inception_v3"])
def test_comparison_models_train_whole(built, name):
    model, recipe = built[name], MODELS.get(name).recipe
    apply_stage(model, recipe, 0)
    assert all(p.requires_grad for p in model.parameters())
    assert model.head[0].p == 0.3 and recipe.loss == "auto" and recipe.batch_size == 16
    assert recipe.image_size == (299 if name == "inception_v3" else 256)


RECIPE_SIZE_RUN = "efficientnet_b0"  # one model runs the real images at its recipe size end to end


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_one_step_of_covid3_on_the_real_images(name, shared_data, tmp_path):
    """Real images through the whole run. One model at its recipe size; the others at the check size,
    since scoring 164 validation and test images at 256-299 px costs 10-20 s of CPU each and shows
    nothing the forward checks and the recipe-size run do not."""
    recipe_size = MODELS.get(name).recipe.image_size
    size = recipe_size if name == RECIPE_SIZE_RUN else check_size(name, recipe_size)
    overrides = {"epochs": 1, "steps_per_epoch": 1, "batch_size": 2, "eval_batch_size": 16, "image_size": size}
    run = run_benchmark(
        RunRequest(task="covid3", model=name, data_root=str(shared_data), results=tmp_path / name, overrides=overrides)
    )
    record = RunRecord.load(run / RECORD_FILE)
    assert record.n_test == 66
    assert record.model.name == name
    assert record.model.input.image_size == size
    assert record.model.parameters == BACKBONE_PARAMETERS[name] + head_parameters(name, 3)
    assert 0.0 <= record.metrics["auroc"].value <= 1.0
    assert len(record.training.history) == 1
